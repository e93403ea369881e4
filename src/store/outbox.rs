//! Changes waiting to be pushed to the firm's Postgres, in order.
//!
//! Entries are written by SQLite triggers (`sql/sqlite/sync_triggers.sql`)
//! in the transaction of the change; the triggers exist only while sync is
//! on, so a store without Postgres pays nothing for them. Each names a row
//! (entity, key) and the pusher reads the full row when it pushes. An
//! entry's id is that row's version upstream, so ids only grow.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// What an outbox entry asks upstream to do with the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
    /// A chat's rows moved to a new id (key `old:new`).
    Move,
}

stored_enum!(Op, "outbox op", {
    Upsert => "upsert",
    Delete => "delete",
    Move => "move",
});

/// One queued change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub entity: String,
    pub key: String,
    pub op: Op,
    pub created_at: i64,
    pub attempts: i64,
}

/// The pushed tables in the order their rows must reach Postgres (a row
/// after the rows it references), with the SQL that queues all of their
/// rows for the backfill.
const BACKFILL: &[(&str, &str)] = &[
    (
        "users",
        "SELECT 'users', id, 'upsert' FROM users ORDER BY id",
    ),
    (
        "chats",
        "SELECT 'chats', id, 'upsert' FROM chats ORDER BY id",
    ),
    (
        "chat_messages",
        "SELECT 'chat_messages', chat_id || ':' || message_id || ':' || edit_version, 'upsert'
         FROM messages ORDER BY date, chat_id, message_id, edit_version",
    ),
    (
        "client_requests",
        "SELECT 'client_requests', id, 'upsert' FROM client_requests ORDER BY id",
    ),
    (
        "sla_alerts",
        "SELECT 'sla_alerts', id, 'upsert' FROM sla_alerts ORDER BY id",
    ),
    (
        "alert_deliveries",
        "SELECT 'alert_deliveries', id, 'upsert' FROM alert_deliveries ORDER BY id",
    ),
    (
        "feedback_responses",
        "SELECT 'feedback_responses', survey_id || ':' || user_id, 'upsert' FROM survey_votes
         ORDER BY voted_at, survey_id, user_id",
    ),
];

/// The triggers that queue changes (created with IF NOT EXISTS).
const TRIGGERS: &str = include_str!("../../sql/sqlite/sync_triggers.sql");

/// The pushed entities, in dependency order.
pub fn entities() -> impl Iterator<Item = &'static str> {
    BACKFILL.iter().map(|(e, _)| *e)
}

/// Turns recording on (a `[postgres]` section is configured) or off;
/// returns the rows queued. Turning it on (first start with Postgres, or
/// back after a time off) first queues every row of the pushed tables: what
/// was written while it was off was not recorded. Off drops the queue:
/// nothing would push it. Run it before anything writes (the daemon does at
/// start), in one transaction with the backfill.
pub fn set_enabled(conn: &Connection, on: bool) -> Result<usize> {
    super::in_savepoint(conn, || {
        if !on {
            // Already off (every start without [postgres]): no write at
            // all, so the start does not wait for a write lock or a WAL
            // checkpoint.
            let has_triggers: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger'
                                AND name LIKE '%\\_outbox\\_%' ESCAPE '\\')",
                [],
                |r| r.get(0),
            )?;
            if !enabled(conn)? && !has_triggers {
                return Ok(0);
            }
            let triggers: Vec<String> = conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_outbox\\_%' ESCAPE '\\'",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for t in triggers {
                conn.execute_batch(&format!("DROP TRIGGER IF EXISTS \"{t}\""))?;
            }
            conn.execute("UPDATE sync_state SET enabled = 0, applying = 0", [])?;
            conn.execute("DELETE FROM outbox", [])?;
            return Ok(0);
        }
        conn.execute_batch(TRIGGERS)?;
        if enabled(conn)? {
            conn.execute("UPDATE sync_state SET applying = 0", [])?;
            return Ok(0);
        }
        let n = queue_every_row(conn)?;
        conn.execute("UPDATE sync_state SET enabled = 1, applying = 0", [])?;
        Ok(n)
    })
}

fn queue_every_row(conn: &Connection) -> Result<usize> {
    let mut n = 0;
    for (_, select) in BACKFILL {
        n += conn.execute(
            &format!("INSERT INTO outbox (entity, entity_key, op) {select}"),
            [],
        )?;
    }
    // And every group's move to its supergroup: a Postgres restored from a
    // dump taken before the move still holds the rows under the old id,
    // which the upserts (under the new id) would leave doubled. A move is
    // idempotent upstream (it merges what both ids hold).
    n += conn.execute(
        "INSERT INTO outbox (entity, entity_key, op)
         SELECT 'chats', id || ':' || migrated_to, 'move' FROM chats
         WHERE migrated_to IS NOT NULL ORDER BY id",
        [],
    )?;
    Ok(n)
}

/// Queues every row of the pushed tables again (`buhbot sync resync`), as
/// the first start with `[postgres]` does; returns the rows queued. For a
/// Postgres restored from a dump older than what this daemon pushed since:
/// the queue holds only changes not yet pushed, so the rows of the gap
/// would never reach it again. The upserts are idempotent and the new
/// entries' ids are above Postgres' position, so pushing a row Postgres
/// already has costs a write, nothing more. Recording is turned on if it
/// was off.
pub fn requeue_all(conn: &Connection) -> Result<usize> {
    super::in_savepoint(conn, || {
        if !enabled(conn)? {
            return set_enabled(conn, true);
        }
        queue_every_row(conn)
    })
}

