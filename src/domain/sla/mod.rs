//! Request tracking and alert planning for one chat (pure).
//!
//! [`ChatTracker`] turns the messages of a chat, in order, into request
//! changes (opened, joined, answered); [`plan_alerts`] and [`outcome`] derive
//! the alert schedule and the SLA result of a request from its received and
//! answered instants. Nothing here reads the clock: "now" is always passed in.

mod plan;
mod tracker;

pub use plan::{
    AlertKind, Outcome, PlannedAlert, Policy, alert_fires, alert_offsets, outcome, plan_alerts,
    plan_alerts_from,
};
pub use tracker::{
    Change, ChatContext, ChatTracker, ClientMessages, Inbound, OpenRequest, SenderKind,
};

/// Telegram user id.
pub type UserId = i64;
/// Telegram message id, unique within a chat.
pub type MessageId = i64;
