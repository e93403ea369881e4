//! The `outbound_messages` table: the persistent Telegram queue (see
//! `crate::telegram::outbound` for the sender and its guarantees):
//! enqueueing and the sender's state changes.
//!
//! Each state change is one statement, hence one atomic write; the one that
//! matters for crash safety is [`mark_sent`], which stores the Telegram
//! message id together with the `sent` status. [`confirm_sent`] and
//! [`record_final`] also settle the alert delivery of an alert row in the
//! same transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::codec::column;
use super::deliveries::{self, DeliveryStatus};
use crate::store::StoreError;

const TABLE: &str = "outbound_messages";

/// Telegram refuses callback data longer than this (bytes).
pub const MAX_CALLBACK_DATA: usize = 64;

/// What a queued message is; stored in `outbound_messages.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An SLA alert, or a release or crash-loop notice
    /// (`crate::daemon::starts`), to a staff member's private chat.
    Alert,
    /// A message in a chat answering a user.
    Reply,
    /// A new text for a message sent earlier (`edit_of`).
    Edit,
}
crate::stored_enum!(Kind, "outbound kind", {
    Alert => "alert", Reply => "reply", Edit => "edit",
});

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutboundStatus {
    /// Waiting for an attempt (first, or again after a transient failure
    /// or a FLOOD_WAIT) at `next_attempt_at`.
    Pending,
    /// Committed before the API call: found at start-up, the outcome of the
    /// call is unknown.
    Sending,
    /// Telegram confirmed it (`telegram_message_id`).
    Sent,
    /// Telegram refused it for good (chat not found, bot blocked…).
    Failed,
    /// Still failing at the deadline.
    GivenUp,
}
crate::stored_enum!(OutboundStatus, "outbound status", {
    Pending => "pending", Sending => "sending", Sent => "sent",
    Failed => "failed", GivenUp => "given_up",
});

/// One inline-keyboard button: either callback data or a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A queued message as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub id: i64,
    pub dedupe_key: String,
    pub chat_id: i64,
    /// HTML (Telegram's parse-mode subset).
    pub text: String,
    /// Inline keyboard rows; empty for none.
    pub buttons: Vec<Vec<Button>>,
    pub reply_to: Option<i64>,
    pub kind: Kind,
    /// For [`Kind::Edit`]: the Telegram message id (in `chat_id`) to edit.
    pub edit_of: Option<i64>,
    pub attempts: i64,
    pub created_at: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound {
    /// One per logical message: `alert:<delivery_id>`, `reply:<chat>:<msg>`…
    pub dedupe_key: String,
    pub chat_id: i64,
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
    pub reply_to: Option<i64>,
    pub kind: Kind,
    pub edit_of: Option<i64>,
}

impl NewOutbound {
    /// A plain message of `kind` (not an edit).
    pub fn new(
        dedupe_key: impl Into<String>,
        chat_id: i64,
        kind: Kind,
        text: impl Into<String>,
    ) -> Self {
        NewOutbound {
            dedupe_key: dedupe_key.into(),
            chat_id,
            text: text.into(),
            buttons: Vec::new(),
            reply_to: None,
            kind,
            edit_of: None,
        }
    }
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row with this id.
    New(i64),
    /// The dedupe key was already queued (as this row); nothing changed.
    Duplicate(i64),
}

impl Enqueued {
    pub fn id(self) -> i64 {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error(
        "outbound message {key}: button {text:?} has callback data of {len} bytes (Telegram allows {MAX_CALLBACK_DATA})"
    )]
    CallbackTooLong {
        key: String,
        text: String,
        len: usize,
    },
    #[error("outbound message {key}: button {text:?} needs exactly one of callback data and URL")]
    BadButton { key: String, text: String },
    #[error("outbound message {key}: an edit needs edit_of, and only an edit may have it")]
    EditTarget { key: String },
    #[error("outbound message {key}: cannot store it: {source}")]
    Store {
        key: String,
        #[source]
        source: StoreError,
    },
}

fn validate(msg: &NewOutbound) -> Result<(), EnqueueError> {
    let key = || msg.dedupe_key.clone();
    if (msg.kind == Kind::Edit) != msg.edit_of.is_some() {
        return Err(EnqueueError::EditTarget { key: key() });
    }
    for b in msg.buttons.iter().flatten() {
        match (&b.callback_data, &b.url) {
            (Some(data), None) if data.len() > MAX_CALLBACK_DATA => {
                return Err(EnqueueError::CallbackTooLong {
                    key: key(),
                    text: b.text.clone(),
                    len: data.len(),
                });
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(EnqueueError::BadButton {
                    key: key(),
                    text: b.text.clone(),
                });
            }
        }
    }
    Ok(())
}

