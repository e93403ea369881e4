//! Why a send failed, as the channel said it (typed, not a message string),
//! and the one function that turns it into a verdict: retry or stop.

use std::time::Duration;

/// What went wrong with one send, in the channel's own terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Cause {
    /// Telegram answered with an RPC error (`FLOOD_WAIT_31` is name
    /// `FLOOD_WAIT`, value 31).
    #[error("Telegram error {code} {name}{}", value.map(|v| format!(" ({v})")).unwrap_or_default())]
    TelegramRpc {
        code: i32,
        name: String,
        value: Option<u32>,
    },
    /// The network, the transport or the connection failed.
    #[error("network error: {0}")]
    Network(String),
    /// Not connected to the channel's server right now.
    #[error("not connected: {0}")]
    NotConnected(String),
    /// The call took longer than allowed.
    #[error("timed out after {} s", .0.as_secs())]
    Timeout(Duration),
    /// The SMTP server replied with this code.
    #[error("SMTP {code}: {message}")]
    SmtpReply { code: u16, message: String },
    /// The recipient cannot be addressed on this channel (a bad e-mail
    /// address, a chat id that is not one, a peer we never met).
    #[error("invalid recipient: {0}")]
    InvalidRecipient(String),
    /// The message must not go to this recipient (an alert to a client).
    #[error("refused: {0}")]
    Refused(String),
    /// The message itself cannot be sent as it is (too long callback data,
    /// an edit without a target).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The channel of the delivery is not configured (now).
    #[error("channel {0} is not configured")]
    NotConfigured(&'static str),
    /// Our own database failed (busy, full).
    #[error("local store: {0}")]
    Store(String),
}

/// What to do about a failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Worth another attempt; `wait` is how long the channel asked us to
    /// wait (Telegram's FLOOD_WAIT, for that chat only), else the backoff.
    Transient { wait: Option<Duration> },
    /// Retrying cannot help; `reason` is a short stable label for metrics.
    Permanent { reason: String },
}

impl Verdict {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Verdict::Permanent { .. })
    }
}

/// Telegram names that mean "this chat cannot be written to", whatever
/// code they come with.
const TELEGRAM_PERMANENT: &[&str] = &[
    "CHAT_ID_INVALID",
    "PEER_ID_INVALID",
    "USER_IS_BLOCKED",
    "BOT_BLOCKED",
    "USER_DEACTIVATED",
    "INPUT_USER_DEACTIVATED",
    "CHAT_WRITE_FORBIDDEN",
    "USER_BANNED_IN_CHANNEL",
    "CHANNEL_PRIVATE",
    "CHAT_RESTRICTED",
    "USER_IS_BOT",
];

/// Names that ask to wait, with the wait as the value.
const TELEGRAM_WAIT: &[&str] = &["FLOOD_WAIT", "SLOWMODE_WAIT", "FLOOD_PREMIUM_WAIT"];

/// The one decision transient vs permanent, for every channel.
pub fn verdict(cause: &Cause) -> Verdict {
    let permanent = |reason: &str| Verdict::Permanent {
        reason: reason.to_string(),
    };
    let transient = Verdict::Transient { wait: None };
    match cause {
        Cause::TelegramRpc { code, name, value } => {
            if *code == 420 || TELEGRAM_WAIT.contains(&name.as_str()) {
                // A wait without a number is unheard of; a minute is safe.
                let seconds = value.unwrap_or(60);
                return Verdict::Transient {
                    wait: Some(Duration::from_secs(u64::from(seconds))),
                };
            }
            if TELEGRAM_PERMANENT.contains(&name.as_str()) {
                return permanent(name);
            }
            match code {
                // Telegram's own trouble (incl. -503 timeouts): retry later.
                c if !(0..500).contains(c) => transient,
                // Unauthorized: our sign-in, not the message, is at fault;
                // the connect loop signs in again and the queue retries.
                401 => transient,
                // 400 (bad request), 403 (forbidden), 406 and the rest:
                // the same request would fail again.
                _ => permanent(name),
            }
        }
        Cause::Network(_) | Cause::NotConnected(_) | Cause::Timeout(_) | Cause::Store(_) => {
            transient
        }
        // A configuration reload may bring the channel back.
        Cause::NotConfigured(_) => transient,
        // Only an explicit 5xx is final; 4xx is "try later" in SMTP.
        Cause::SmtpReply { code, .. } if (500..600).contains(code) => {
            permanent(&format!("smtp_{code}"))
        }
        Cause::SmtpReply { .. } => transient,
        Cause::InvalidRecipient(_) => permanent("invalid_recipient"),
        Cause::Refused(_) => permanent("refused"),
        Cause::InvalidMessage(_) => permanent("invalid_message"),
    }
}

