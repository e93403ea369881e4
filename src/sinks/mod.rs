//! Alert sinks: the channels an alert leaves the daemon through (the log,
//! e-mail; Telegram's is `crate::bot::alert_sink`). Each implements the
//! core's [`AlertSink`] port: it sends one message to one recipient and says
//! why a failure happened in typed terms ([`Cause`]); whether to retry is
//! decided in one place, `crate::core::delivery::verdict`.

pub mod email;
pub mod log;

pub use crate::core::delivery::{
    AlertSink, Cause, Channel, Outgoing, SendFuture, SentReceipt, SinkError,
};
pub use email::{EmailConfigError, EmailSettings, EmailSink, TlsMode};
pub use log::LogSink;

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
