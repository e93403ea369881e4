//! Firm-wide settings (`global_settings`, one row) pulled from Postgres.
//!
//! The row exists from the migration on, filled with the columns' defaults,
//! which are not what a firm configured in `buhbot.toml`. So a field takes
//! effect when it *changes* upstream: compared with the row as last pulled
//! (the columns' defaults before the first pull), a changed field becomes
//! an override of the configuration, or drops it when it equals the
//! configuration's value. Fields the daemon does not use are left alone
//! (`survey_quarter_day`: the schedule is `[surveys] schedule`, a cron).
//!
//! The survey fields map to `[surveys]`: `survey_validity_days` →
//! `validity_days`, `survey_reminder_day` (the day the reminder goes: day
//! 2 is one day after the start) → `remind_after_days` + 1,
//! `low_rating_threshold`, `survey_cooldown_hours` → `cooldown_hours`.

use std::ops::RangeInclusive;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::Transaction;

use super::{NEWER, PullError};
use crate::config::Config;
use crate::config::surveys::{
    COOLDOWN_HOURS, LOW_RATING_THRESHOLD, REMIND_AFTER_DAYS, VALIDITY_DAYS,
};
use crate::store::{overrides, state};

/// The row as last pulled, in `transport_state`.
const LAST: &str = "sync.pull.global_settings";

/// A row stored by an older daemon lacks the survey fields: they read as
/// the columns' defaults (`#[serde(default)]`), as that daemon never
/// applied them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PgGlobals {
    pub threshold: i64,
    pub warning: i64,
    pub interval: i64,
    pub max_escalations: i64,
    /// Telegram ids as text, as the original keeps them.
    pub managers: Vec<String>,
    pub survey_validity_days: i64,
    pub survey_reminder_day: i64,
    pub low_rating_threshold: i64,
    pub survey_cooldown_hours: i64,
}

impl Default for PgGlobals {
    /// The columns' defaults (sql/postgres/0001_schema.sql).
    fn default() -> Self {
        PgGlobals {
            threshold: 60,
            warning: 80,
            interval: 30,
            max_escalations: 5,
            managers: Vec::new(),
            survey_validity_days: 7,
            survey_reminder_day: 2,
            low_rating_threshold: 3,
            survey_cooldown_hours: 24,
        }
    }
}

pub(super) async fn read(
    tx: &Transaction<'_>,
    args: &super::calendar::Args<'_>,
    top: &mut i64,
) -> Result<Option<PgGlobals>, tokio_postgres::Error> {
    let row = tx
        .query_typed_opt(
            &format!(
                "SELECT default_sla_threshold::bigint, sla_warning_percent::bigint,
                        escalation_interval_min::bigint, max_escalations::bigint,
                        global_manager_ids, row_version, survey_validity_days::bigint,
                        survey_reminder_day::bigint, low_rating_threshold::bigint,
                        survey_cooldown_hours::bigint
                 FROM public.global_settings
                 WHERE id = 'default' AND {NEWER} AND updated_by IS DISTINCT FROM $4"
            ),
            args,
        )
        .await?;
    Ok(row.map(|r| {
        *top = (*top).max(r.get(5));
        PgGlobals {
            threshold: r.get(0),
            warning: r.get(1),
            interval: r.get(2),
            max_escalations: r.get(3),
            managers: r.get(4),
            survey_validity_days: r.get(6),
            survey_reminder_day: r.get(7),
            low_rating_threshold: r.get(8),
            survey_cooldown_hours: r.get(9),
        }
    }))
}

/// The override for a numeric policy field: `None` when it is the
/// configuration's value, or out of the range the daemon accepts.
fn number(
    key: &str,
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    configured: u32,
) -> Option<Value> {
    if !range.contains(&v) {
        tracing::warn!(
            "sync: global_settings sets {key} = {v} in Postgres, outside {}..={}; keeping the configuration's",
            range.start(),
            range.end()
        );
        return None;
    }
    (v != i64::from(configured)).then(|| json!(v))
}

