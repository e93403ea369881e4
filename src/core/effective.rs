//! The chat settings the engine runs with: the configuration's `[[chats]]`
//! overlaid by what was set from the shell (the store).
//!
//! - A `chats` row's non-NULL policy columns override the configuration's
//!   policy for that chat; its title overrides when not empty.
//! - `monitored = 0` or `sla_enabled = 0` pauses the chat: its messages are
//!   still logged, but no request is opened or closed.
//! - Staff: once a chat has any `chat_staff` row, the store is the live
//!   truth for both its accountants and managers (they *replace* the
//!   configuration's lists). `buhbot chats set` seeds the store with the
//!   configuration's lists on the first staff change, so removing someone
//!   listed in the configuration works as expected. Removing the last row
//!   falls back to the configuration.
//! - `working_schedules` replaces the chat's calendar: the snippet is read
//!   over the global `[calendar]`, as a `[[chats]]` entry's `calendar`
//!   table would be. A snippet that no longer validates (say, a production
//!   calendar file was removed) is reported and the configuration's calendar
//!   kept, rather than stopping the daemon.
//! - `holidays` (pulled from Postgres' `global_holidays` as chat 0 and
//!   `chat_holidays`) add days off and extra working days to the calendar
//!   a chat ends up with, whatever its source.
//! - `chat_options` switches (file receipts, out-of-hours reply) override
//!   the chat's `[[chats]]` keys when set.
//! - Every user in `users` is staff of the firm, never a client.
//! - A row with `migrated_to` is a basic group that became that supergroup
//!   (see [`super::chat_events`]): the configuration's `[[chats]]` entry
//!   for the old id applies to the new id too (unless the configuration
//!   has an entry for the new id), so nothing need be edited by hand after
//!   an upgrade; the store's own settings were moved to the new id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rusqlite::Connection;

use crate::config::{ChatConfig, Config};
use crate::domain::calendar::CalendarSpec;
use crate::domain::sla::{Policy, UserId};
use crate::store::chats::{self, ChatRole, ChatRow};
use crate::store::users::Role;
use crate::store::{Result, chat_options, holidays, overrides, settings, users};

/// Everything the store says about chat settings, read in one go.
#[derive(Debug, Clone, Default)]
pub struct StoreSettings {
    pub revision: i64,
    pub chats: BTreeMap<i64, ChatRow>,
    /// (accountants, managers) of chats with staff rows.
    pub staff: BTreeMap<i64, (BTreeSet<UserId>, BTreeSet<UserId>)>,
    pub calendars: BTreeMap<i64, String>,
    pub users: BTreeSet<UserId>,
    /// Users with the role `manager`: the firm's managers get breaches and
    /// escalations of every chat, like `[alerts] managers`.
    pub managers: BTreeSet<UserId>,
    /// Days off and extra working days from Postgres, per chat (0: all).
    pub holidays: BTreeMap<i64, Vec<holidays::Day>>,
    /// Firm-wide settings from Postgres (`store::overrides`).
    pub overrides: BTreeMap<String, serde_json::Value>,
    /// Per-chat switches of the client helpers (`store::chat_options`).
    pub options: BTreeMap<i64, chat_options::ChatOptions>,
}

impl StoreSettings {
    pub fn load(conn: &Connection) -> Result<StoreSettings> {
        let users = users::list(conn)?;
        let mut s = StoreSettings {
            revision: settings::revision(conn)?,
            chats: chats::list(conn)?.into_iter().map(|c| (c.id, c)).collect(),
            calendars: chats::all_calendars(conn)?.into_iter().collect(),
            users: users.iter().map(|u| u.id).collect(),
            managers: users
                .iter()
                .filter(|u| u.role == Role::Manager)
                .map(|u| u.id)
                .collect(),
            holidays: holidays::all(conn)?,
            overrides: overrides::all(conn)?,
            options: chat_options::all(conn)?,
            ..StoreSettings::default()
        };
        for (chat, user, role) in chats::all_staff(conn)? {
            let entry = s.staff.entry(chat).or_default();
            if role == ChatRole::Manager {
                entry.1.insert(user);
            } else {
                entry.0.insert(user);
            }
        }
        Ok(s)
    }
}

/// The configuration with the store's chat settings applied.
#[derive(Debug, Clone)]
pub struct Effective {
    /// Shared with the engine built from it.
    pub config: Arc<Config>,
    /// Chats whose messages are logged only (monitoring or SLA off).
    pub paused: BTreeSet<i64>,
    /// Staff from the `users` table.
    pub users: BTreeSet<UserId>,
    /// Basic group → the supergroup it became.
    pub migrated: BTreeMap<i64, i64>,
    pub revision: i64,
}

fn policy_over(base: Policy, row: &ChatRow) -> Policy {
    let pick = |o: Option<i64>, d: u32| o.and_then(|v| u32::try_from(v).ok()).unwrap_or(d);
    Policy {
        threshold_minutes: pick(row.threshold_minutes, base.threshold_minutes),
        warning_percent: pick(row.warning_percent, base.warning_percent),
        escalation_interval_minutes: pick(
            row.escalation_interval_minutes,
            base.escalation_interval_minutes,
        ),
        max_escalations: pick(row.max_escalations, base.max_escalations),
    }
}

