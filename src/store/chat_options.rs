//! Per-chat switches of the bot's client helpers set from the shell
//! (`chat_options`): file receipts and the out-of-hours reply. NULL (or no
//! row) follows the configuration; see `crate::core::effective`.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::settings::{self, Change};

/// A chat's switches; `None` = the configuration's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChatOptions {
    pub receipts: Option<bool>,
    pub out_of_hours_reply: Option<bool>,
}

/// What to change: `None` leaves a switch, `Some(None)` returns it to the
/// configuration's, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionsChange {
    pub receipts: Option<Option<bool>>,
    pub out_of_hours_reply: Option<Option<bool>>,
}

pub fn get(conn: &Connection, chat: i64) -> super::Result<ChatOptions> {
    Ok(conn
        .prepare_cached("SELECT receipts, out_of_hours_reply FROM chat_options WHERE chat_id = ?1")?
        .query_row([chat], |r| {
            Ok(ChatOptions {
                receipts: r.get(0)?,
                out_of_hours_reply: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Every chat's switches, by chat.
pub fn all(conn: &Connection) -> super::Result<BTreeMap<i64, ChatOptions>> {
    let mut stmt =
        conn.prepare_cached("SELECT chat_id, receipts, out_of_hours_reply FROM chat_options")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            ChatOptions {
                receipts: r.get(1)?,
                out_of_hours_reply: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Applies `change`; records it (the daemon reloads within seconds) when
/// something changed. Returns the chat's switches now.
pub fn set(
    conn: &Connection,
    chat: i64,
    change: OptionsChange,
    by: &str,
    now: i64,
) -> super::Result<ChatOptions> {
    let old = get(conn, chat)?;
    let new = ChatOptions {
        receipts: change.receipts.unwrap_or(old.receipts),
        out_of_hours_reply: change.out_of_hours_reply.unwrap_or(old.out_of_hours_reply),
    };
    if new == old {
        return Ok(new);
    }
    conn.prepare_cached(
        "INSERT INTO chat_options (chat_id, receipts, out_of_hours_reply, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (chat_id) DO UPDATE SET receipts = excluded.receipts,
             out_of_hours_reply = excluded.out_of_hours_reply, updated_at = excluded.updated_at",
    )?
    .execute(params![chat, new.receipts, new.out_of_hours_reply, now])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "chat_options",
            key: chat.to_string(),
            what: format!("chat {chat} options changed"),
            old: json!(old),
            new: json!(new),
        },
        now,
    )?;
    Ok(new)
}

/// Moves a chat's switches to its new id (a basic group became a
/// supergroup); switches already set for the new id stay.
pub fn move_chat(conn: &Connection, old: i64, new: i64) -> super::Result<usize> {
    Ok(conn.execute(
        "UPDATE OR IGNORE chat_options SET chat_id = ?2 WHERE chat_id = ?1",
        params![old, new],
    )?)
}

/// Records a client's file at `at` in the chat and returns when the
/// previous one came (`None`: the first, as far as the store knows). The
/// burst decision is the caller's ([`crate::domain::receipts`]).
pub fn note_file(conn: &Connection, chat: i64, user: i64, at: i64) -> super::Result<Option<i64>> {
    let previous: Option<i64> = conn
        .prepare_cached("SELECT last_file_at FROM file_bursts WHERE chat_id = ?1 AND user_id = ?2")?
        .query_row([chat, user], |r| r.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT INTO file_bursts (chat_id, user_id, last_file_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (chat_id, user_id) DO UPDATE
             SET last_file_at = max(last_file_at, excluded.last_file_at)",
    )?
    .execute([chat, user, at])?;
    Ok(previous)
}

/// Records the out-of-hours reply to `user` in `chat` for the closure
/// ending at `opening`; false when one was given for it already.
pub fn note_out_of_hours(
    conn: &Connection,
    chat: i64,
    user: i64,
    opening: i64,
    now: i64,
) -> super::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO out_of_hours_replies (chat_id, user_id, opening_at, replied_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?
        .execute([chat, user, opening, now])?;
    Ok(n == 1)
}

/// Retention: bursts whose last file came before `cutoff` (long over: a
/// burst ends after `[receipts] burst_seconds`, and a missing row only
/// means the next file starts a new one). At most `limit` rows.
pub fn delete_bursts_before(conn: &Connection, cutoff: i64, limit: i64) -> super::Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM file_bursts WHERE (chat_id, user_id) IN (
                 SELECT chat_id, user_id FROM file_bursts WHERE last_file_at < ?1
                 ORDER BY last_file_at LIMIT ?2)",
        )?
        .execute([cutoff, limit])?)
}

/// Retention: out-of-hours replies for closures that ended before
/// `cutoff`. The row is the "once per closure" dedupe, so it must outlive
/// its closure: one still going (or ended after the cutoff) keeps it.
pub fn delete_replies_before(conn: &Connection, cutoff: i64, limit: i64) -> super::Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM out_of_hours_replies WHERE (chat_id, user_id, opening_at) IN (
                 SELECT chat_id, user_id, opening_at FROM out_of_hours_replies
                 WHERE opening_at < ?1 ORDER BY opening_at LIMIT ?2)",
        )?
        .execute([cutoff, limit])?)
}
