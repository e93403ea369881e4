//! The port every alert channel implements (the log, e-mail, Telegram): it
//! sends one message to one recipient once and, on failure, says why in
//! typed terms. Retrying is the caller's job, by [`super::verdict`] and the
//! [`super::RetryPolicy`]; a sink never loops or sleeps.

use std::future::Future;
use std::pin::Pin;

use super::{Cause, Channel, Verdict, verdict};

/// One alert addressed to one recipient, already rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Row id of the delivery; lets a sink make retries idempotent.
    pub delivery_id: i64,
    /// Address in the sink's own terms (an e-mail address, a chat id).
    pub recipient: String,
    pub subject: String,
    /// HTML fragment (Telegram's parse-mode subset, newlines significant).
    pub html: String,
    pub plain: String,
}

/// What the channel did with an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentReceipt {
    /// Delivered; the channel-side id (e-mail Message-ID), if any.
    Sent { id: Option<String> },
    /// Handed to the Telegram outbound queue as this row; the delivery is
    /// already marked queued (in the enqueue's transaction) and becomes
    /// sent when Telegram confirms.
    Queued { outbound_id: i64 },
}

/// A failed send: which channel, to whom, and the typed cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel}: sending to {recipient} failed: {cause}")]
pub struct SinkError {
    pub channel: Channel,
    pub recipient: String,
    #[source]
    pub cause: Cause,
}

impl SinkError {
    pub fn new(channel: Channel, recipient: impl Into<String>, cause: Cause) -> Self {
        SinkError {
            channel,
            recipient: recipient.into(),
            cause,
        }
    }

    pub fn verdict(&self) -> Verdict {
        verdict(&self.cause)
    }

    pub fn is_transient(&self) -> bool {
        !self.verdict().is_permanent()
    }

    pub fn recipient(&self) -> &str {
        &self.recipient
    }
}

/// The future a sink's `send` returns. Boxed so that `AlertSink` stays
/// object-safe: the worker holds sinks as `Arc<dyn AlertSink>`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<SentReceipt, SinkError>> + Send + 'a>>;

/// A channel alerts can be sent through.
pub trait AlertSink: Send + Sync {
    /// The channel it serves (deliveries name it).
    fn channel(&self) -> Channel;

    /// Sends `msg` once. Never retries: the caller decides by the cause.
    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a>;
}
