//! What the bot's client helpers (file receipts, the out-of-hours reply)
//! share: which messages are a client's in a monitored group, and queueing
//! a plain message in the ingest transaction.

use std::sync::Arc;

use rusqlite::Connection;

use super::auth;
use crate::core::effective::Effective;
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::sla::SenderKind;
use crate::store::Result;
use crate::store::outbound::{self as queue, NewOutbound};

/// A client's new message in a monitored group: (chat, user) and the
/// effective settings it was judged on. `None` for staff (the firm's users,
/// any chat's accountants and managers), edits, service messages, private
/// chats, commands and chats outside the configuration, and for a late
/// message of a group that became a supergroup (it cannot be replied to
/// there).
pub fn client_message(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
) -> Result<Option<(i64, i64, Arc<Effective>)>> {
    let SenderKind::User(user) = m.sender else {
        return Ok(None);
    };
    let chat = engine.current_id(m.chat_id);
    if chat != m.chat_id
        || m.edit_version != 0
        || m.service
        || chat > 0
        || m.text.trim_start().starts_with('/')
        || !engine.config.chats.contains_key(&chat)
    {
        return Ok(None);
    }
    let eff = engine.effective(conn)?;
    if auth::role_of(conn, &eff, user)?.is_staff() {
        return Ok(None);
    }
    Ok(Some((chat, user, eff)))
}

/// Queues `msg` (its dedupe key makes a redelivery queue nothing).
pub fn enqueue(conn: &Connection, msg: &NewOutbound, now: i64) -> Result<()> {
    match queue::enqueue(conn, msg, now) {
        Ok(_) => Ok(()),
        Err(queue::EnqueueError::Store { source, .. }) => Err(source),
        // A plain message has nothing the queue could refuse.
        Err(e) => {
            tracing::error!("cannot queue a client helper message: {e}");
            Ok(())
        }
    }
}
