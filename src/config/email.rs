//! SMTP settings, validated from `[email]` (the sink in
//! `crate::sinks::email` sends with them).

use std::time::Duration;

use super::Secret;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connect, then STARTTLS, which is required (port 587 usually).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465 usually).
    Implicit,
    /// No encryption; only for a relay on this machine.
    None,
}

/// SMTP settings. `Debug` is safe to log: the password is a [`Secret`].
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Sender mailbox, a display name allowed: `БухБот <bot@firm.ru>`.
    pub from: String,
    /// Bound on connecting and on each SMTP command.
    pub timeout: Duration,
}
