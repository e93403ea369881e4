//! Durable timers: the alerts open requests will get if they stay open.

use rusqlite::{Connection, params};

use super::{Result, codec};
use crate::domain::sla::{AlertKind, RequestStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerRow {
    pub request_id: i64,
    pub kind: AlertKind,
    pub level: i64,
    pub due_at: i64,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimerRow> {
    Ok(TimerRow {
        request_id: r.get(0)?,
        kind: codec::column(r, 1, "timers", "kind")?,
        level: r.get(2)?,
        due_at: r.get(3)?,
    })
}

pub fn insert(conn: &Connection, t: &TimerRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO timers (request_id, kind, level, due_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (request_id, kind, level) DO UPDATE SET due_at = excluded.due_at",
    )?
    .execute(params![t.request_id, t.kind, t.level, t.due_at])?;
    Ok(())
}

pub fn delete_for_request(conn: &Connection, request_id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM timers WHERE request_id = ?1")?
        .execute([request_id])?)
}

pub fn delete(conn: &Connection, t: &TimerRow) -> Result<()> {
    conn.prepare_cached("DELETE FROM timers WHERE request_id = ?1 AND kind = ?2 AND level = ?3")?
        .execute(params![t.request_id, t.kind, t.level])?;
    Ok(())
}

/// The earliest due instant, if any timer is pending.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row("SELECT min(due_at) FROM timers", [], |r| r.get(0))?)
}

/// Timers due at or before `upto`, earliest first.
pub fn due(conn: &Connection, upto: i64, limit: i64) -> Result<Vec<TimerRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT request_id, kind, level, due_at FROM timers WHERE due_at <= ?1
         ORDER BY due_at, request_id, level LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![upto, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn for_request(conn: &Connection, request_id: i64) -> Result<Vec<TimerRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT request_id, kind, level, due_at FROM timers WHERE request_id = ?1 ORDER BY due_at, level",
    )?;
    let rows = stmt.query_map([request_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Timers whose request is no longer open (repaired by reconciliation).
pub fn orphans(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT t.request_id FROM timers t
         LEFT JOIN client_requests r ON r.id = t.request_id
         WHERE r.id IS NULL OR r.status <> ?1",
    )?;
    let rows = stmt.query_map([RequestStatus::Open], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Deletes the timers of the requests `ids`.
pub fn delete_for_requests(conn: &Connection, ids: &[i64]) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM timers WHERE request_id IN (SELECT value FROM json_each(?1))")?
        .execute([super::id_list(ids)])?)
}
