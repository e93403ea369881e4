//! Settings changed from the shell (users, chats, chat staff, calendars):
//! their typed errors, the settings revision and the audit trail.
//!
//! The revision is a counter in `transport_state` under the source
//! `settings` (no migration needed: that table is already a keyed bag of
//! small positions). Every change bumps it in the same transaction as the
//! change itself, so the daemon polling it (a primary-key read) sees a new
//! value exactly when there is something new to load.

use rusqlite::Connection;
use serde_json::Value;

use super::{StoreError, state};
use crate::config::Problem;

/// The `transport_state` row holding the settings revision.
pub const REVISION_SOURCE: &str = "settings";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no user {0}")]
    NoUser(i64),
    #[error("no chat {0}")]
    NoChat(i64),
    #[error("user {0} already exists (use `buhbot users set`)")]
    UserExists(i64),
    #[error("invalid role {0:?}: expected admin, manager, accountant or observer")]
    Role(String),
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        field: &'static str,
        min: i64,
        max: i64,
        value: i64,
    },
    #[error("invalid invite link {0:?}: expected https://t.me/+… or https://t.me/joinchat/…")]
    InviteLink(String),
    #[error("invalid calendar:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Calendar(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SettingsError {
    fn from(e: rusqlite::Error) -> Self {
        SettingsError::Store(StoreError::Sql(e))
    }
}

pub type Result<T, E = SettingsError> = std::result::Result<T, E>;

/// Checks `value` lies in `min..=max`, naming the field and the value.
pub fn check_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<i64> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(SettingsError::OutOfRange {
            field,
            min,
            max,
            value,
        })
    }
}

/// The current settings revision (0 before the first change).
pub fn revision(conn: &Connection) -> super::Result<i64> {
    let pos = state::position(conn, REVISION_SOURCE)?;
    Ok(pos.and_then(|p| p.parse().ok()).unwrap_or(0))
}

fn bump(conn: &Connection, now: i64) -> super::Result<()> {
    state::increment(conn, REVISION_SOURCE, now)
}

/// One change to record: `entity` is the table, `key` the row's key; a
/// `null` new value records a deletion.
pub struct Change<'a> {
    pub by: &'a str,
    pub entity: &'a str,
    pub key: String,
    pub what: String,
    pub old: Value,
    pub new: Value,
}

/// Bumps the revision and writes the audit line (who, what, old → new) to
/// the log and to `audit_log`, in the caller's transaction. The row itself
/// reaches Postgres through the outbox triggers.
pub fn record(conn: &Connection, c: Change<'_>, now: i64) -> super::Result<()> {
    bump(conn, now)?;
    tracing::info!(
        by = c.by,
        entity = c.entity,
        key = %c.key,
        old = %c.old,
        new = %c.new,
        "settings change: {}",
        c.what
    );
    conn.prepare_cached(
        "INSERT INTO audit_log (at, by, entity, entity_key, what, old, new)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(rusqlite::params![
        now,
        c.by,
        c.entity,
        c.key,
        c.what,
        c.old.to_string(),
        c.new.to_string()
    ])?;
    Ok(())
}
