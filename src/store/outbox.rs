//! Changes waiting to be pushed upstream (the Supabase sync), in order.

use rusqlite::{Connection, params};

use super::Result;

/// What an outbox entry asks upstream to do with the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

stored_enum!(Op, "outbox op", {
    Upsert => "upsert",
    Delete => "delete",
});

pub fn push(
    conn: &Connection,
    entity: &str,
    key: &str,
    op: Op,
    payload: &serde_json::Value,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (entity, entity_key, op, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![entity, key, op, payload.to_string(), now])?;
    Ok(())
}

/// (depth, creation time of the oldest entry).
pub fn stats(conn: &Connection) -> Result<(i64, Option<i64>)> {
    Ok(
        conn.query_row("SELECT count(*), min(created_at) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?,
    )
}

/// Deletes at most `limit` entries created before `cutoff`, oldest first.
/// Ids grow with creation time, so id order is age order and the scan
/// stops at the first young row (there is no index on created_at).
pub fn delete_before(conn: &Connection, cutoff: i64, limit: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM outbox WHERE id IN (
                 SELECT id FROM outbox WHERE created_at < ?1 ORDER BY id LIMIT ?2)",
        )?
        .execute(params![cutoff, limit])?)
}
