//! Client requests.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Result;
use super::codec::{self, StoredEnum};
use crate::domain::classify::Category;
use crate::domain::sla::{Closing, RequestStatus};

// Queries for open requests keep `status = 'open'` as a literal: SQLite
// uses the partial index `client_requests_open` only for a WHERE clause
// that matches its own, not for a bound parameter.
stored_enum!(RequestStatus, "request status", {
    Open => "open",
    Answered => "answered",
    Resolved => "resolved",
});

/// The classifier's own spelling (`Category::as_str`) is the stored one,
/// in `client_requests.category` and `messages.category`; `Display` stays
/// the classifier's, so this is written out instead of `stored_enum!`.
impl StoredEnum for Category {
    const WHAT: &'static str = "category";
    const ALL: &'static [Self] = &[
        Category::Request,
        Category::Clarification,
        Category::Gratitude,
        Category::Spam,
    ];
    fn as_str(self) -> &'static str {
        Category::as_str(self)
    }
}

impl ToSql for Category {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(codec::to_sql(*self))
    }
}

impl FromSql for Category {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        codec::from_sql(value)
    }
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    pub client_id: i64,
    pub received_at: i64,
    pub category: Category,
    pub confidence: f32,
    pub status: RequestStatus,
    /// The SLA clock had used `anchor_used_seconds` at `anchor_at`.
    pub anchor_at: i64,
    pub anchor_used_seconds: i64,
    pub threshold_minutes: i64,
    pub deadline_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub answered_by: Option<i64>,
    pub working_minutes: Option<i64>,
    pub breached: bool,
    pub breached_at: Option<i64>,
    pub excess_minutes: Option<i64>,
}

const COLUMNS: &str =
    "id, chat_id, message_id, client_id, received_at, category, confidence, status,
    anchor_at, anchor_used_seconds, threshold_minutes, deadline_at, answered_at, answered_by,
    working_minutes, breached, breached_at, excess_minutes";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        message_id: r.get(2)?,
        client_id: r.get(3)?,
        received_at: r.get(4)?,
        category: codec::column(r, 5, "client_requests", "category")?,
        confidence: r.get(6)?,
        status: codec::column(r, 7, "client_requests", "status")?,
        anchor_at: r.get(8)?,
        anchor_used_seconds: r.get(9)?,
        threshold_minutes: r.get(10)?,
        deadline_at: r.get(11)?,
        answered_at: r.get(12)?,
        answered_by: r.get(13)?,
        working_minutes: r.get(14)?,
        breached: r.get(15)?,
        breached_at: r.get(16)?,
        excess_minutes: r.get(17)?,
    })
}

/// A request to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub chat_id: i64,
    pub message_id: i64,
    pub client_id: i64,
    pub received_at: i64,
    pub category: Category,
    pub confidence: f32,
    pub threshold_minutes: i64,
    pub deadline_at: Option<i64>,
    pub now: i64,
}

/// Opens a request; returns its id, or `None` if (chat, message) already
/// has one.
pub fn insert_open(conn: &Connection, r: &NewRequest) -> Result<Option<i64>> {
    let n = conn
        .prepare_cached(
            "INSERT INTO client_requests (chat_id, message_id, client_id, received_at, category,
                 confidence, anchor_at, threshold_minutes, deadline_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?7, ?8, ?9)
             ON CONFLICT (chat_id, message_id) DO NOTHING",
        )?
        .execute(params![
            r.chat_id,
            r.message_id,
            r.client_id,
            r.received_at,
            r.category,
            r.confidence,
            r.threshold_minutes,
            r.deadline_at,
            r.now
        ])?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<RequestRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM client_requests WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_message(conn: &Connection, chat_id: i64, message_id: i64) -> Result<Option<RequestRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM client_requests WHERE chat_id = ?1 AND message_id = ?2"
        ))?
        .query_row([chat_id, message_id], from_row)
        .optional()?)
}

