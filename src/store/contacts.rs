//! "Contact the accountant" requests from the client menu
//! (`menu_contacts`): one open contact per client per chat, and the
//! escalation step each waits for (`next_step_at`). The steps are rows, so
//! a restart neither loses one nor repeats it: a step's notices and the
//! row's move to the next level commit in one transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Result;

/// How a contact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A staff member wrote in the chat.
    Answered,
    /// A staff member pressed "Беру" on a notice.
    Taken,
    /// Every level was told and nobody answered in time.
    Expired,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Taken => "taken",
            Outcome::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub chat_id: i64,
    pub client_id: i64,
    pub client_name: Option<String>,
    pub message_id: i64,
    pub opened_at: i64,
    /// The last level told (1 accountants, 2 chat managers, 3 managers).
    pub level: u8,
    pub next_step_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<i64>,
}

const COLUMNS: &str = "id, chat_id, client_id, client_name, message_id, opened_at, level, \
                       next_step_at, closed_at, closed_by";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        client_id: r.get(2)?,
        client_name: r.get(3)?,
        message_id: r.get(4)?,
        opened_at: r.get(5)?,
        level: r.get(6)?,
        next_step_at: r.get(7)?,
        closed_at: r.get(8)?,
        closed_by: r.get(9)?,
    })
}

/// The client's open contact in the chat, if any.
pub fn open_of(conn: &Connection, chat: i64, client: i64) -> Result<Option<Contact>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM menu_contacts
             WHERE chat_id = ?1 AND client_id = ?2 AND closed_at IS NULL"
        ))?
        .query_row([chat, client], from_row)
        .optional()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Contact>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM menu_contacts WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// A contact to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact<'a> {
    pub chat_id: i64,
    pub client_id: i64,
    pub client_name: Option<&'a str>,
    pub message_id: i64,
    /// The level told on opening.
    pub level: u8,
    pub next_step_at: i64,
}

/// A new open contact, as stored. The caller checked [`open_of`] in the
/// same transaction.
pub fn open(conn: &Connection, c: &NewContact<'_>, now: i64) -> Result<Contact> {
    conn.prepare_cached(
        "INSERT INTO menu_contacts
             (chat_id, client_id, client_name, message_id, opened_at, level, next_step_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        c.chat_id,
        c.client_id,
        c.client_name,
        c.message_id,
        now,
        c.level,
        c.next_step_at
    ])?;
    Ok(Contact {
        id: conn.last_insert_rowid(),
        chat_id: c.chat_id,
        client_id: c.client_id,
        client_name: c.client_name.map(str::to_string),
        message_id: c.message_id,
        opened_at: now,
        level: c.level,
        next_step_at: Some(c.next_step_at),
        closed_at: None,
        closed_by: None,
    })
}

/// Moves an open contact to `level`, its next step due at `next_step_at`.
pub fn advance(conn: &Connection, id: i64, level: u8, next_step_at: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE menu_contacts SET level = ?2, next_step_at = ?3
         WHERE id = ?1 AND closed_at IS NULL",
    )?
    .execute(params![id, level, next_step_at])?;
    Ok(())
}

/// Closes one open contact; false if it was closed already.
pub fn close(
    conn: &Connection,
    id: i64,
    outcome: Outcome,
    by: Option<i64>,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE menu_contacts
             SET closed_at = ?2, closed_by = ?3, outcome = ?4, next_step_at = NULL
             WHERE id = ?1 AND closed_at IS NULL",
        )?
        .execute(params![id, now, by, outcome.as_str()])?;
    Ok(n > 0)
}

/// Closes every contact of `chat` opened at or before `at` (a staff
/// message written at `at` answers those); returns how many.
pub fn answer_chat(conn: &Connection, chat: i64, by: i64, at: i64, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE menu_contacts
             SET closed_at = ?4, closed_by = ?2, outcome = 'answered', next_step_at = NULL
             WHERE chat_id = ?1 AND closed_at IS NULL AND opened_at <= ?3",
        )?
        .execute(params![chat, by, at, now])?)
}

/// Whether `chat` has an open contact (a cheap check before reading the
/// sender's role for every message).
pub fn any_open(conn: &Connection, chat: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM menu_contacts WHERE chat_id = ?1 AND closed_at IS NULL")?
        .query_row([chat], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Open contacts whose next step is due at or before `upto`, oldest first.
pub fn due(conn: &Connection, upto: i64, limit: i64) -> Result<Vec<Contact>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM menu_contacts
         WHERE next_step_at IS NOT NULL AND next_step_at <= ?1
         ORDER BY next_step_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map([upto, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The earliest pending step.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT min(next_step_at) FROM menu_contacts")?
        .query_row([], |r| r.get(0))?)
}

/// Retention: contacts closed before `cutoff`, at most `limit`. Open ones
/// stay whatever their age (their steps are still due). Never the newest
/// row: an INTEGER PRIMARY KEY hands the highest deleted id out again, and
/// both the «Беру» buttons of old notices and the notices' dedupe keys
/// (`contact:<id>:…`) name contacts by id.
pub fn delete_closed_before(conn: &Connection, cutoff: i64, limit: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM menu_contacts WHERE id IN (
                 SELECT id FROM menu_contacts
                 WHERE closed_at IS NOT NULL AND closed_at < ?1
                   AND id < (SELECT max(id) FROM menu_contacts)
                 ORDER BY closed_at LIMIT ?2)",
        )?
        .execute([cutoff, limit])?)
}
