//! Retention: rows older than `[store] retention_days` are deleted in small
//! batches, each its own short transaction, so the ingest path (the only
//! other writer) waits at most one batch for the database.

use std::ops::AddAssign;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};

use crate::core::shared::Shared;
use crate::metrics::catalogue;
use crate::store;

/// Rows per table per transaction: a few milliseconds of SQLite work.
pub const RETENTION_BATCH: usize = 500;

/// Pause between batches. Ingest writes through the same database lock;
/// a real pause (not just a task yield, the work runs on the blocking
/// pool) lets its queued transactions through between our batches.
const PAUSE: Duration = Duration::from_millis(20);

/// Rows deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionStep {
    pub messages: usize,
    pub requests: usize,
    /// `sla_alerts` of the deleted requests.
    pub alerts: usize,
    /// `alert_deliveries` of those alerts.
    pub deliveries: usize,
    /// `timers` of the deleted requests (normally none: closing a request
    /// drops its timers).
    pub timers: usize,
    pub outbox: usize,
}

impl RetentionStep {
    /// `(table, rows)` pairs, table names as in the schema and the metric.
    pub fn per_table(&self) -> [(&'static str, usize); 6] {
        [
            ("messages", self.messages),
            ("client_requests", self.requests),
            ("sla_alerts", self.alerts),
            ("alert_deliveries", self.deliveries),
            ("timers", self.timers),
            ("outbox", self.outbox),
        ]
    }

    pub fn total(&self) -> usize {
        self.per_table().iter().map(|(_, n)| n).sum()
    }

    /// True when a batch of `batch` found less than a full batch in every
    /// table it selects from: another call would find nothing left.
    pub fn exhausted(&self, batch: usize) -> bool {
        self.messages < batch && self.requests < batch && self.outbox < batch
    }
}

impl AddAssign for RetentionStep {
    fn add_assign(&mut self, o: RetentionStep) {
        self.messages += o.messages;
        self.requests += o.requests;
        self.alerts += o.alerts;
        self.deliveries += o.deliveries;
        self.timers += o.timers;
        self.outbox += o.outbox;
    }
}

/// What one retention run deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub cutoff: DateTime<Utc>,
    pub batches: usize,
    pub deleted: RetentionStep,
}

/// The closed requests a batch deletes, oldest first. Used as a subquery
/// by every statement of the batch: inside the transaction the selection
/// cannot change, so the dependants and the requests agree.
const DOOMED_REQUESTS: &str = "SELECT id FROM client_requests
     WHERE received_at < ?1 AND status <> 'open'
     ORDER BY received_at, id LIMIT ?2";

/// Deletes at most `batch` rows per table older than `cutoff_unix`, in one
/// short transaction: messages (except those of still-open requests: alert
/// texts quote them), closed requests with their alerts, deliveries and
/// timers, and outbox entries.
pub fn retention_batch(
    conn: &mut Connection,
    cutoff_unix: i64,
    batch: usize,
) -> store::Result<RetentionStep> {
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let messages = tx.execute(
        "DELETE FROM messages WHERE (chat_id, message_id, edit_version) IN (
             SELECT m.chat_id, m.message_id, m.edit_version FROM messages m
             WHERE m.date < ?1 AND NOT EXISTS (
                 SELECT 1 FROM client_requests r
                 WHERE r.chat_id = m.chat_id AND r.message_id = m.message_id
                   AND r.status = 'open')
             ORDER BY m.date LIMIT ?2)",
        (cutoff_unix, limit),
    )?;
    // The cascade would delete these too, but silently: deleting them
    // first is what lets the report count them.
    let deliveries = tx.execute(
        &format!(
            "DELETE FROM alert_deliveries WHERE alert_id IN (
                 SELECT id FROM sla_alerts WHERE request_id IN ({DOOMED_REQUESTS}))"
        ),
        (cutoff_unix, limit),
    )?;
    let alerts = tx.execute(
        &format!("DELETE FROM sla_alerts WHERE request_id IN ({DOOMED_REQUESTS})"),
        (cutoff_unix, limit),
    )?;
    let timers = tx.execute(
        &format!("DELETE FROM timers WHERE request_id IN ({DOOMED_REQUESTS})"),
        (cutoff_unix, limit),
    )?;
    let requests = tx.execute(
        &format!("DELETE FROM client_requests WHERE id IN ({DOOMED_REQUESTS})"),
        (cutoff_unix, limit),
    )?;
    // Ids grow with creation time, so id order is age order and the scan
    // stops at the first young row (there is no index on created_at).
    let outbox = tx.execute(
        "DELETE FROM outbox WHERE id IN (
             SELECT id FROM outbox WHERE created_at < ?1 ORDER BY id LIMIT ?2)",
        (cutoff_unix, limit),
    )?;
    tx.commit()?;
    Ok(RetentionStep {
        messages,
        requests,
        alerts,
        deliveries,
        timers,
        outbox,
    })
}

/// The retention job: everything older than `days` before the daemon's
/// clock, in batches of [`RETENTION_BATCH`].
pub async fn run_retention(shared: &Shared, days: u32) -> store::Result<RetentionReport> {
    run_retention_batched(shared, days, RETENTION_BATCH).await
}

/// [`run_retention`] with a chosen batch size (tests use tiny batches).
pub async fn run_retention_batched(
    shared: &Shared,
    days: u32,
    batch: usize,
) -> store::Result<RetentionReport> {
    // The daemon's clock, not the system's: a replay keeps the rows of the
    // period it replays.
    let cutoff = shared.clock.now() - chrono::Duration::days(i64::from(days));
    let cutoff_unix = cutoff.timestamp();
    let batch = batch.max(1);
    let mut report = RetentionReport {
        cutoff,
        batches: 0,
        deleted: RetentionStep::default(),
    };
    loop {
        let step = shared
            .store
            .run(move |conn| retention_batch(conn, cutoff_unix, batch))
            .await?;
        report.batches += 1;
        report.deleted += step;
        if step.exhausted(batch) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let d = &report.deleted;
    for (table, rows) in d.per_table() {
        ::metrics::counter!(catalogue::RETENTION_DELETED_ROWS_TOTAL, "table" => table)
            .increment(rows as u64);
    }
    tracing::info!(
        cutoff = %cutoff,
        batches = report.batches,
        messages = d.messages,
        client_requests = d.requests,
        sla_alerts = d.alerts,
        alert_deliveries = d.deliveries,
        timers = d.timers,
        outbox = d.outbox,
        "retention deleted old rows"
    );
    Ok(report)
}
