//! The append-only message log.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;
use crate::domain::classify::Category;
use crate::domain::receipts::Attachment;
use crate::domain::sla::SenderKind;

/// Who sent a logged message, as `messages.sender_kind` holds it (the id
/// goes to `sender_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderType {
    User,
    Chat,
    None,
}

stored_enum!(SenderType, "sender kind", {
    User => "user",
    Chat => "chat",
    None => "none",
});

/// A sender as the log stores it: (`sender_id`, `sender_kind`).
pub fn sender_columns(sender: SenderKind) -> (Option<i64>, SenderType) {
    match sender {
        SenderKind::User(id) => (Some(id), SenderType::User),
        SenderKind::Chat(id) => (Some(id), SenderType::Chat),
        SenderKind::None => (None, SenderType::None),
    }
}

/// One message version as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage<'a> {
    pub chat_id: i64,
    pub message_id: i64,
    /// 0 for the original; the edit's Unix date for an edit.
    pub edit_version: i64,
    pub date: i64,
    pub sender_id: Option<i64>,
    pub sender_kind: SenderType,
    pub sender_name: Option<&'a str>,
    pub text: &'a str,
    pub reply_to: Option<i64>,
    pub has_media: bool,
    /// A document or photo: (kind, file name, size).
    pub attachment: Option<&'a Attachment>,
    pub service: bool,
    pub logged_at: i64,
}

/// Logs a message version. Returns false when that version was already
/// logged: the event is a duplicate and was fully processed before (the log
/// row is written in the same transaction as everything it caused).
pub fn insert(conn: &Connection, m: &LoggedMessage<'_>) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO messages (chat_id, message_id, edit_version, date, sender_id, sender_kind,
                 sender_name, text, reply_to, has_media, service, logged_at,
                 media_kind, file_name, file_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            m.chat_id,
            m.message_id,
            m.edit_version,
            m.date,
            m.sender_id,
            m.sender_kind,
            m.sender_name,
            m.text,
            m.reply_to,
            m.has_media,
            m.service,
            m.logged_at,
            m.attachment.map(|a| a.kind.as_str()),
            m.attachment.and_then(|a| a.file_name.as_deref()),
            m.attachment
                .and_then(|a| a.size)
                .and_then(|s| i64::try_from(s).ok()),
        ])?;
    Ok(n == 1)
}

/// Records the classification of a logged client message.
pub fn set_category(
    conn: &Connection,
    chat_id: i64,
    message_id: i64,
    category: Category,
    confidence: f32,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET category = ?3, confidence = ?4
         WHERE chat_id = ?1 AND message_id = ?2 AND edit_version = 0",
    )?
    .execute(params![chat_id, message_id, category, confidence])?;
    Ok(())
}

/// The user who wrote a message (its original version), if logged.
pub fn sender_of(conn: &Connection, chat_id: i64, message_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT sender_id FROM messages
             WHERE chat_id = ?1 AND message_id = ?2 AND edit_version = 0 AND sender_kind = ?3",
        )?
        .query_row(params![chat_id, message_id, SenderType::User], |r| r.get(0))
        .optional()?
        .flatten())
}

/// The name `user` last wrote under in a chat (Telegram's display name at
/// the time), if any of their messages there is logged.
pub fn sender_name(conn: &Connection, chat_id: i64, user: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT sender_name FROM messages
             WHERE chat_id = ?1 AND sender_id = ?2 AND sender_kind = ?3 AND edit_version = 0
                   AND service = 0 AND coalesce(sender_name, '') <> ''
             ORDER BY date DESC, message_id DESC LIMIT 1",
        )?
        .query_row(params![chat_id, user, SenderType::User], |r| r.get(0))
        .optional()?)
}

/// The users who wrote the latest messages of a chat, newest first, each
/// once, with the name they wrote under: (user id, name). Templates
/// address the client from these.
pub fn recent_senders(conn: &Connection, chat_id: i64, limit: i64) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sender_id, sender_name FROM messages
         WHERE chat_id = ?1 AND edit_version = 0 AND sender_kind = ?2 AND service = 0
               AND sender_id IS NOT NULL AND coalesce(sender_name, '') <> ''
         GROUP BY sender_id ORDER BY max(date) DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![chat_id, SenderType::User, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The text of a message's original version.
pub fn text_of(
    conn: &Connection,
    chat_id: i64,
    message_id: i64,
) -> Result<Option<(String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT text, sender_name FROM messages
             WHERE chat_id = ?1 AND message_id = ?2 AND edit_version = 0",
        )?
        .query_row(params![chat_id, message_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Deletes at most `limit` message versions dated before `cutoff`, oldest
/// first, except those of still-open requests (alert texts quote them).
pub fn delete_before(conn: &Connection, cutoff: i64, limit: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM messages WHERE (chat_id, message_id, edit_version) IN (
                 SELECT m.chat_id, m.message_id, m.edit_version FROM messages m
                 WHERE m.date < ?1 AND NOT EXISTS (
                     SELECT 1 FROM client_requests r
                     WHERE r.chat_id = m.chat_id AND r.message_id = m.message_id
                       AND r.status = 'open')
                 ORDER BY m.date LIMIT ?2)",
        )?
        .execute(params![cutoff, limit])?)
}

/// How many messages (originals, not edits) a chat got since `since`.
pub fn count_since(conn: &Connection, chat_id: i64, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM messages WHERE chat_id = ?1 AND edit_version = 0 AND date >= ?2",
        )?
        .query_row([chat_id, since], |r| r.get(0))?)
}

/// Moves a chat's log to its new id (a basic group became a supergroup).
/// A supergroup numbers its messages from 1 again, so the group's messages
/// move with their ids negated (and their replies with them): under their
/// own ids they would take the numbers of the supergroup's future messages,
/// which would then be dropped as already logged. A version already logged
/// under the new id stays as it is.
pub fn move_chat(conn: &Connection, old: i64, new: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE OR IGNORE messages SET chat_id = ?2, message_id = -message_id,
                reply_to = -reply_to
         WHERE chat_id = ?1",
        params![old, new],
    )?)
}

/// A user's latest text in a chat (not a command), with the name they
/// wrote under: what a notice about them quotes.
pub fn last_text_of(
    conn: &Connection,
    chat_id: i64,
    user: i64,
) -> Result<Option<(String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT text, sender_name FROM messages
             WHERE chat_id = ?1 AND sender_id = ?2 AND sender_kind = ?3 AND edit_version = 0
                   AND service = 0 AND text <> '' AND substr(text, 1, 1) <> '/'
             ORDER BY date DESC, message_id DESC LIMIT 1",
        )?
        .query_row(params![chat_id, user, SenderType::User], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}
