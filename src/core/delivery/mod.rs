//! One delivery pipeline for every outgoing message: the sink port, the
//! typed causes of failure and the one verdict on them, the one retry
//! policy, and the one place a final failure is logged and counted.
//!
//! An alert becomes one `alert_deliveries` row per (alert, recipient,
//! channel). The delivery worker sends log and e-mail deliveries itself and
//! retries them by the policy; a Telegram delivery is handed to the
//! outbound queue (status queued), whose sender retries it by the same
//! policy and marks it sent only when Telegram confirmed.

pub mod cause;
pub mod policy;
pub mod port;

pub use crate::store::deliveries::{Channel, DeliveryStatus};
pub use cause::{Cause, DEADLINE, Verdict, verdict};
pub use policy::{Backoff, Jitter, Next, RetryPolicy, backoff};
pub use port::{AlertSink, Outgoing, SendFuture, SentReceipt, SinkError};

use crate::metrics::catalogue as m;

/// A message that will not be sent: logged once at error level and counted
/// in `buhbot_deliveries_failed_total{channel, reason}`. Every channel's
/// final failure (permanent, or the deadline passed) goes through here.
pub fn report_final_failure(channel: Channel, reason: &str, what: &str, error: &str) {
    tracing::error!(%channel, reason, error, "{what} will not be delivered");
    ::metrics::counter!(m::DELIVERIES_FAILED_TOTAL,
        "channel" => channel.as_label(), "reason" => reason.to_string())
    .increment(1);
}

impl Channel {
    /// The metric label (the stored spelling).
    pub fn as_label(self) -> &'static str {
        crate::store::codec::StoredEnum::as_str(self)
    }
}