/// Applies `store` over `config`.
pub fn overlay(config: &Config, store: &StoreSettings) -> Effective {
    let mut eff = config.clone();
    firm_wide(&mut eff, &store.overrides);
    for m in &store.managers {
        if !eff.alerts.managers.contains(m) {
            eff.alerts.managers.push(*m);
        }
    }
    let migrated: BTreeMap<i64, i64> = store
        .chats
        .values()
        .filter_map(|r| Some((r.id, r.migrated_to?)))
        .collect();
    for (&old, &new) in &migrated {
        if let Some(entry) = config.chats.get(&old)
            && !config.chats.contains_key(&new)
        {
            eff.chats.insert(
                new,
                ChatConfig {
                    id: new,
                    ..entry.clone()
                },
            );
        }
    }
    let ids: BTreeSet<i64> = store
        .chats
        .keys()
        .chain(store.staff.keys())
        .chain(store.calendars.keys())
        .chain(store.options.keys())
        .chain(store.holidays.keys().filter(|&&c| c != holidays::GLOBAL))
        .copied()
        .collect();
    let mut paused = BTreeSet::new();
    for id in ids {
        let chat = eff.chats.entry(id).or_insert_with(|| ChatConfig {
            id,
            title: None,
            accountants: BTreeSet::new(),
            managers: BTreeSet::new(),
            calendar: config.calendar.clone(),
            policy: eff.sla,
            faq_stops_sla: None,
            receipts: None,
            out_of_hours_reply: None,
        });
        if let Some(o) = store.options.get(&id) {
            chat.receipts = o.receipts.or(chat.receipts);
            chat.out_of_hours_reply = o.out_of_hours_reply.or(chat.out_of_hours_reply);
        }
        if let Some(row) = store.chats.get(&id) {
            if !row.title.is_empty() {
                chat.title = Some(row.title.clone());
            }
            chat.policy = policy_over(chat.policy, row);
            if !row.monitored || !row.sla_enabled {
                paused.insert(id);
            }
        }
        if let Some((accountants, managers)) = store.staff.get(&id) {
            chat.accountants = accountants.clone();
            chat.managers = managers.clone();
        }
        if let Some(snippet) = store.calendars.get(&id) {
            match crate::config::parse_calendar_snippet_in(
                snippet,
                &config.calendar,
                &config.base_dir(),
            ) {
                Ok(cal) => chat.calendar = cal,
                Err(problems) => {
                    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    tracing::warn!(
                        chat = id,
                        "the stored calendar of chat {id} is invalid, using the configuration's: {}",
                        list.join("; ")
                    );
                }
            }
        }
    }
    // Postgres' days last: they add to whatever calendar a chat runs with.
    if let Some(days) = store.holidays.get(&holidays::GLOBAL) {
        add_days(&mut eff.calendar, days);
        for chat in eff.chats.values_mut() {
            add_days(&mut chat.calendar, days);
        }
    }
    for (id, days) in &store.holidays {
        if let Some(chat) = eff.chats.get_mut(id) {
            add_days(&mut chat.calendar, days);
        }
    }
    Effective {
        config: Arc::new(eff),
        paused,
        users: store.users.clone(),
        migrated,
        revision: store.revision,
    }
}

/// Lays days from Postgres over a calendar: a day off wins over the week
/// and the production calendar; an extra working day gets Monday's hours.
fn add_days(spec: &mut CalendarSpec, days: &[holidays::Day]) {
    for d in days {
        if d.workday {
            spec.workdays.entry(d.date).or_insert(None);
        } else {
            spec.holidays.insert(d.date);
        }
    }
}

/// Firm-wide settings from Postgres over the configuration: the default
/// policy (and every chat's field that was the default's), the surveys'
/// validity, reminder, cooldown and low-rating threshold, more managers.
fn firm_wide(eff: &mut Config, o: &BTreeMap<String, serde_json::Value>) {
    let pick = |key: &str, cur: u32| {
        o.get(key)
            .and_then(serde_json::Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(cur)
    };
    let base = eff.sla;
    let sla = Policy {
        threshold_minutes: pick("sla.threshold_minutes", base.threshold_minutes),
        warning_percent: pick("sla.warning_percent", base.warning_percent),
        escalation_interval_minutes: pick(
            "sla.escalation_interval_minutes",
            base.escalation_interval_minutes,
        ),
        max_escalations: pick("sla.max_escalations", base.max_escalations),
    };
    eff.sla = sla;
    for chat in eff.chats.values_mut() {
        let p = &mut chat.policy;
        if p.threshold_minutes == base.threshold_minutes {
            p.threshold_minutes = sla.threshold_minutes;
        }
        if p.warning_percent == base.warning_percent {
            p.warning_percent = sla.warning_percent;
        }
        if p.escalation_interval_minutes == base.escalation_interval_minutes {
            p.escalation_interval_minutes = sla.escalation_interval_minutes;
        }
        if p.max_escalations == base.max_escalations {
            p.max_escalations = sla.max_escalations;
        }
    }
    // The surveys' settings (sync::pull::globals checked the ranges and
    // the order of the steps).
    let file = eff.surveys.clone();
    let s = &mut eff.surveys;
    s.validity_days = pick("surveys.validity_days", s.validity_days);
    s.remind_after_days = pick("surveys.remind_after_days", s.remind_after_days);
    s.cooldown_hours = pick("surveys.cooldown_hours", s.cooldown_hours);
    s.low_rating_threshold = u8::try_from(pick(
        "surveys.low_rating_threshold",
        u32::from(s.low_rating_threshold),
    ))
    .unwrap_or(s.low_rating_threshold);
    // An override checked against an older configuration (the file's
    // validity lowered since) must not put a step after the close.
    if s.remind_after_days >= s.validity_days || s.notify_managers_after_days >= s.validity_days {
        s.validity_days = file.validity_days;
        s.remind_after_days = file.remind_after_days;
    }
    let managers = o.get("alerts.managers").and_then(|v| v.as_array());
    for id in managers
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_i64)
    {
        if !eff.alerts.managers.contains(&id) {
            eff.alerts.managers.push(id);
        }
    }
}