/// The open requests of a chat (the partial index keeps this cheap).
pub fn open_for_chat(conn: &Connection, chat_id: i64) -> Result<Vec<RequestRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM client_requests WHERE status = 'open' AND chat_id = ?1"
    ))?;
    let rows = stmt.query_map([chat_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The ids of every request of a chat, any status.
pub fn ids_for_chat(conn: &Connection, chat_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM client_requests WHERE chat_id = ?1")?;
    let rows = stmt.query_map([chat_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every open request, oldest first.
pub fn all_open(conn: &Connection) -> Result<Vec<RequestRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM client_requests WHERE status = 'open' ORDER BY received_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Requests, newest first, optionally only open ones or of one chat.
pub fn list(
    conn: &Connection,
    open_only: bool,
    chat: Option<i64>,
    limit: i64,
) -> Result<Vec<RequestRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM client_requests
         WHERE (?1 = 0 OR status = 'open') AND (?2 IS NULL OR chat_id = ?2)
         ORDER BY received_at DESC, id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![open_only, chat, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count_open(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM client_requests WHERE status = 'open'",
        [],
        |r| r.get(0),
    )?)
}

/// How a request was closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    pub how: Closing,
    pub at: i64,
    pub by: Option<i64>,
    pub answer_message_id: Option<i64>,
    pub working_minutes: i64,
    pub breached: bool,
    pub breached_at: Option<i64>,
    pub excess_minutes: i64,
}

/// Closes an open request; returns false if it was not open.
pub fn close(conn: &Connection, id: i64, c: &Closure) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE client_requests SET status = ?2, answered_at = ?3, answered_by = ?4,
                 answer_message_id = ?5, working_minutes = ?6, breached = ?7, breached_at = ?8,
                 excess_minutes = ?9, updated_at = ?3
             WHERE id = ?1 AND status = 'open'",
        )?
        .execute(params![
            id,
            c.how.status(),
            c.at,
            c.by,
            c.answer_message_id,
            c.working_minutes,
            c.breached,
            c.breached_at,
            c.excess_minutes
        ])?;
    Ok(n == 1)
}

/// Moves an open request's SLA anchor (re-timing after a calendar or
/// policy change).
pub fn retime(
    conn: &Connection,
    id: i64,
    anchor_at: i64,
    used: i64,
    threshold: i64,
    deadline: Option<i64>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE client_requests SET anchor_at = ?2, anchor_used_seconds = ?3,
             threshold_minutes = ?4, deadline_at = ?5, updated_at = ?2
         WHERE id = ?1 AND status = 'open'",
    )?
    .execute(params![id, anchor_at, used, threshold, deadline])?;
    Ok(())
}

/// Marks a request breached (its breach alert fired).
pub fn mark_breached(conn: &Connection, id: i64, at: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE client_requests SET breached = 1, breached_at = coalesce(breached_at, ?2)
         WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    Ok(())
}

/// At most `limit` closed requests received before `cutoff`, oldest first
/// (what a retention batch deletes).
pub fn closed_before(conn: &Connection, cutoff: i64, limit: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM client_requests
         WHERE received_at < ?1 AND status <> 'open'
         ORDER BY received_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cutoff, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Deletes the requests `ids`; returns how many there were.
pub fn delete(conn: &Connection, ids: &[i64]) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM client_requests WHERE id IN (SELECT value FROM json_each(?1))",
        )?
        .execute([super::id_list(ids)])?)
}

/// Moves a chat's requests to its new id (a basic group became a
/// supergroup), with their message ids negated as the log's
/// ([`super::messages::move_chat`]); a request already under the new id
/// stays as it is.
pub fn move_chat(conn: &Connection, old: i64, new: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE OR IGNORE client_requests SET chat_id = ?2, message_id = -message_id,
                answer_message_id = -answer_message_id
         WHERE chat_id = ?1",
        params![old, new],
    )?)
}

/// Hands `f` the requests received in `[from, to)` (Unix seconds), of one
/// chat or all, oldest first: what `buhbot report sla` aggregates, streamed
/// so that memory does not follow the period's size (the received_at index).
pub fn each_received_between(
    conn: &Connection,
    from: i64,
    to: i64,
    chat: Option<i64>,
    f: &mut dyn FnMut(RequestRow),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM client_requests
         WHERE received_at >= ?1 AND received_at < ?2 AND (?3 IS NULL OR chat_id = ?3)
         ORDER BY received_at, id"
    ))?;
    for row in stmt.query_map(params![from, to, chat], from_row)? {
        f(row?);
    }
    Ok(())
}

/// Whether the store holds any request of `chat` (the (chat_id,
/// message_id) index answers without a scan).
pub fn any_for_chat(conn: &Connection, chat: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM client_requests WHERE chat_id = ?1)")?
        .query_row([chat], |r| r.get(0))?)
}
