//! Event-source positions and scheduled-job bookkeeping.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

pub fn position(conn: &Connection, source: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT position FROM transport_state WHERE source = ?1")?
        .query_row([source], |r| r.get(0))
        .optional()?)
}

/// When a position was last written, if it exists.
pub fn written_at(conn: &Connection, source: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT updated_at FROM transport_state WHERE source = ?1")?
        .query_row([source], |r| r.get(0))
        .optional()?)
}

/// Where the pull from Postgres stands (`sync::pull`'s cursor).
pub const PULL_CURSOR: &str = "sync.pull";

/// Forgets a position (the source starts over).
pub fn forget(conn: &Connection, source: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM transport_state WHERE source = ?1")?
        .execute([source])?;
    Ok(())
}

pub fn set_position(conn: &Connection, source: &str, position: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO transport_state (source, position, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
    )?
    .execute(params![source, position, now])?;
    Ok(())
}

/// Counts a position up by one (from 1 when new): a counter kept as a
/// position, like the settings revision.
pub fn increment(conn: &Connection, source: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO transport_state (source, position, updated_at) VALUES (?1, '1', ?2)
         ON CONFLICT (source) DO UPDATE
             SET position = CAST(CAST(position AS INTEGER) + 1 AS TEXT), updated_at = ?2",
    )?
    .execute(params![source, now])?;
    Ok(())
}

/// (last run, last successful run) of a job.
pub fn job_runs(conn: &Connection, job: &str) -> Result<Option<(i64, Option<i64>)>> {
    Ok(conn
        .prepare_cached("SELECT last_run_at, last_ok_at FROM job_runs WHERE job = ?1")?
        .query_row([job], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub fn record_job_run(conn: &Connection, job: &str, at: i64, ok: bool, detail: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO job_runs (job, last_run_at, last_ok_at, detail) VALUES (?1, ?2, CASE WHEN ?3 THEN ?2 END, ?4)
         ON CONFLICT (job) DO UPDATE SET last_run_at = excluded.last_run_at,
             last_ok_at = CASE WHEN ?3 THEN excluded.last_run_at ELSE job_runs.last_ok_at END,
             detail = excluded.detail",
    )?
    .execute(params![job, at, ok, detail])?;
    Ok(())
}
