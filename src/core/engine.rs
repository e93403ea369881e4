//! The SLA engine over the store: what one event or one due timer changes,
//! written in the caller's transaction. Pure domain decisions come from
//! `crate::domain::sla`; this module only loads their inputs and stores
//! their outputs, so the daemon decides exactly what `buhbot replay` does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::effective::{Effective, StoreSettings, overlay};
use super::event::MessageEvent;
use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::domain::classify::Classification;
use crate::domain::sla::{
    AlertKind, Change, ChatContext, ChatTracker, Closing, Inbound, OpenRequest, PlannedAlert,
    Policy, RequestStatus, SlaClock, UserId, plan_alerts, plan_alerts_from,
};
use crate::store::deliveries::{self, Channel};
use crate::store::requests::{Closure, NewRequest, RequestRow};
use crate::store::{Result, alerts, messages, requests, settings, timers};

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A stored Unix second as a time (the epoch for nonsense values).
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// What ingesting one event did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    /// The event had been processed before (nothing changed).
    pub duplicate: bool,
    pub opened: usize,
    pub answered: usize,
    /// The earliest new timer, to wake the scheduler if it is sooner.
    pub earliest_timer: Option<i64>,
}

/// What firing one timer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// The alert was recorded with this many deliveries.
    Alert {
        alert_id: i64,
        deliveries: usize,
        kind: AlertKind,
    },
    /// The request was no longer open, or the alert had fired before.
    Nothing,
}

/// An alert recorded by [`Engine::fire_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredAlert {
    pub request_id: i64,
    pub kind: AlertKind,
    pub level: i64,
    pub due_at: i64,
    pub deliveries: usize,
}

/// Configuration compiled for the engine: calendars per chat, staff.
pub struct Engine {
    /// The effective configuration: the file's, overlaid by the store's
    /// chat settings when built by [`Engine::from_config_and_store`].
    pub config: Arc<Config>,
    /// The configuration as loaded, to rebuild from when the store changes.
    base: Arc<Config>,
    default_calendar: Arc<Calendar>,
    calendars: HashMap<i64, Arc<Calendar>>,
    staff: BTreeSet<UserId>,
    bots: BTreeSet<UserId>,
    /// What [`Engine::from_config_and_store`] was built from (`None`: from
    /// the configuration alone): the store's revision, the paused chats
    /// (monitoring or SLA off: logged only) and the basic groups that
    /// became supergroups; reused by [`Engine::effective`] while the
    /// store's revision stays the same.
    effective: Option<Arc<Effective>>,
}

impl Engine {
    pub fn new(config: Arc<Config>) -> Engine {
        let default_calendar = Arc::new(Calendar::new(config.calendar.clone()));
        let calendars = config
            .chats
            .iter()
            .map(|(&id, c)| {
                let cal = if c.calendar == config.calendar {
                    default_calendar.clone()
                } else {
                    Arc::new(Calendar::new(c.calendar.clone()))
                };
                (id, cal)
            })
            .collect();
        Engine {
            base: config.clone(),
            staff: config.staff(),
            bots: config.telegram.bot_id.into_iter().collect(),
            default_calendar,
            calendars,
            config,
            effective: None,
        }
    }

    /// The configuration overlaid by the chat settings in the store (see
    /// [`super::effective`]).
    pub fn from_config_and_store(config: Arc<Config>, conn: &Connection) -> Result<Engine> {
        let eff = overlay(&config, &StoreSettings::load(conn)?);
        let mut engine = Engine::new(eff.config.clone());
        engine.staff.extend(eff.users.iter().copied());
        engine.base = config;
        engine.effective = Some(Arc::new(eff));
        Ok(engine)
    }

    /// The settings in force in the store now, for decisions that must not
    /// lag behind the daemon's reload (a manager who just ran `/sla 30`
    /// expects the next answer to say 30): this engine's own while the
    /// store's revision is the one it was built from (one primary-key
    /// read), else the configuration overlaid by the store afresh.
    pub fn effective(&self, conn: &Connection) -> Result<Arc<Effective>> {
        match &self.effective {
            Some(e) if e.revision == settings::revision(conn)? => Ok(e.clone()),
            _ => Ok(Arc::new(overlay(&self.base, &StoreSettings::load(conn)?))),
        }
    }

    /// The configuration as loaded (without the store's overlay).
    pub fn base_config(&self) -> &Arc<Config> {
        &self.base
    }

    pub fn settings_revision(&self) -> Option<i64> {
        self.effective.as_ref().map(|e| e.revision)
    }

