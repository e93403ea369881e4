//! Request tracking and alert planning for one chat (pure).
//!
//! [`ChatTracker`] turns the messages of a chat, in order, into request
//! changes (opened, joined, answered); [`plan_alerts`] and [`outcome`] derive
//! the alert schedule and the SLA result of a request from its received and
//! answered instants. Nothing here reads the clock: "now" is always passed in.

mod plan;
mod report;
mod status;
mod summary;
mod tracker;

pub use plan::{
    AlertKind, Outcome, PlannedAlert, Policy, SlaClock, alert_fires, alert_offsets, outcome,
    plan_alerts, plan_alerts_from,
};
pub use report::{Group, Line};
pub use status::{Closing, RequestStatus, Resolution};
pub use summary::{RequestFigures, Summary};
pub use tracker::{
    Change, ChatContext, ChatTracker, ClientMessages, Inbound, OpenRequest, SenderKind,
};

/// Telegram user id.
pub type UserId = i64;
/// Telegram message id, unique within a chat.
pub type MessageId = i64;

/// Nearest-rank percentile of sorted values: the one definition of
/// median and p95 response times, for reports and bot statistics alike.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}