/// The `reason` label of a delivery that passed its deadline.
pub const DEADLINE: &str = "deadline";

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(code: i32, name: &str, value: Option<u32>) -> Cause {
        Cause::TelegramRpc {
            code,
            name: name.into(),
            value,
        }
    }

    fn perm(reason: &str) -> Verdict {
        Verdict::Permanent {
            reason: reason.into(),
        }
    }

    const RETRY: Verdict = Verdict::Transient { wait: None };

    #[test]
    fn the_mapping_table() {
        let wait = |s| Verdict::Transient {
            wait: Some(Duration::from_secs(s)),
        };
        let table: Vec<(Cause, Verdict)> = vec![
            (rpc(420, "FLOOD_WAIT", Some(31)), wait(31)),
            (rpc(420, "FLOOD_PREMIUM_WAIT", Some(5)), wait(5)),
            (rpc(400, "SLOWMODE_WAIT", Some(10)), wait(10)),
            (rpc(420, "FLOOD_WAIT", None), wait(60)),
            (rpc(500, "INTERNAL", None), RETRY),
            (rpc(-503, "Timeout", None), RETRY),
            (rpc(401, "AUTH_KEY_UNREGISTERED", None), RETRY),
            (rpc(400, "CHAT_ID_INVALID", None), perm("CHAT_ID_INVALID")),
            (rpc(400, "PEER_ID_INVALID", None), perm("PEER_ID_INVALID")),
            (rpc(403, "USER_IS_BLOCKED", None), perm("USER_IS_BLOCKED")),
            (
                rpc(403, "CHAT_WRITE_FORBIDDEN", None),
                perm("CHAT_WRITE_FORBIDDEN"),
            ),
            (rpc(400, "USER_DEACTIVATED", None), perm("USER_DEACTIVATED")),
            (
                rpc(400, "INPUT_USER_DEACTIVATED", None),
                perm("INPUT_USER_DEACTIVATED"),
            ),
            (rpc(403, "BOT_BLOCKED", None), perm("BOT_BLOCKED")),
            (rpc(400, "MESSAGE_TOO_LONG", None), perm("MESSAGE_TOO_LONG")),
            (Cause::Network("connection reset".into()), RETRY),
            (Cause::NotConnected("telegram".into()), RETRY),
            (Cause::Timeout(Duration::from_secs(60)), RETRY),
            (Cause::Store("database is locked".into()), RETRY),
            (Cause::NotConfigured("email"), RETRY),
            (
                Cause::SmtpReply {
                    code: 550,
                    message: "no such user".into(),
                },
                perm("smtp_550"),
            ),
            (
                Cause::SmtpReply {
                    code: 451,
                    message: "try later".into(),
                },
                RETRY,
            ),
            (
                Cause::InvalidRecipient("x".into()),
                perm("invalid_recipient"),
            ),
            (Cause::Refused("client chat".into()), perm("refused")),
            (
                Cause::InvalidMessage("64 bytes".into()),
                perm("invalid_message"),
            ),
        ];
        for (cause, want) in table {
            assert_eq!(verdict(&cause), want, "{cause}");
        }
    }

    #[test]
    fn causes_render_what_happened() {
        assert_eq!(
            rpc(420, "FLOOD_WAIT", Some(31)).to_string(),
            "Telegram error 420 FLOOD_WAIT (31)"
        );
        assert_eq!(
            rpc(403, "USER_IS_BLOCKED", None).to_string(),
            "Telegram error 403 USER_IS_BLOCKED"
        );
    }
}