    /// The id a chat's messages are kept under: the supergroup's for a
    /// basic group that became one.
    pub fn current_id(&self, chat: i64) -> i64 {
        // A late or repeated delivery from a basic group that became a
        // supergroup is logged (and deduplicated) where its history went.
        self.effective
            .as_ref()
            .and_then(|e| e.migrated.get(&chat).copied())
            .unwrap_or(chat)
    }

    /// Where a message is kept: `(chat, message id)` under
    /// [`Self::current_id`], the id negated for a message of a basic group
    /// that became a supergroup (as its moved history,
    /// `store::messages::move_chat`: the supergroup numbers from 1).
    pub fn current_message(&self, chat: i64, message_id: i64) -> (i64, i64) {
        let current = self.current_id(chat);
        if current == chat {
            (chat, message_id)
        } else {
            (current, -message_id)
        }
    }

    /// Whether requests are tracked in `chat` (monitoring and SLA on).
    pub fn tracks(&self, chat: i64) -> bool {
        !self
            .effective
            .as_ref()
            .is_some_and(|e| e.paused.contains(&chat))
    }

    /// The `[calendar]` of the configuration (firm-wide schedules).
    pub fn default_calendar(&self) -> &Arc<Calendar> {
        &self.default_calendar
    }

    pub fn calendar(&self, chat: i64) -> &Arc<Calendar> {
        self.calendars.get(&chat).unwrap_or(&self.default_calendar)
    }

    pub fn policy(&self, chat: i64) -> Policy {
        self.config.chat_policy(chat)
    }

    pub fn context(&self, chat: i64) -> ChatContext {
        ChatContext {
            accountants: self
                .config
                .chats
                .get(&chat)
                .map(|c| c.accountants.clone())
                .unwrap_or_default(),
            staff: self.staff.clone(),
            bots: self.bots.clone(),
        }
    }

    pub fn chat_title(&self, chat: i64) -> Option<&str> {
        self.config
            .chats
            .get(&chat)
            .and_then(|c| c.title.as_deref())
    }

    /// [`crate::domain::render::chat_label`] of a chat of this engine.
    pub fn chat_label(&self, chat: i64) -> String {
        crate::domain::render::chat_label(self.chat_title(chat), chat)
    }

    /// Dedupe → log → classify → engine, inside the caller's transaction.
    pub fn ingest(
        &self,
        conn: &Connection,
        ev: &MessageEvent,
        now: DateTime<Utc>,
    ) -> Result<Ingested> {
        let (sender_id, sender_kind) = messages::sender_columns(ev.sender);
        let (chat, message_id) = self.current_message(ev.chat_id, ev.message_id);
        let reply_to = ev.reply_to.map(|r| self.current_message(ev.chat_id, r).1);
        let logged = messages::insert(
            conn,
            &messages::LoggedMessage {
                chat_id: chat,
                message_id,
                edit_version: ev.edit_version,
                date: ts(ev.date),
                sender_id,
                sender_kind,
                sender_name: ev.sender_name.as_deref(),
                text: &ev.text,
                reply_to,
                has_media: ev.has_media,
                attachment: ev.attachment.as_ref(),
                service: ev.service,
                logged_at: ts(now),
            },
        )?;
        let mut out = Ingested {
            duplicate: !logged,
            ..Ingested::default()
        };
        // An edit is a new version in the log; the request (if any) keeps
        // the classification of the original message.
        if !logged || ev.edit_version != 0 {
            return Ok(out);
        }
        // A paused chat is logged only: its requests stay as they are.
        if !self.tracks(chat) {
            return Ok(out);
        }
        let ctx = self.context(chat);
        let mut tracker = ChatTracker::new();
        for r in requests::open_for_chat(conn, chat)? {
            tracker.restore_open(open_request(&r));
        }
        let reply_sender = match reply_to {
            Some(id) => messages::sender_of(conn, chat, id)?,
            None => None,
        };
        let inbound = Inbound {
            id: message_id,
            date: ev.date,
            sender: ev.sender,
            text: &ev.text,
            reply_to,
            service: ev.service,
        };
        let changes = tracker.on_message(&ctx, &inbound, reply_sender, &self.config.classifier);
        for change in changes {
            match change {
                Change::Opened(r) => {
                    if let Some(earliest) = self.open(conn, chat, &r, now)? {
                        out.opened += 1;
                        out.earliest_timer = Some(
                            out.earliest_timer
                                .map_or(earliest, |e: i64| e.min(earliest)),
                        );
                    }
                }
                Change::Answered {
                    request,
                    answered_at,
                    answered_by,
                    message_id,
                } => {
                    if let Some(row) = requests::by_message(conn, chat, request.message_id)? {
                        self.close(
                            conn,
                            &row,
                            Closing::Answered,
                            answered_at,
                            Some(answered_by),
                            Some(message_id),
                        )?;
                        out.answered += 1;
                    }
                }
                Change::Joined { .. } => {}
            }
        }
        Ok(out)
    }