/// (key, upstream now, as last pulled, accepted range, configured)
type Field = (&'static str, i64, i64, RangeInclusive<i64>, u32);

/// The survey fields, in `[surveys]`' terms (the reminder's day as days
/// after the start). The ranges are the configuration's, and keep the
/// steps in order as the configuration reader does: the reminder and the
/// managers' notice before the close. Each bound is taken with the other
/// field as it will stand after this pull (upstream's when it changed
/// and is itself in range, else the override in force or the file's).
fn survey_numbers(
    conn: &Connection,
    g: &PgGlobals,
    last: &PgGlobals,
    config: &Config,
) -> Result<[Field; 4], PullError> {
    let s = &config.surveys;
    let wide = |r: &RangeInclusive<u32>| i64::from(*r.start())..=i64::from(*r.end());
    let (remind_range, validity_max) = (wide(&REMIND_AFTER_DAYS), i64::from(*VALIDITY_DAYS.end()));
    let in_force = |key: &str, configured: u32| -> Result<i64, PullError> {
        Ok(overrides::get(conn, key)?
            .and_then(|v| v.as_i64())
            .unwrap_or(i64::from(configured)))
    };
    let remind = g.survey_reminder_day - 1;
    let remind_after =
        if g.survey_reminder_day != last.survey_reminder_day && remind_range.contains(&remind) {
            remind
        } else {
            in_force("surveys.remind_after_days", s.remind_after_days)?
        };
    let validity_min = remind_after.max(i64::from(s.notify_managers_after_days)) + 1;
    let validity = if g.survey_validity_days != last.survey_validity_days
        && (validity_min..=validity_max).contains(&g.survey_validity_days)
    {
        g.survey_validity_days
    } else {
        in_force("surveys.validity_days", s.validity_days)?
    };
    Ok([
        (
            "surveys.validity_days",
            g.survey_validity_days,
            last.survey_validity_days,
            validity_min..=validity_max,
            s.validity_days,
        ),
        (
            "surveys.remind_after_days",
            remind,
            last.survey_reminder_day - 1,
            *remind_range.start()..=(validity - 1).min(*remind_range.end()),
            s.remind_after_days,
        ),
        (
            "surveys.low_rating_threshold",
            g.low_rating_threshold,
            last.low_rating_threshold,
            wide(&LOW_RATING_THRESHOLD),
            u32::from(s.low_rating_threshold),
        ),
        (
            "surveys.cooldown_hours",
            g.survey_cooldown_hours,
            last.survey_cooldown_hours,
            wide(&COOLDOWN_HOURS),
            s.cooldown_hours,
        ),
    ])
}

/// Applies a changed row; returns how many overrides changed.
pub(super) fn apply(
    conn: &Connection,
    g: &PgGlobals,
    config: &Config,
    now: i64,
) -> Result<usize, PullError> {
    let last: PgGlobals = state::position(conn, LAST)?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let sla = &config.sla;
    // (key, upstream now, upstream as last pulled, accepted range, configured)
    let numbers: [Field; 4] = [
        (
            "sla.threshold_minutes",
            g.threshold,
            last.threshold,
            1..=480,
            sla.threshold_minutes,
        ),
        (
            "sla.warning_percent",
            g.warning,
            last.warning,
            0..=99,
            sla.warning_percent,
        ),
        (
            "sla.escalation_interval_minutes",
            g.interval,
            last.interval,
            5..=120,
            sla.escalation_interval_minutes,
        ),
        (
            "sla.max_escalations",
            g.max_escalations,
            last.max_escalations,
            1..=10,
            sla.max_escalations,
        ),
    ];
    let mut changes: Vec<(&str, Option<Value>)> = numbers
        .into_iter()
        .chain(survey_numbers(conn, g, &last, config)?)
        .filter(|(_, now, was, _, _)| now != was)
        .map(|(key, now, _, range, configured)| (key, number(key, now, range, configured)))
        .collect();
    if g.managers != last.managers {
        let ids: Vec<i64> = g
            .managers
            .iter()
            .filter_map(|m| m.trim().parse().ok())
            .collect();
        changes.push(("alerts.managers", (!ids.is_empty()).then(|| json!(ids))));
    }
    let mut applied = 0;
    for (key, value) in changes {
        applied += usize::from(overrides::set(conn, key, value.as_ref(), "postgres", now)?);
    }
    let text = serde_json::to_string(g).map_err(|e| PullError::Apply {
        table: "global_settings",
        key: "default".into(),
        reason: e.to_string(),
    })?;
    state::set_position(conn, LAST, &text, now)?;
    Ok(applied)
}
