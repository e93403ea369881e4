//! The always-available sink: an alert becomes one `warn!` event, so that
//! even with every external channel down the journal shows what was due.

use super::{AlertSink, Channel, Outgoing, SendFuture, SentReceipt};

/// Writes alerts to the tracing log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl LogSink {
    pub const NAME: &'static str = "log";
}

/// First non-empty line of the plain text: the headline. The rest carries the
/// client's message, which does not belong in a log that is kept for months.
fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

impl AlertSink for LogSink {
    fn channel(&self) -> Channel {
        Channel::Log
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        tracing::warn!(
            sink = Self::NAME,
            delivery_id = msg.delivery_id,
            recipient = %msg.recipient,
            subject = %msg.subject,
            text = first_line(&msg.plain),
            "SLA alert"
        );
        Box::pin(std::future::ready(Ok(SentReceipt::Sent { id: None })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines() {
        assert_eq!(first_line("\n  Нарушен срок  \nЧат: x"), "Нарушен срок");
        assert_eq!(first_line(""), "");
    }
}