pub fn enabled(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT enabled FROM sync_state", [], |r| r.get(0))?)
}

/// Queues a chat's move to a new id, before its rows move (the triggers
/// then queue the moved rows under their new keys).
pub fn record_move(conn: &Connection, old: i64, new: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (entity, entity_key, op)
         SELECT 'chats', ?1, 'move' FROM sync_state WHERE enabled = 1 AND applying = 0",
    )?
    .execute([format!("{old}:{new}")])?;
    Ok(())
}

/// The oldest `limit` entries, in order.
pub fn batch(conn: &Connection, limit: i64) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, entity, entity_key, op, created_at, attempts FROM outbox ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Entry {
            id: r.get(0)?,
            entity: r.get(1)?,
            key: r.get(2)?,
            op: r.get(3)?,
            created_at: r.get(4)?,
            attempts: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes the entries Postgres has (up to and including `upto`) and notes
/// the push.
pub fn confirm(conn: &Connection, upto: i64, now: i64) -> Result<usize> {
    let n = conn
        .prepare_cached("DELETE FROM outbox WHERE id <= ?1")?
        .execute([upto])?;
    conn.prepare_cached("UPDATE sync_state SET last_push_at = ?1, last_push_error = NULL")?
        .execute([now])?;
    Ok(n)
}

/// Squares the queue with Postgres' position for this daemon, in one
/// transaction: entries Postgres already has (a crash after its commit)
/// go; a store behind it (restored from an older backup) continues its
/// ids above the position instead (returns true then).
pub fn square_with_position(conn: &mut Connection, pos: i64) -> Result<bool> {
    let tx = super::write_tx(conn)?;
    let seq: i64 = tx.query_row(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
        [],
        |r| r.get(0),
    )?;
    let raised = if seq < pos {
        raise_sequence(&tx, pos)?
    } else {
        tx.execute("DELETE FROM outbox WHERE id <= ?1", [pos])?;
        false
    };
    tx.commit()?;
    Ok(raised)
}

/// Keeps ids above what Postgres already has from this daemon: after a
/// restore of an older database they would otherwise be reused, and the
/// version guard upstream would ignore the new rows as old.
pub fn raise_sequence(conn: &Connection, at_least: i64) -> Result<bool> {
    let current: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    if current >= at_least {
        return Ok(false);
    }
    let n = conn.execute(
        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'outbox'",
        [at_least],
    )?;
    if n == 0 {
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?1)",
            [at_least],
        )?;
    }
    Ok(true)
}

/// Counts a failed attempt on the entries and remembers the error.
pub fn record_failure(conn: &Connection, ids: &[i64], error: &str) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
    )?;
    for id in ids {
        stmt.execute(params![id, error])?;
    }
    conn.prepare_cached("UPDATE sync_state SET last_push_error = ?1")?
        .execute([error])?;
    Ok(())
}

/// Moves an entry Postgres refused for good to the dead letters.
pub fn dead_letter(conn: &Connection, e: &Entry, error: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_dead_letters
             (outbox_id, entity, entity_key, op, attempts, error, queued_at, failed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.id,
        e.entity,
        e.key,
        e.op,
        e.attempts,
        error,
        e.created_at,
        now
    ])?;
    conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
        .execute([e.id])?;
    Ok(())
}

/// A dead letter, for `buhbot sync dead-letters`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub entity: String,
    pub key: String,
    pub op: String,
    pub attempts: i64,
    pub error: String,
    pub failed_at: i64,
}

pub fn dead_letters(conn: &Connection) -> Result<Vec<DeadLetter>> {
    let mut stmt = conn.prepare(
        "SELECT id, entity, entity_key, op, attempts, error, failed_at
         FROM sync_dead_letters ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeadLetter {
            id: r.get(0)?,
            entity: r.get(1)?,
            key: r.get(2)?,
            op: r.get(3)?,
            attempts: r.get(4)?,
            error: r.get(5)?,
            failed_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Queues a dead letter again (a new entry: the row as it is now);
/// returns false when no such dead letter exists.
pub fn retry_dead_letter(conn: &Connection, id: i64) -> Result<bool> {
    let n = conn.execute(
        "INSERT INTO outbox (entity, entity_key, op)
         SELECT entity, entity_key, op FROM sync_dead_letters WHERE id = ?1",
        [id],
    )?;
    conn.execute("DELETE FROM sync_dead_letters WHERE id = ?1", [id])?;
    Ok(n == 1)
}

pub fn drop_dead_letter(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM sync_dead_letters WHERE id = ?1", [id])? == 1)
}

/// What the status line, `buhbot sync status` and the metrics show.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub enabled: bool,
    pub depth: i64,
    pub oldest_at: Option<i64>,
    pub dead_letters: i64,
    pub last_push_at: Option<i64>,
    pub last_push_error: Option<String>,
}

pub fn stats(conn: &Connection) -> Result<Stats> {
    let (depth, oldest_at) =
        conn.query_row("SELECT count(*), min(created_at) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let dead_letters =
        conn.query_row("SELECT count(*) FROM sync_dead_letters", [], |r| r.get(0))?;
    let (enabled, last_push_at, last_push_error) = conn.query_row(
        "SELECT enabled, last_push_at, last_push_error FROM sync_state",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Stats {
        enabled,
        depth,
        oldest_at,
        dead_letters,
        last_push_at,
        last_push_error,
    })
}
