//! FAQ entries (`faq_items`), their usage counters and the per-client
//! answer log (`faq_answers`) that keeps the bot from repeating itself.
//! Entries pulled from Postgres carry its uuid (`pg_id`); a local entry
//! has none, and the pull never touches it (`sync::pull::library`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, StoreError};
use crate::domain::faq::{FaqEntry, split_keywords};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FaqRow {
    pub id: i64,
    pub question: String,
    pub answer: String,
    /// As stored: keywords separated by ", ".
    pub keywords: String,
    pub enabled: bool,
    pub usage_count: i64,
    /// The Postgres uuid of an entry edited there.
    pub pg_id: Option<String>,
}

impl FaqRow {
    pub fn entry(&self) -> FaqEntry {
        FaqEntry {
            id: self.id,
            keywords: split_keywords(&self.keywords),
        }
    }
}

const COLUMNS: &str = "id, question, answer, keywords, enabled, usage_count, pg_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<FaqRow> {
    Ok(FaqRow {
        id: r.get(0)?,
        question: r.get(1)?,
        answer: r.get(2)?,
        keywords: r.get(3)?,
        enabled: r.get(4)?,
        usage_count: r.get(5)?,
        pg_id: r.get(6)?,
    })
}

/// Every entry, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<FaqRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM faq_items ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<FaqRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM faq_items WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Adds an entry; `keywords` are joined as the pull stores them.
pub fn add(
    conn: &Connection,
    question: &str,
    answer: &str,
    keywords: &[String],
    now: i64,
) -> Result<FaqRow> {
    conn.prepare_cached(
        "INSERT INTO faq_items (question, answer, keywords, enabled, created_at, updated_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?4)",
    )?
    .execute(params![question, answer, keywords.join(", "), now])?;
    let id = conn.last_insert_rowid();
    get(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("FAQ entry {id}")))
}

/// Removes an entry (and its answer log); the removed row.
pub fn remove(conn: &Connection, id: i64) -> Result<FaqRow> {
    let row = get(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("no FAQ entry {id}")))?;
    conn.prepare_cached("DELETE FROM faq_items WHERE id = ?1")?
        .execute([id])?;
    Ok(row)
}

/// Moves with every change of the entries' content (a trigger bumps it),
/// not with their counters: the match index is rebuilt when it moved.
pub fn revision(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT n FROM faq_revision WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// The enabled entries, as the match index needs them.
pub fn enabled_entries(conn: &Connection) -> Result<Vec<FaqEntry>> {
    Ok(list(conn)?
        .into_iter()
        .filter(|r| r.enabled)
        .map(|r| r.entry())
        .collect())
}

/// Records an answer of entry `id` to `user` in `chat` at `now`, unless
/// one went out less than `repeat_after` seconds before; counts the use.
/// Returns whether the answer is to be sent.
pub fn record_answer(
    conn: &Connection,
    id: i64,
    chat: i64,
    user: i64,
    now: i64,
    repeat_after: i64,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO faq_answers (faq_id, chat_id, user_id, answered_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (faq_id, chat_id, user_id) DO UPDATE SET answered_at = excluded.answered_at
             WHERE faq_answers.answered_at <= excluded.answered_at - ?5",
        )?
        .execute(params![id, chat, user, now, repeat_after])?;
    if changed == 0 {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE faq_items SET usage_count = usage_count + 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(true)
}
