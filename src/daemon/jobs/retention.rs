//! Retention: rows older than `[store] retention_days` are deleted in small
//! batches, each its own short transaction, so the ingest path (the only
//! other writer) waits at most one batch for the database.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::core::shared::Shared;
use crate::metrics::catalogue;
use crate::store;
pub use crate::store::retention::{RetentionStep, retention_batch};

/// Rows per table per transaction: a few milliseconds of SQLite work.
pub const RETENTION_BATCH: usize = 500;

/// Pause between batches. Ingest writes through the same database lock;
/// a real pause (not just a task yield, the work runs on the blocking
/// pool) lets its queued transactions through between our batches.
const PAUSE: Duration = Duration::from_millis(20);

/// What one retention run deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub cutoff: DateTime<Utc>,
    pub batches: usize,
    pub deleted: RetentionStep,
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
        menu_contacts = d.contacts,
        file_bursts = d.file_bursts,
        out_of_hours_replies = d.out_of_hours_replies,
        "retention deleted old rows"
    );
    Ok(report)
}
