//! Reconciliation: the `timers` table is derived state (the plan of each
//! open request minus the alerts it already got), so it can be recomputed
//! and compared. A bug, a manual edit or a restore of an older database
//! would otherwise leave a request without its alerts, silently.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::core::engine::Engine;
use crate::domain::sla::AlertKind;
use crate::metrics::catalogue;
use crate::store::{self, requests, timers};

/// What was wrong with a request's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepairKind {
    /// An expected timer was absent: inserted.
    MissingTimer,
    /// A timer was due at the wrong instant: moved.
    WrongDue,
    /// An open request had a timer its plan does not contain: deleted.
    StrayTimer,
    /// Timers of a request that is closed or gone: deleted.
    OrphanTimer,
}

impl RepairKind {
    /// The `kind` label of `buhbot_reconcile_repairs_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepairKind::MissingTimer => "missing_timer",
            RepairKind::WrongDue => "wrong_due",
            RepairKind::StrayTimer => "stray_timer",
            RepairKind::OrphanTimer => "orphan_timer",
        }
    }
}

impl std::fmt::Display for RepairKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One repair made by [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub kind: RepairKind,
    pub request_id: i64,
    pub detail: String,
}

/// Makes every open request's timers match its plan and drops the timers
/// of requests that are not open, in one transaction: the timer loop never
/// sees a half-repaired request. Each repair is logged and counted after
/// the commit, so a rolled-back run reports nothing it did not do.
pub fn reconcile(
    conn: &mut Connection,
    engine: &Engine,
    now: DateTime<Utc>,
) -> store::Result<Vec<Repair>> {
    // IMMEDIATE: the transaction reads then writes; a deferred one could
    // fail with SQLITE_BUSY at the first write if ingest wrote meanwhile,
    // while an immediate one just waits its turn (busy_timeout).
    let tx = store::write_tx(conn)?;
    let mut repairs = Vec::new();
    for row in requests::all_open(&tx)? {
        let mut actual: HashMap<(AlertKind, i64), timers::TimerRow> =
            timers::for_request(&tx, row.id)?
                .into_iter()
                .map(|t| ((t.kind, t.level), t))
                .collect();
        for planned in engine.expected_timers(&tx, &row)? {
            let want = timers::TimerRow {
                request_id: row.id,
                kind: planned.kind,
                level: i64::from(planned.level),
                due_at: planned.due.timestamp(),
            };
            let (kind, detail) = match actual.remove(&(want.kind, want.level)) {
                Some(have) if have.due_at == want.due_at => continue,
                Some(have) => (
                    RepairKind::WrongDue,
                    format!(
                        "{} level {} was due at {}, should be {}",
                        want.kind, want.level, have.due_at, want.due_at
                    ),
                ),
                None => (
                    RepairKind::MissingTimer,
                    format!(
                        "{} level {} due at {}{}",
                        want.kind,
                        want.level,
                        want.due_at,
                        // An overdue timer fires at once: worth saying why
                        // an alert arrives late.
                        if want.due_at <= now.timestamp() {
                            " (overdue)"
                        } else {
                            ""
                        }
                    ),
                ),
            };
            timers::insert(&tx, &want)?;
            repairs.push(Repair {
                kind,
                request_id: row.id,
                detail,
            });
        }
        let mut stray: Vec<_> = actual.into_values().collect();
        stray.sort_by_key(|t| (t.due_at, t.level));
        for t in stray {
            timers::delete(&tx, &t)?;
            repairs.push(Repair {
                kind: RepairKind::StrayTimer,
                request_id: row.id,
                detail: format!("{} level {} due at {}", t.kind, t.level, t.due_at),
            });
        }
    }
    for request_id in timers::orphans(&tx)? {
        let n = timers::delete_for_request(&tx, request_id)?;
        let status =
            requests::get(&tx, request_id)?.map_or("missing".to_string(), |r| r.status.to_string());
        repairs.push(Repair {
            kind: RepairKind::OrphanTimer,
            request_id,
            detail: format!("{n} timer(s) of a request that is {status}"),
        });
    }
    tx.commit()?;
    for r in &repairs {
        tracing::warn!(
            kind = r.kind.as_str(),
            request_id = r.request_id,
            detail = %r.detail,
            "reconcile repaired a timer"
        );
        ::metrics::counter!(catalogue::RECONCILE_REPAIRS_TOTAL, "kind" => r.kind.as_str())
            .increment(1);
    }
    Ok(repairs)
}
