//! File receipts: a client's document or photo is confirmed in the chat
//! (name, size, local time), once per burst, and the chat's accountants
//! are told in private (`[receipts] notify_accountant`).
//!
//! Runs in the ingest transaction after the message is logged, like the
//! FAQ answers: the burst's state, the confirmation and the notices commit
//! with the message, and a redelivered message (a duplicate) is not looked
//! at again. Per chat: `[[chats]] receipts` or `buhbot chats set ID
//! --receipts on|off`; never for staff.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::clients;
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::receipts::{accountant_notice_html, receipt_html, starts_burst};
use crate::store::outbound::{Kind, NewOutbound, enqueue_built};
use crate::store::{Result, chat_options};

/// What [`confirm`] queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    /// Private notices to the chat's accountants.
    pub notices: usize,
}

/// The dedupe key of the confirmation of a message.
pub fn dedupe_key(chat: i64, message_id: i64) -> String {
    format!("receipt:{chat}:{message_id}")
}

/// Confirms `m` if it is a client's file that starts a burst; call after
/// [`Engine::ingest`] logged it (not for duplicates).
pub fn confirm(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
    now: DateTime<Utc>,
) -> Result<Option<Confirmed>> {
    let settings = engine.config.receipts;
    let Some(attachment) = &m.attachment else {
        return Ok(None);
    };
    let Some((chat, user, eff)) = clients::client_message(conn, engine, m)? else {
        return Ok(None);
    };
    if !eff.config.receipts_on(chat) {
        return Ok(None);
    }
    let at = m.date.timestamp();
    let previous = chat_options::note_file(conn, chat, user, at)?;
    if !starts_burst(previous, at, settings.burst_seconds) {
        return Ok(None);
    }
    let tz = engine.calendar(chat).timezone();
    let mut reply = NewOutbound::new(
        dedupe_key(chat, m.message_id),
        chat,
        Kind::Reply,
        receipt_html(attachment, m.date, tz),
    );
    reply.reply_to = Some(m.message_id);
    enqueue_built(conn, &reply, now.timestamp(), "a file receipt")?;
    let mut notices = 0;
    if settings.notify_accountant
        && let Some(cfg) = eff.config.chats.get(&chat)
    {
        let title = cfg
            .title
            .clone()
            .or_else(|| m.chat_title.clone())
            .unwrap_or_else(|| chat.to_string());
        let client = m.sender_name.as_deref().unwrap_or("Клиент");
        let text = accountant_notice_html(attachment, client, &title, m.date, tz);
        for &accountant in &cfg.accountants {
            let msg = NewOutbound::new(
                format!("{}:{accountant}", dedupe_key(chat, m.message_id)),
                accountant,
                Kind::Alert,
                text.clone(),
            );
            enqueue_built(
                conn,
                &msg,
                now.timestamp(),
                "an accountant's notice of a file",
            )?;
            notices += 1;
        }
    }
    tracing::info!(
        chat,
        message = m.message_id,
        notices,
        "confirmed a client's file"
    );
    Ok(Some(Confirmed { notices }))
}