/// What an enqueue of messages buhbot built itself comes to inside the
/// caller's transaction: a store failure is returned (the caller rolls
/// back); a refusal — the queue refuses only malformed buttons or edits,
/// so a bug — is logged and that one message skipped, so that the rest of
/// the change (a vote, a step, a command) still stands.
pub fn refusal_logged<T>(r: Result<T, EnqueueError>, what: &str) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(EnqueueError::Store { source, .. }) => Err(source),
        Err(e) => {
            tracing::error!("cannot queue {what}: {e}");
            Ok(None)
        }
    }
}

/// [`enqueue`] of a message buhbot built itself, `what` naming it for the
/// log ([`refusal_logged`]).
pub fn enqueue_built(
    conn: &Connection,
    msg: &NewOutbound,
    now: i64,
    what: &str,
) -> Result<Option<Enqueued>, StoreError> {
    refusal_logged(enqueue(conn, msg, now), what)
}

/// Queues `msg` unless its dedupe key is already queued (in any state).
/// The first enqueue wins: a duplicate with another text changes nothing.
pub fn enqueue(conn: &Connection, msg: &NewOutbound, now: i64) -> Result<Enqueued, EnqueueError> {
    validate(msg)?;
    let store_err = |e: rusqlite::Error| EnqueueError::Store {
        key: msg.dedupe_key.clone(),
        source: e.into(),
    };
    let buttons = if msg.buttons.is_empty() {
        None
    } else {
        // Serialising plain strings cannot fail.
        Some(serde_json::to_string(&msg.buttons).unwrap_or_default())
    };
    let n = conn
        .prepare_cached(
            "INSERT INTO outbound_messages
                 (dedupe_key, chat_id, text, buttons, reply_to, kind, edit_of, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                msg.dedupe_key,
                msg.chat_id,
                msg.text,
                buttons,
                msg.reply_to,
                msg.kind,
                msg.edit_of,
                now
            ])
        })
        .map_err(store_err)?;
    if n == 1 {
        return Ok(Enqueued::New(conn.last_insert_rowid()));
    }
    let id = conn
        .query_row(
            "SELECT id FROM outbound_messages WHERE dedupe_key = ?1",
            [&msg.dedupe_key],
            |r| r.get(0),
        )
        .map_err(store_err)?;
    Ok(Enqueued::Duplicate(id))
}

