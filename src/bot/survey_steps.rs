//! Survey campaigns over the store: starting one (scheduled, or `buhbot
//! surveys start`), and the steps of the open ones: the reminder to chats
//! without a vote, the managers' notice of the chats that did not answer,
//! the close.
//!
//! [`step`] runs in one write transaction with `now` as a parameter. Every
//! step is decided from the stored rows alone and marked done in the same
//! transaction as the messages it queues (with dedupe keys), so a step
//! runs once, and one missed while the daemon was down runs at the next
//! step after the start.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::survey::keyboard;
use crate::core::engine::Engine;
use crate::domain::schedule;
use crate::domain::survey::{Timeline, due_campaign};
use crate::domain::survey_text as text;
use crate::store::Result;
use crate::store::outbound::{Kind, NewOutbound, enqueue_built};
use crate::store::surveys::{self, StartedBy};

/// Why a chat asked for was not surveyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Monitoring (or SLA tracking) is off for it.
    NotMonitored,
    /// It got a survey within the cooldown.
    Cooldown,
}

/// What [`start_campaign`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Started {
    /// `None` when no chat was left to survey (no campaign recorded).
    pub campaign: Option<i64>,
    pub chats: Vec<i64>,
    pub skipped: Vec<(i64, Skipped)>,
}

/// Starts a campaign at `now`: `only` chats (by hand), or the audience:
/// monitored chats with a client request within `[surveys] activity_days`.
/// Either way a chat surveyed within the cooldown is skipped. Queues the
/// survey message, with its buttons, to each chat.
pub fn start_campaign(
    conn: &Connection,
    engine: &Engine,
    slot: Option<i64>,
    by: StartedBy,
    only: &[i64],
    now: DateTime<Utc>,
) -> Result<Started> {
    // The settings in force now (overridden from Postgres, see
    // core::effective), as the chats are.
    let eff = engine.effective(conn)?;
    let s = &eff.config.surveys;
    let candidates: Vec<i64> = if only.is_empty() {
        let since = (now - Duration::days(i64::from(s.activity_days))).timestamp();
        surveys::chats_with_requests_since(conn, since)?
            .into_iter()
            .filter(|c| *c < 0 && eff.config.chats.contains_key(c))
            .collect()
    } else {
        only.to_vec()
    };
    let cooldown = i64::from(s.cooldown_hours) * 3600;
    let mut out = Started::default();
    let mut audience = Vec::new();
    for chat in candidates {
        if eff.paused.contains(&chat) || !eff.config.chats.contains_key(&chat) {
            out.skipped.push((chat, Skipped::NotMonitored));
        } else if surveys::last_sent(conn, chat)?.is_some_and(|t| now.timestamp() - t < cooldown) {
            out.skipped.push((chat, Skipped::Cooldown));
        } else {
            audience.push(chat);
        }
    }
    if audience.is_empty() {
        return Ok(out);
    }
    let timeline = Timeline::new(
        now,
        s.remind_after_days,
        s.notify_managers_after_days,
        s.validity_days,
    );
    let Some(campaign) = surveys::create_campaign(conn, slot, by, &timeline)? else {
        return Ok(out); // this occurrence started already
    };
    let ts = now.timestamp();
    for &chat in &audience {
        let survey = surveys::add_chat(conn, campaign, chat, ts)?;
        let mut msg = NewOutbound::new(
            format!("survey:{survey}"),
            chat,
            Kind::Reply,
            text::survey_html(s.validity_days),
        );
        msg.buttons = keyboard(survey);
        enqueue_built(conn, &msg, ts, "a survey message")?;
    }
    tracing::info!(campaign, chats = audience.len(), by = ?by, "survey campaign started");
    out.campaign = Some(campaign);
    out.chats = audience;
    Ok(out)
}

/// What one [`step`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub started: Option<Started>,
    pub reminders: usize,
    /// Notices queued to managers.
    pub notices: usize,
    pub closed: Vec<i64>,
}

impl StepReport {
    /// Whether anything was queued (the outbound sender is worth waking).
    pub fn queued(&self) -> bool {
        self.started.as_ref().is_some_and(|s| !s.chats.is_empty())
            || self.reminders > 0
            || self.notices > 0
    }
}

/// The scheduled campaign, reminders, notices and closes due at `now`.
pub fn step(conn: &Connection, engine: &Engine, now: DateTime<Utc>) -> Result<StepReport> {
    let eff = engine.effective(conn)?;
    let s = &eff.config.surveys;
    let mut report = StepReport::default();
    let ts = now.timestamp();
    if s.enabled {
        match surveys::schedule_last(conn)? {
            // The first start with surveys on: no campaign for the past.
            None => surveys::set_schedule_last(conn, ts)?,
            Some(last) => {
                // Validated with the configuration: never fails here.
                let cron = schedule::parse_cron(&s.schedule).ok();
                let last = DateTime::from_timestamp(last, 0).unwrap_or(now);
                if let Some((occurrence, _start)) = cron.and_then(|cron| {
                    due_campaign(
                        &cron,
                        engine.default_calendar(),
                        s.first_working_day,
                        last,
                        now,
                    )
                }) {
                    surveys::set_schedule_last(conn, occurrence.timestamp())?;
                    report.started = Some(start_campaign(
                        conn,
                        engine,
                        Some(occurrence.timestamp()),
                        StartedBy::Schedule,
                        &[],
                        now,
                    )?);
                }
            }
        }
    }
    for survey in surveys::due_reminders(conn, ts)? {
        let mut msg = NewOutbound::new(
            format!("survey-remind:{}", survey.id),
            survey.chat_id,
            Kind::Reply,
            text::reminder_html(),
        );
        msg.buttons = keyboard(survey.id);
        enqueue_built(conn, &msg, ts, "a survey reminder")?;
        surveys::mark_reminded(conn, survey.id, ts)?;
        report.reminders += 1;
    }
    for campaign in surveys::due_notices(conn, ts)? {
        report.notices += notify_managers(conn, engine, campaign.id, ts)?;
        surveys::mark_noticed(conn, campaign.id, ts)?;
    }
    for id in surveys::due_closes(conn, ts)? {
        if surveys::close(conn, id, ts)? {
            tracing::info!(campaign = id, "survey campaign closed");
            report.closed.push(id);
        }
    }
    Ok(report)
}

/// Tells each manager which of their chats in `campaign` did not answer:
/// a chat's own managers, else the firm's. Returns the notices queued.
fn notify_managers(conn: &Connection, engine: &Engine, campaign: i64, ts: i64) -> Result<usize> {
    let eff = engine.effective(conn)?;
    let mut by_manager: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for chat in surveys::unanswered(conn, campaign)? {
        let own = eff
            .config
            .chats
            .get(&chat)
            .map(|c| c.managers.clone())
            .unwrap_or_default();
        let managers: Vec<i64> = if own.is_empty() {
            eff.config.alerts.managers.clone()
        } else {
            own.into_iter().collect()
        };
        let title = engine.chat_label(chat);
        for m in managers.into_iter().filter(|m| *m > 0) {
            by_manager.entry(m).or_default().push(title.clone());
        }
    }
    for (manager, titles) in &by_manager {
        let msg = NewOutbound::new(
            format!("survey-notice:{campaign}:{manager}"),
            *manager,
            Kind::Alert,
            text::unanswered_html(campaign, titles),
        );
        enqueue_built(conn, &msg, ts, "a managers' notice of unanswered surveys")?;
    }
    Ok(by_manager.len())
}
