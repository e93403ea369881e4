//! The out-of-hours auto-reply: a request a client opens outside the
//! chat's working time gets one reply naming the next opening, at most
//! once per client per closure (one non-working stretch, named by the
//! opening that ends it: see [`crate::domain::hours`]).
//!
//! Per chat, off by default (`[menu] out_of_hours_reply`, `[[chats]]
//! out_of_hours_reply`, `buhbot chats set ID --out-of-hours-reply`). Runs
//! in the ingest transaction for messages that opened a request.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::clients;
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::hours::{closure, out_of_hours_html};
use crate::store::outbound::{Kind, NewOutbound, enqueue_built};
use crate::store::{Result, chat_options};

/// The dedupe key of the reply to a message.
pub fn dedupe_key(chat: i64, message_id: i64) -> String {
    format!("ooh:{chat}:{message_id}")
}

/// Replies to `m` (which opened a request) if it came outside working time
/// and its client got no reply in this closure yet. Returns whether it
/// queued one.
pub fn reply(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some((chat, user, eff)) = clients::client_message(conn, engine, m)? else {
        return Ok(false);
    };
    if !eff.config.out_of_hours_on(chat) {
        return Ok(false);
    }
    let calendar = engine.calendar(chat);
    // Judged at the message's own date: a message delivered late after a
    // reconnect still came when it came.
    let Some(opening) = closure(calendar, m.date) else {
        return Ok(false);
    };
    if !chat_options::note_out_of_hours(conn, chat, user, opening.timestamp(), now.timestamp())? {
        return Ok(false);
    }
    let mut msg = NewOutbound::new(
        dedupe_key(chat, m.message_id),
        chat,
        Kind::Reply,
        out_of_hours_html(opening, m.date, calendar),
    );
    msg.reply_to = Some(m.message_id);
    enqueue_built(conn, &msg, now.timestamp(), "an out-of-hours reply")?;
    tracing::info!(chat, message = m.message_id, "replied out of hours");
    Ok(true)
}
