//! The `starts` table: one row per `buhbot run` (see
//! [`crate::domain::starts`] for what is decided from it), and the marker
//! `buhbot backup restore` leaves in the database it puts back.

use rusqlite::{Connection, Row, params};

use super::Result;
use super::codec::column;
use crate::domain::starts::{PastStart, Reason, Verdict};

crate::stored_enum!(Reason, "start reason", {
    Install => "install", Restart => "restart", Upgrade => "upgrade",
    Downgrade => "downgrade", Restore => "restore",
});

/// `transport_state` key of the restore marker: the archive's name. Kept
/// there because the restored database may predate the `starts` table.
pub const RESTORED_MARKER: &str = "restored_from";

/// Rows kept: enough for any crash-loop window, small forever.
const KEEP: i64 = 1000;

const COLUMNS: &str = "version, previous_version, reason, migrations, restored_from, started_at, \
                       ready_at, stopped_at, after_crash, notified_at IS NOT NULL";

fn from_row(r: &Row<'_>) -> rusqlite::Result<PastStart> {
    Ok(PastStart {
        version: r.get(0)?,
        previous_version: r.get(1)?,
        reason: column(r, 2, "starts", "reason")?,
        migrations: r.get(3)?,
        restored_from: r.get(4)?,
        started_at: r.get(5)?,
        ready_at: r.get(6)?,
        stopped_at: r.get(7)?,
        after_crash: r.get(8)?,
        notified: r.get(9)?,
    })
}

/// The latest start and every start since `since`, newest first.
pub fn history(conn: &Connection, since: i64) -> Result<Vec<PastStart>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM starts
         WHERE started_at >= ?1 OR id = (SELECT max(id) FROM starts)
         ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([since], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Takes the restore marker (the archive's name), if any.
pub fn take_restored_marker(conn: &Connection) -> Result<Option<String>> {
    let marker = super::state::position(conn, RESTORED_MARKER)?;
    if marker.is_some() {
        super::state::forget(conn, RESTORED_MARKER)?;
    }
    Ok(marker)
}

/// What a new start row holds besides the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStart<'a> {
    pub version: &'a str,
    pub started_at: i64,
    /// The newest backup archive's name at start.
    pub backup: Option<&'a str>,
}

/// Stores this start; its row id. Old rows beyond the last [`KEEP`] go.
pub fn insert(conn: &Connection, start: &NewStart<'_>, v: &Verdict) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO starts (version, previous_version, reason, after_crash, migrations,
             backup, restored_from, started_at, crash_loop)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        start.version,
        v.previous_version,
        v.reason,
        v.after_crash,
        v.migrations,
        start.backup,
        v.restored_from,
        start.started_at,
        v.crash_loop.is_some(),
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM starts WHERE id <= ?1")?
        .execute([id - KEEP])?;
    Ok(id)
}

/// READY=1 was sent at `at`; `notified`: the release notice was queued
/// with it (same transaction).
pub fn mark_ready(conn: &Connection, id: i64, at: i64, notified: bool) -> Result<()> {
    conn.prepare_cached(
        "UPDATE starts SET ready_at = ?2,
             notified_at = CASE WHEN ?3 THEN ?2 ELSE notified_at END
         WHERE id = ?1",
    )?
    .execute(params![id, at, notified])?;
    Ok(())
}

/// The heartbeat's store probe: a real write, and the last time this run
/// was seen alive. Errors if the row is gone.
pub fn mark_alive(conn: &Connection, id: i64, at: i64) -> Result<()> {
    conn.prepare_cached("UPDATE starts SET alive_at = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// A clean stop (a signal, not a failure): the next start is no crash.
pub fn mark_stopped(conn: &Connection, id: i64, at: i64) -> Result<()> {
    conn.prepare_cached("UPDATE starts SET stopped_at = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// One stored start with its row id and whether it warned of a crash loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRow {
    pub id: i64,
    pub crash_loop: bool,
    pub start: PastStart,
}

/// Every stored start, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<StartRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, id, crash_loop FROM starts ORDER BY id"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(StartRow {
            start: from_row(r)?,
            id: r.get(10)?,
            crash_loop: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
