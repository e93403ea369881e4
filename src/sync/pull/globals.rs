//! Firm-wide settings (`global_settings`, one row) pulled from Postgres.
//!
//! The row exists from the migration on, filled with the columns' defaults,
//! which are not what a firm configured in `buhbot.toml`. So a field takes
//! effect when it *changes* upstream: compared with the row as last pulled
//! (the columns' defaults before the first pull), a changed field becomes
//! an override of the configuration, or drops it when it equals the
//! configuration's value. Fields the daemon does not use are left alone.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::Transaction;

use super::{NEWER, PullError};
use crate::config::Config;
use crate::store::{overrides, state};

/// The row as last pulled, in `transport_state`.
const LAST: &str = "sync.pull.global_settings";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgGlobals {
    pub threshold: i64,
    pub warning: i64,
    pub interval: i64,
    pub max_escalations: i64,
    /// Telegram ids as text, as the original keeps them.
    pub managers: Vec<String>,
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
                        global_manager_ids, row_version
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
    let numbers = [
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
