//! Alert sinks: the channels an alert leaves the daemon through (the log,
//! e-mail, later Telegram). Each sink sends one message to one recipient and
//! says whether a failure is worth retrying; retrying itself is the delivery
//! worker's job, so a sink never loops or sleeps.

pub mod email;
pub mod log;

use std::future::Future;
use std::pin::Pin;

pub use email::{EmailConfigError, EmailSettings, EmailSink, TlsMode};
pub use log::LogSink;

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

/// What the channel told us about an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SentReceipt {
    /// Channel-side id (e-mail Message-ID, Telegram message id), if any.
    pub id: Option<String>,
}

/// Why a send failed, split by what the delivery worker should do next.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth another attempt later: connection refused, timeout, TLS
    /// handshake trouble, SMTP 4xx.
    #[error("{sink}: sending to {recipient} failed (will retry): {message}")]
    Transient {
        sink: &'static str,
        recipient: String,
        message: String,
    },
    /// Retrying the same message cannot help: invalid address, SMTP 5xx.
    #[error("{sink}: sending to {recipient} failed permanently: {message}")]
    Permanent {
        sink: &'static str,
        recipient: String,
        message: String,
    },
}

impl SinkError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Transient { .. })
    }

    pub fn recipient(&self) -> &str {
        match self {
            SinkError::Transient { recipient, .. } | SinkError::Permanent { recipient, .. } => {
                recipient
            }
        }
    }
}

/// The future a sink's `send` returns. Boxed so that `AlertSink` stays
/// object-safe: the worker holds sinks as `Arc<dyn AlertSink>`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<SentReceipt, SinkError>> + Send + 'a>>;

/// A channel alerts can be sent through.
pub trait AlertSink: Send + Sync {
    /// Short stable name for logs, metrics and the delivery table.
    fn name(&self) -> &'static str;

    /// Sends `msg` once. Never retries: the caller decides by the error kind.
    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a>;
}

/// Renders an error with its whole `source()` chain, because lettre's own
/// `Display` often says only "Connection error" and hides the io cause.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
