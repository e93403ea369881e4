//! One retention batch: the rows older than a cutoff, at most `batch` per
//! table, deleted in one short IMMEDIATE transaction. Each table's delete
//! is its owning module's; this module only orders them.
//!
//! The client helpers' rows go with the same period: closed menu contacts,
//! file bursts and the out-of-hours replies of closures long over. Survey
//! rows do not: a deleted `survey_votes` row queues a delete of its
//! `feedback_responses` row upstream (its sync trigger, the withdrawal
//! path), which would erase the firm's copy of the answers; and the
//! survey cooldown (`[surveys] cooldown_hours`, up to a year, longer than
//! the shortest retention) and the schedule's once-per-occurrence slot are
//! read from those rows. They are a few rows per chat and campaign.

use std::ops::AddAssign;

use rusqlite::Connection;

use super::{Result, alerts, chat_options, contacts, messages, requests, timers, write_tx};

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
    /// Closed `menu_contacts`.
    pub contacts: usize,
    pub file_bursts: usize,
    pub out_of_hours_replies: usize,
}

impl RetentionStep {
    /// `(table, rows)` pairs, table names as in the schema and the metric.
    pub fn per_table(&self) -> [(&'static str, usize); 8] {
        [
            ("messages", self.messages),
            ("client_requests", self.requests),
            ("sla_alerts", self.alerts),
            ("alert_deliveries", self.deliveries),
            ("timers", self.timers),
            ("menu_contacts", self.contacts),
            ("file_bursts", self.file_bursts),
            ("out_of_hours_replies", self.out_of_hours_replies),
        ]
    }

    pub fn total(&self) -> usize {
        self.per_table().iter().map(|(_, n)| n).sum()
    }

    /// True when a batch of `batch` found less than a full batch in every
    /// table it selects from: another call would find nothing left.
    pub fn exhausted(&self, batch: usize) -> bool {
        [
            self.messages,
            self.requests,
            self.contacts,
            self.file_bursts,
            self.out_of_hours_replies,
        ]
        .iter()
        .all(|&n| n < batch)
    }
}

impl AddAssign for RetentionStep {
    fn add_assign(&mut self, o: RetentionStep) {
        self.messages += o.messages;
        self.requests += o.requests;
        self.alerts += o.alerts;
        self.deliveries += o.deliveries;
        self.timers += o.timers;
        self.contacts += o.contacts;
        self.file_bursts += o.file_bursts;
        self.out_of_hours_replies += o.out_of_hours_replies;
    }
}

/// Deletes at most `batch` rows per table older than `cutoff_unix`, in one
/// short transaction: messages (except those of still-open requests: alert
/// texts quote them), closed requests with their alerts, deliveries and
/// timers; closed menu contacts, file bursts and out-of-hours replies of
/// closures that ended before the cutoff. Not the outbox: its entries are changes Postgres has not got
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
    let contacts = contacts::delete_closed_before(&tx, cutoff_unix, limit)?;
    let file_bursts = chat_options::delete_bursts_before(&tx, cutoff_unix, limit)?;
    let out_of_hours_replies = chat_options::delete_replies_before(&tx, cutoff_unix, limit)?;
    tx.commit()?;
    Ok(RetentionStep {
        messages,
        requests,
        alerts,
        deliveries,
        timers,
        contacts,
        file_bursts,
        out_of_hours_replies,
    })
}
