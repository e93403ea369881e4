//! One retention batch: the rows older than a cutoff, at most `batch` per
//! table, deleted in one short IMMEDIATE transaction. Each table's delete
//! is its owning module's; this module only orders them.

use std::ops::AddAssign;

use rusqlite::Connection;

use super::{Result, alerts, messages, requests, timers, write_tx};

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
}

impl RetentionStep {
    /// `(table, rows)` pairs, table names as in the schema and the metric.
    pub fn per_table(&self) -> [(&'static str, usize); 5] {
        [
            ("messages", self.messages),
            ("client_requests", self.requests),
            ("sla_alerts", self.alerts),
            ("alert_deliveries", self.deliveries),
            ("timers", self.timers),
        ]
    }

    pub fn total(&self) -> usize {
        self.per_table().iter().map(|(_, n)| n).sum()
    }

    /// True when a batch of `batch` found less than a full batch in every
    /// table it selects from: another call would find nothing left.
    pub fn exhausted(&self, batch: usize) -> bool {
        self.messages < batch && self.requests < batch
    }
}

impl AddAssign for RetentionStep {
    fn add_assign(&mut self, o: RetentionStep) {
        self.messages += o.messages;
        self.requests += o.requests;
        self.alerts += o.alerts;
        self.deliveries += o.deliveries;
        self.timers += o.timers;
    }
}

/// Deletes at most `batch` rows per table older than `cutoff_unix`, in one
/// short transaction: messages (except those of still-open requests: alert
/// texts quote them), closed requests with their alerts, deliveries and
/// timers. Not the outbox: its entries are changes Postgres has not got
/// yet (Postgres keeps the history retention removes here).
pub fn retention_batch(
    conn: &mut Connection,
    cutoff_unix: i64,
    batch: usize,
) -> Result<RetentionStep> {
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    let tx = write_tx(conn)?;
    let messages = messages::delete_before(&tx, cutoff_unix, limit)?;
    // Chosen once: inside the transaction the selection cannot change, so
    // the dependants and the requests agree.
    let doomed = requests::closed_before(&tx, cutoff_unix, limit)?;
    // The cascade would delete dependants too, but silently: deleting them
    // first is what lets the report count them.
    let deliveries = super::deliveries::delete_for_requests(&tx, &doomed)?;
    let alerts = alerts::delete_for_requests(&tx, &doomed)?;
    let timers = timers::delete_for_requests(&tx, &doomed)?;
    let requests = requests::delete(&tx, &doomed)?;
    tx.commit()?;
    Ok(RetentionStep {
        messages,
        requests,
        alerts,
        deliveries,
        timers,
    })
}
