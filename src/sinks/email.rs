//! E-mail sink over SMTP (lettre, tokio, rustls). One message per recipient,
//! multipart/alternative with the plain text first and the HTML second.

use std::net::IpAddr;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{AlertSink, Cause, Channel, Outgoing, SendFuture, SentReceipt, SinkError, error_chain};
pub use crate::config::{EmailSettings, TlsMode};

/// Settings that cannot work; found at startup, not at the first alert.
#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    #[error(
        "SMTP host {host:?} is not a loopback address: unencrypted SMTP (tls = none) is only allowed to localhost"
    )]
    PlaintextToRemote { host: String },
    #[error("SMTP sender {from:?} is not a valid mailbox: {source}")]
    InvalidFrom {
        from: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error("SMTP {field} is set but {missing} is not; set both or neither")]
    HalfCredentials {
        field: &'static str,
        missing: &'static str,
    },
    #[error("cannot set up TLS for SMTP host {host:?}: {source}")]
    Tls {
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    #[error(
        "the e-mail sink must be created inside a tokio runtime (its connection pool spawns a task)"
    )]
    NoRuntime,
}

/// Sends alerts by e-mail.
pub struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

impl std::fmt::Debug for EmailSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSink")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// `localhost` or a loopback IP (brackets allowed around IPv6).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl EmailSink {
    pub const NAME: &'static str = "email";

    /// Validates the settings and prepares the (pooled) transport. No
    /// connection is made yet: a relay that is down at startup must not
    /// keep the daemon from starting. Must run inside a tokio runtime.
    pub fn new(settings: EmailSettings) -> Result<EmailSink, EmailConfigError> {
        let EmailSettings {
            host,
            port,
            tls,
            username,
            password,
            from,
            timeout,
        } = settings;
        let from_mailbox: Mailbox = from
            .parse()
            .map_err(|source| EmailConfigError::InvalidFrom { from, source })?;
        let credentials = match (username, password) {
            (Some(user), Some(pass)) => Some(Credentials::new(user, pass.expose().to_string())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(EmailConfigError::HalfCredentials {
                    field: "username",
                    missing: "password",
                });
            }
            (None, Some(_)) => {
                return Err(EmailConfigError::HalfCredentials {
                    field: "password",
                    missing: "username",
                });
            }
        };
        let tls_error = |source| EmailConfigError::Tls {
            host: host.clone(),
            source,
        };
        let builder = match tls {
            TlsMode::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(tls_error)?
            }
            TlsMode::Implicit => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(tls_error)?
            }
            TlsMode::None if is_loopback(&host) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            }
            TlsMode::None => return Err(EmailConfigError::PlaintextToRemote { host }),
        };
        // relay()/starttls_relay() set 465/587; the configured port wins.
        let mut builder = builder.port(port).timeout(Some(timeout));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        // build() spawns the pool's cleanup task and would panic outside a
        // runtime; report that as a setup error instead.
        tokio::runtime::Handle::try_current().map_err(|_| EmailConfigError::NoRuntime)?;
        Ok(EmailSink {
            transport: builder.build(),
            from: from_mailbox,
            host,
            port,
        })
    }

    /// Builds the message for one recipient; `Err` is the text of a problem
    /// no retry can fix.
    fn message(&self, msg: &Outgoing) -> Result<(Message, String), Cause> {
        let to: Mailbox = msg
            .recipient
            .parse()
            .map_err(|e| Cause::InvalidRecipient(format!("invalid e-mail address: {e}")))?;
        // Stable per delivery, so that a retry after an attempt whose outcome
        // was unknown (timeout after DATA) can be recognised as a duplicate.
        let message_id = format!(
            "<buhbot.delivery-{}@{}>",
            msg.delivery_id,
            self.from.email.domain()
        );
        let body = MultiPart::alternative()
            .singlepart(SinglePart::plain(msg.plain.clone()))
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html_document(&msg.html)),
            );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.as_str())
            .message_id(Some(message_id.clone()))
            .multipart(body)
            .map_err(|e| Cause::InvalidMessage(format!("cannot build message: {e}")))?;
        Ok((message, message_id))
    }
}

/// Wraps the Telegram-style HTML fragment into a document. Its line breaks
/// are plain `\n`, which mail clients would collapse without `pre-wrap`.
fn html_document(fragment: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body><div style=\"white-space: pre-wrap\">{fragment}</div></body></html>\n"
    )
}

/// The typed cause of an SMTP failure: the server's reply code when it
/// answered (the verdict makes only 5xx final), else a timeout or a
/// network problem (refused connection, TLS handshake, garbled reply).
fn cause(err: &lettre::transport::smtp::Error) -> Cause {
    let message = error_chain(err);
    if let Some(code) = err.status() {
        return Cause::SmtpReply {
            code: u16::from(code),
            message,
        };
    }
    if err.is_timeout() {
        return Cause::Network(format!("timed out: {message}"));
    }
    Cause::Network(message)
}

impl AlertSink for EmailSink {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let fail = |cause| SinkError::new(Channel::Email, msg.recipient.clone(), cause);
            let (message, message_id) = self.message(msg).map_err(fail)?;
            match self.transport.send(message).await {
                Ok(_) => Ok(SentReceipt::Sent {
                    id: Some(message_id),
                }),
                Err(err) => Err(fail(cause(&err))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["smtp.firm.ru", "10.0.0.1", "localhost.evil.com", "0.0.0.0"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