const COLUMNS: &str =
    "id, dedupe_key, chat_id, text, buttons, reply_to, kind, edit_of, attempts, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OutboundMessage> {
    let buttons: Option<String> = r.get(4)?;
    Ok(OutboundMessage {
        id: r.get(0)?,
        dedupe_key: r.get(1)?,
        chat_id: r.get(2)?,
        text: r.get(3)?,
        // Written by enqueue from typed rows, so it parses; a hand-edited
        // row with junk loses its keyboard rather than its text.
        buttons: buttons
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default(),
        reply_to: r.get(5)?,
        kind: column(r, 6, TABLE, "kind")?,
        edit_of: r.get(7)?,
        attempts: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// Messages the sender may attempt at `now`, oldest first: the oldest
/// unsent message of each chat if it is due (per-chat order). Permanently
/// failed messages are never attempted again and hold no place.
pub fn due(conn: &Connection, now: i64, limit: i64) -> Result<Vec<OutboundMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbound_messages o
         WHERE status = 'pending' AND next_attempt_at <= ?1
           AND id = (
             SELECT min(id) FROM outbound_messages i
             WHERE i.chat_id = o.chat_id AND i.status IN ('pending', 'sending'))
         ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The earliest retry time after `now`, if any (for the sender's sleep).
pub fn next_due_after(conn: &Connection, now: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row(
        "SELECT min(next_attempt_at) FROM outbound_messages
         WHERE status = 'pending' AND next_attempt_at > ?1",
        [now],
        |r| r.get(0),
    )?)
}

/// Rows a previous process left in flight.
pub fn in_flight(conn: &Connection) -> Result<Vec<OutboundMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbound_messages WHERE status = 'sending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Commits the attempt start before the API call: after a crash the row
/// says "outcome unknown" instead of "never tried".
pub fn mark_sending(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbound_messages SET status = 'sending', attempt_started_at = ?2
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// The send succeeded: status and Telegram id in one statement.
pub fn mark_sent(conn: &Connection, id: i64, telegram_id: i64, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbound_messages SET status = 'sent', telegram_message_id = ?2, sent_at = ?3,
             attempts = attempts + 1, last_error = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, telegram_id, now])?;
    Ok(())
}

/// Marks row `id` sent as `telegram_id` and, for an alert, its delivery
/// sent with that id: one transaction, so the delivery is "sent" exactly
/// when the message is.
pub fn confirm_sent(
    conn: &mut Connection,
    id: i64,
    telegram_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    let tx = super::write_tx(conn)?;
    mark_sent(&tx, id, telegram_id, now)?;
    deliveries::confirm_outbound(&tx, id, telegram_id, now)?;
    tx.commit()?;
    Ok(())
}

/// Row `id` failed for good (`status` is [`OutboundStatus::Failed`] or
/// [`OutboundStatus::GivenUp`]); an alert's delivery follows it, with
/// `reason`, in the same transaction.
pub fn record_final(
    conn: &mut Connection,
    id: i64,
    status: OutboundStatus,
    reason: &str,
    error: &str,
    now: i64,
) -> Result<(), StoreError> {
    let delivery = match status {
        OutboundStatus::GivenUp => DeliveryStatus::GivenUp,
        _ => DeliveryStatus::Failed,
    };
    let tx = super::write_tx(conn)?;
    record_failure(&tx, id, status, error, now)?;
    deliveries::fail_outbound(&tx, id, delivery, reason, error)?;
    tx.commit()?;
    Ok(())
}

/// A failed (or interrupted) attempt: `status` is pending (retried at
/// `next_attempt_at`), failed or given_up.
pub fn record_failure(
    conn: &Connection,
    id: i64,
    status: OutboundStatus,
    error: &str,
    next_attempt_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbound_messages SET status = ?2, attempts = attempts + 1, last_error = ?3,
             next_attempt_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, status, error, next_attempt_at])?;
    Ok(())
}

/// A row's state, for the CLI and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowState {
    pub id: i64,
    pub dedupe_key: String,
    pub status: OutboundStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub telegram_message_id: Option<i64>,
}

pub fn state(conn: &Connection, dedupe_key: &str) -> Result<Option<RowState>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, dedupe_key, status, attempts, next_attempt_at, last_error, telegram_message_id
             FROM outbound_messages WHERE dedupe_key = ?1",
            [dedupe_key],
            |r| {
                Ok(RowState {
                    id: r.get(0)?,
                    dedupe_key: r.get(1)?,
                    status: column(r, 2, TABLE, "status")?,
                    attempts: r.get(3)?,
                    next_attempt_at: r.get(4)?,
                    last_error: r.get(5)?,
                    telegram_message_id: r.get(6)?,
                })
            },
        )
        .optional()?)
}

/// Number of rows per status.
pub fn counts(conn: &Connection) -> Result<Vec<(OutboundStatus, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, count(*) FROM outbound_messages GROUP BY status ORDER BY status",
    )?;
    let rows = stmt.query_map([], |r| Ok((column(r, 0, TABLE, "status")?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An alert message Telegram accepted: what a button press on it may edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentAlert {
    pub chat_id: i64,
    /// Telegram's id of the message in `chat_id`.
    pub message_id: i64,
    /// The text as first sent (edits build on it, not on each other).
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
}

/// The sent alert messages about `request_id`, oldest first. The link is
/// the sink's dedupe key `alert:<delivery_id>`.
pub fn sent_alerts_for_request(
    conn: &Connection,
    request_id: i64,
) -> Result<Vec<SentAlert>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.chat_id, o.telegram_message_id, o.text, o.buttons
         FROM sla_alerts a
         JOIN alert_deliveries d ON d.alert_id = a.id
         JOIN outbound_messages o ON o.dedupe_key = 'alert:' || d.id
         WHERE a.request_id = ?1 AND o.kind = 'alert' AND o.telegram_message_id IS NOT NULL
         ORDER BY o.id",
    )?;
    let rows = stmt.query_map([request_id], |r| {
        let buttons: Option<String> = r.get(3)?;
        Ok(SentAlert {
            chat_id: r.get(0)?,
            message_id: r.get(1)?,
            text: r.get(2)?,
            buttons: buttons
                .and_then(|b| serde_json::from_str(&b).ok())
                .unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
