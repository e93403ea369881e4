//! What the bot's client helpers (FAQ answers, file receipts, the
//! out-of-hours reply, the menu's contacts, survey comments) share: which
//! messages are a user's, or a client's, in a monitored group.

use std::sync::Arc;

use rusqlite::Connection;

use super::auth;
use crate::core::effective::Effective;
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::sla::SenderKind;
use crate::store::Result;

/// A user's new message in a monitored group, before any store read:
/// (chat, user). `None` for edits, service messages, private chats,
/// commands, chats outside the configuration, and a late message of a
/// group that became a supergroup (it cannot be replied to there).
pub fn group_message(engine: &Engine, m: &MessageEvent) -> Option<(i64, i64)> {
    group_post(engine, m).filter(|_| !m.text.trim_start().starts_with('/'))
}

/// [`group_message`], commands included.
pub fn group_post(engine: &Engine, m: &MessageEvent) -> Option<(i64, i64)> {
    let SenderKind::User(user) = m.sender else {
        return None;
    };
    let chat = engine.current_id(m.chat_id);
    if chat != m.chat_id
        || m.edit_version != 0
        || m.service
        || chat > 0
        || !engine.config.chats.contains_key(&chat)
    {
        return None;
    }
    Some((chat, user))
}

/// A client's new message in a monitored group ([`group_message`] whose
/// sender is not staff: the firm's users, any chat's accountants and
/// managers): (chat, user) and the effective settings it was judged on.
pub fn client_message(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
) -> Result<Option<(i64, i64, Arc<Effective>)>> {
    let Some((chat, user)) = group_message(engine, m) else {
        return Ok(None);
    };
    let eff = engine.effective(conn)?;
    if auth::role_of(conn, &eff, user)?.is_staff() {
        return Ok(None);
    }
    Ok(Some((chat, user, eff)))
}