    /// Opens a request and plans its timers; returns the earliest due.
    fn open(
        &self,
        conn: &Connection,
        chat: i64,
        r: &OpenRequest,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let policy = self.policy(chat);
        let plan = plan_alerts(self.calendar(chat), &policy, r.received_at);
        let category = r.classification.category;
        let Some(id) = requests::insert_open(
            conn,
            &NewRequest {
                chat_id: chat,
                message_id: r.message_id,
                client_id: r.client_id,
                received_at: ts(r.received_at),
                category,
                confidence: r.classification.confidence,
                threshold_minutes: i64::from(policy.threshold_minutes),
                deadline_at: breach_due(&plan),
                now: ts(now),
            },
        )?
        else {
            return Ok(None);
        };
        messages::set_category(
            conn,
            chat,
            r.message_id,
            category,
            r.classification.confidence,
        )?;
        insert_timers(conn, id, &plan, &[])?;
        Ok(plan.first().map(|a| ts(a.due)))
    }

    /// Closes an open request (answered or resolved) with its outcome.
    pub fn close(
        &self,
        conn: &Connection,
        row: &RequestRow,
        how: Closing,
        when: DateTime<Utc>,
        by: Option<UserId>,
        answer_message_id: Option<i64>,
    ) -> Result<bool> {
        // The same outcome `buhbot replay` computes, from the stored clock
        // (re-timing may have moved its anchor and deadline), judged in the
        // whole seconds the store keeps: a button pressed within the
        // deadline's second is in time.
        let closed_at = at(ts(when));
        let outcome = clock(row).outcome(self.calendar(row.chat_id), Some(closed_at), closed_at);
        let breached = outcome.breached;
        let closure = Closure {
            how,
            at: ts(when),
            by,
            answer_message_id,
            working_minutes: outcome.working_minutes(),
            breached,
            breached_at: outcome.breached_at.map(ts),
            excess_minutes: outcome.excess_minutes,
        };
        if !requests::close(conn, row.id, &closure)? {
            return Ok(false);
        }
        timers::delete_for_request(conn, row.id)?;
        alerts::resolve_for_request(conn, row.id, how.resolution(), by, ts(when))?;
        Ok(true)
    }

    /// The working seconds an open request has waited by `until`: the time
    /// used before its anchor (under earlier calendars, kept across
    /// re-timing) plus the working time since, on its chat's calendar.
    /// Alerts, reminders, `/open`, the CLI and closing all count this way.
    pub fn used_seconds(&self, row: &RequestRow, until: DateTime<Utc>) -> i64 {
        clock(row).used_by(self.calendar(row.chat_id), until)
    }

    /// Fires one due timer: records the alert and its deliveries if the
    /// request is still open, and removes the timer either way.
    pub fn fire(
        &self,
        conn: &Connection,
        t: &timers::TimerRow,
        now: DateTime<Utc>,
    ) -> Result<Fired> {
        timers::delete(conn, t)?;
        let Some(row) =
            requests::get(conn, t.request_id)?.filter(|r| r.status == RequestStatus::Open)
        else {
            return Ok(Fired::Nothing);
        };
        let Some(alert_id) = alerts::insert(conn, row.id, t.kind, t.level, t.due_at, ts(now))?
        else {
            return Ok(Fired::Nothing);
        };
        if t.kind == AlertKind::Breach {
            requests::mark_breached(conn, row.id, t.due_at)?;
        }
        let recipients = self.recipients(row.chat_id, t.kind);
        for (channel, recipient) in &recipients {
            deliveries::insert(conn, alert_id, *channel, recipient, ts(now))?;
        }
        Ok(Fired::Alert {
            alert_id,
            deliveries: recipients.len(),
            kind: t.kind,
        })
    }

    /// Fires every timer due at or before `upto`, earliest first; returns
    /// the alerts recorded.
    pub fn fire_due(
        &self,
        conn: &Connection,
        upto: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<FiredAlert>> {
        let mut out = Vec::new();
        loop {
            let due = timers::due(conn, upto, 500)?;
            for t in &due {
                if let Fired::Alert {
                    deliveries, kind, ..
                } = self.fire(conn, t, now)?
                {
                    out.push(FiredAlert {
                        request_id: t.request_id,
                        kind,
                        level: t.level,
                        due_at: t.due_at,
                        deliveries,
                    });
                }
            }
            if due.len() < 500 {
                return Ok(out);
            }
        }
    }

    /// Who gets an alert of `kind` about a request in `chat`: (channel,
    /// recipient) pairs. Warnings go to accountants, breaches to accountants
    /// and managers, escalations to managers. Never the client's chat: on
    /// Telegram, the staff's own (positive) user ids, i.e. their private
    /// chats with the bot.
    pub fn recipients(&self, chat: i64, kind: AlertKind) -> Vec<(Channel, String)> {
        let accountants = kind != AlertKind::Escalation;
        let managers = kind != AlertKind::Warning;
        let mut out = Vec::new();
        if self.config.alerts.log {
            out.push((Channel::Log, "journal".to_string()));
        }
        if self.config.alerts.telegram {
            let mut users: BTreeSet<UserId> = BTreeSet::new();
            if let Some(c) = self.config.chats.get(&chat) {
                if accountants {
                    users.extend(&c.accountants);
                }
                if managers {
                    users.extend(&c.managers);
                }
            }
            if managers {
                users.extend(&self.config.alerts.managers);
            }
            out.extend(
                users
                    .into_iter()
                    .filter(|u| *u > 0)
                    .map(|u| (Channel::Telegram, u.to_string())),
            );
        }
        if let Some(email) = &self.config.email {
            let mut addrs: BTreeSet<&String> = BTreeSet::new();
            if accountants {
                addrs.extend(&email.accountants);
            }
            if managers {
                addrs.extend(&email.managers);
            }
            out.extend(addrs.into_iter().map(|a| (Channel::Email, a.clone())));
        }
        out
    }

    /// The timers an open request should have now: its plan from its
    /// anchor, minus the alerts it already got.
    pub fn expected_timers(
        &self,
        conn: &Connection,
        row: &RequestRow,
    ) -> Result<Vec<PlannedAlert>> {
        let policy = self.policy(row.chat_id);
        let fired = alerts::fired_for_request(conn, row.id)?;
        let plan = plan_alerts_from(
            self.calendar(row.chat_id),
            &policy,
            at(row.anchor_at),
            row.anchor_used_seconds,
        );
        Ok(plan
            .into_iter()
            .filter(|a| {
                !fired
                    .iter()
                    .any(|&(k, l)| k == a.kind && l == i64::from(a.level))
            })
            .collect())
    }

    /// Re-times every open request after a configuration change: the time
    /// used so far under `old` stays used; what is left counts against the
    /// new calendar and policy. Returns how many requests changed.
    pub fn retime(&self, conn: &Connection, old: &Engine, now: DateTime<Utc>) -> Result<usize> {
        let mut changed = 0;
        for row in requests::all_open(conn)? {
            let chat = row.chat_id;
            let same_cal = Arc::ptr_eq(old.calendar(chat), self.calendar(chat))
                || old.calendar(chat).spec() == self.calendar(chat).spec();
            if same_cal && old.policy(chat) == self.policy(chat) {
                continue;
            }
            let anchor = now.max(at(row.anchor_at));
            // Used so far under the old settings' calendar.
            let used = old.used_seconds(&row, anchor);
            let policy = self.policy(chat);
            let plan = plan_alerts_from(self.calendar(chat), &policy, anchor, used);
            requests::retime(
                conn,
                row.id,
                ts(anchor),
                used,
                i64::from(policy.threshold_minutes),
                breach_due(&plan),
            )?;
            let moved = RequestRow {
                anchor_at: ts(anchor),
                anchor_used_seconds: used,
                ..row
            };
            timers::delete_for_request(conn, moved.id)?;
            let fired = alerts::fired_for_request(conn, moved.id)?;
            insert_timers(conn, moved.id, &plan, &fired)?;
            changed += 1;
        }
        Ok(changed)
    }
}

fn breach_due(plan: &[PlannedAlert]) -> Option<i64> {
    plan.iter()
        .find(|a| a.kind == AlertKind::Breach)
        .map(|a| ts(a.due))
}

fn insert_timers(
    conn: &Connection,
    request_id: i64,
    plan: &[PlannedAlert],
    fired: &[(AlertKind, i64)],
) -> Result<()> {
    for a in plan {
        if fired
            .iter()
            .any(|&(k, l)| k == a.kind && l == i64::from(a.level))
        {
            continue;
        }
        timers::insert(
            conn,
            &timers::TimerRow {
                request_id,
                kind: a.kind,
                level: i64::from(a.level),
                due_at: ts(a.due),
            },
        )?;
    }
    Ok(())
}

/// A stored request's SLA clock.
fn clock(row: &RequestRow) -> SlaClock {
    SlaClock::stored(
        row.anchor_at,
        row.anchor_used_seconds,
        row.threshold_minutes,
        row.deadline_at,
    )
}

fn open_request(r: &RequestRow) -> OpenRequest {
    let category = r.category;
    OpenRequest {
        message_id: r.message_id,
        client_id: r.client_id,
        received_at: at(r.received_at),
        classification: Classification {
            category,
            confidence: r.confidence,
        },
    }
}
