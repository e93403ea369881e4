//! Down: what people edit in Postgres takes effect in the daemon: users,
//! chats with their staff ([`people`]), weekly hours and days off
//! ([`calendar`]), firm-wide settings ([`globals`]), templates and FAQ
//! ([`library`]).
//!
//! The cursor. `row_version` comes from one sequence, taken when a row is
//! written, not when its transaction commits: a transaction that took
//! version 10 may commit after one that took 11 was pulled, so "above the
//! highest version seen" alone would skip it forever. Each pull therefore
//! also reads the rows written by transactions that were still running at
//! the previous pull's snapshot (`age(xmin)` no older than that snapshot's
//! oldest running transaction): every row not visible then has such an
//! xmin. Rows read twice are harmless: applying is idempotent (only
//! fields that differ are written).
//!
//! The conflict rule (row level, the same on every run): the later edit
//! wins, by its `updated_at`; a tie goes to Postgres. A local edit not yet
//! pushed (an outbox entry for the row) that is newer than Postgres' row
//! keeps the local row, which the next push then writes over Postgres'.
//! Otherwise Postgres' fields are applied and the local entry for the row
//! is dropped: the local change lost.
//!
//! Rows the daemon itself pushed (`updated_by = 'daemon:<id>'`) are not
//! pulled back. Applied rows are written with `sync_state.applying = 1`
//! so the outbox triggers do not queue them back up.

mod calendar;
mod globals;
mod library;
mod people;

use rusqlite::{Connection, OptionalExtension, params};
use tokio_postgres::types::Type;

pub use self::calendar::{CalendarBatch, Week};
pub use self::globals::PgGlobals;
pub use self::library::{LibraryBatch, PgFaq, PgTemplate};
use super::pg::{PgError, PgPool};
use crate::config::Config;
use crate::store::chats::{self, ChatChange};
use crate::store::users;
use crate::store::{Store, StoreError, state};

/// Where the pull stands, kept in `transport_state`.
const CURSOR_SOURCE: &str = state::PULL_CURSOR;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error("cannot apply the pulled {table} row {key}: {reason}")]
    Apply {
        table: &'static str,
        key: String,
        reason: String,
    },
}

/// The pull position: the highest row version applied, the oldest
/// transaction still running at that pull's snapshot (xid8), and the
/// Postgres schema version it was read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub version: i64,
    pub horizon: i64,
    pub schema: i64,
}

impl Cursor {
    fn parse(s: &str) -> Option<Cursor> {
        let mut parts = s.split(':').map(str::parse::<i64>);
        let (Some(Ok(version)), Some(Ok(horizon))) = (parts.next(), parts.next()) else {
            return None;
        };
        Some(Cursor {
            version,
            horizon,
            // Written before the schema was part of it: refetched once.
            schema: parts.next().and_then(Result::ok).unwrap_or(0),
        })
    }

    fn text(self) -> String {
        format!("{}:{}:{}", self.version, self.horizon, self.schema)
    }
}

/// `None`: never pulled (or reset after a restore): pull everything.
pub fn cursor(conn: &Connection) -> Result<Option<Cursor>, StoreError> {
    Ok(state::position(conn, CURSOR_SOURCE)?.and_then(|p| Cursor::parse(&p)))
}

/// Forgets the cursor: the next pull refetches in full (a restored store,
/// a schema change).
pub fn reset(conn: &Connection) -> Result<(), StoreError> {
    state::forget(conn, CURSOR_SOURCE)
}

/// A chat as Postgres has it.
#[derive(Debug, Clone)]
pub struct PgChat {
    pub id: i64,
    pub title: Option<String>,
    pub monitored: bool,
    pub sla_enabled: bool,
    pub threshold: i64,
    pub warning: Option<i64>,
    pub interval: Option<i64>,
    pub max_escalations: Option<i64>,
    pub accountants: Vec<i64>,
    /// Telegram ids as text, as the original keeps them; junk is skipped.
    pub managers: Vec<String>,
    pub deleted: bool,
    pub updated_at: i64,
    pub row_version: i64,
}

/// A user as Postgres has it (only users with a Telegram id matter here).
#[derive(Debug, Clone)]
pub struct PgUser {
    pub telegram_id: i64,
    pub full_name: String,
    pub username: Option<String>,
    pub role: String,
    pub email: Option<String>,
    pub active: bool,
    pub updated_at: i64,
    pub row_version: i64,
}

/// What one pull read.
#[derive(Debug, Default)]
pub struct Batch {
    pub chats: Vec<PgChat>,
    pub users: Vec<PgUser>,
    /// (table, old row, version) of deleted rows.
    pub deletions: Vec<(String, serde_json::Value, i64)>,
    pub calendar: CalendarBatch,
    /// The firm-wide settings row, when it changed.
    pub globals: Option<PgGlobals>,
    pub library: LibraryBatch,
    /// Every Telegram id in Postgres' users, on a full refetch.
    pub all_users: Option<std::collections::BTreeSet<i64>>,
    pub cursor: Option<Cursor>,
}

/// What one pull did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub applied: usize,
    /// Rows kept local by the conflict rule.
    pub kept_local: usize,
    /// Rows the store refused (reported and skipped).
    pub refused: usize,
}

/// Applies one pulled row in a savepoint. A row the store refuses (a value
/// out of its range, say) is reported and skipped: the pull goes on and its
/// cursor moves past it, so one bad row never stops the others; a local
/// edit of that row still pending is kept and pushed over it.
fn one_row(
    tx: &mut rusqlite::Transaction<'_>,
    apply: impl FnOnce(&Connection) -> Result<(), PullError>,
) -> Result<bool, PullError> {
    let sp = tx.savepoint().map_err(StoreError::from)?;
    match apply(&sp) {
        Ok(()) => {
            sp.commit().map_err(StoreError::from)?;
            Ok(true)
        }
        // Dropping the savepoint rolls the row's writes back.
        Err(PullError::Apply { table, key, reason }) => {
            tracing::warn!(
                table,
                key = %key,
                "sync: cannot apply the {table} row {key} pulled from Postgres, skipped: {reason}"
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

pub(super) const NEWER: &str = "($1::bool OR row_version > $2
    OR age(xmin) <= age((($3::bigint % 4294967296)::text)::xid))";

/// Reads what changed since `from` (everything when `None`) in one
/// consistent snapshot.
pub async fn read(pool: &PgPool, from: Option<Cursor>, me: &str) -> Result<Batch, PullError> {
    let mut client = pool.get().await?;
    let err = |what: &'static str| {
        let c = pool.connector().clone();
        move |e| c.query_error(what, e)
    };
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(err("starting the pull"))?;
    let horizon: i64 = tx
        .query_typed_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .map_err(err("reading the snapshot"))?
        .get(0);
    // A cursor ahead of the sequence comes from another database (Postgres
    // restored from a dump, a new project): it cannot be trusted.
    let last: i64 = tx
        .query_typed_one("SELECT last_value FROM buhbot.row_version_seq", &[])
        .await
        .map_err(err("reading the row version"))?
        .get(0);
    // A schema migrated since may have brought columns or rows the
    // cursor never covered.
    let schema: i64 = tx
        .query_typed_one(
            "SELECT coalesce(max(version), 0)::bigint FROM buhbot.schema_migrations",
            &[],
        )
        .await
        .map_err(err("reading the schema version"))?
        .get(0);
    let from = from.filter(|c| c.version <= last && c.schema == schema);
    let full = from.is_none();
    let c = from.unwrap_or(Cursor {
        version: 0,
        horizon: 0,
        schema,
    });
    let args: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 4] = [
        (&full, Type::BOOL),
        (&c.version, Type::INT8),
        (&c.horizon, Type::INT8),
        (&me, Type::TEXT),
    ];
    let mut batch = Batch::default();
    let mut top = c.version;
    for r in tx
        .query_typed(
            &format!(
                "SELECT id, title, monitoring_enabled, sla_enabled, sla_threshold_minutes::bigint,
                        sla_warning_percent::bigint, escalation_interval_minutes::bigint,
                        max_escalations::bigint, accountant_telegram_ids, manager_telegram_ids,
                        deleted_at IS NOT NULL, floor(extract(epoch FROM updated_at))::bigint, row_version
                 FROM public.chats
                 WHERE {NEWER} AND updated_by IS DISTINCT FROM $4 ORDER BY row_version"
            ),
            &args,
        )
        .await
        .map_err(err("reading chats"))?
    {
        let chat = PgChat {
            id: r.get(0),
            title: r.get(1),
            monitored: r.get(2),
            sla_enabled: r.get(3),
            threshold: r.get(4),
            warning: r.get(5),
            interval: r.get(6),
            max_escalations: r.get(7),
            accountants: r.get(8),
            managers: r.get(9),
            deleted: r.get(10),
            updated_at: r.get(11),
            row_version: r.get(12),
        };
        top = top.max(chat.row_version);
        batch.chats.push(chat);
    }
    for r in tx
        .query_typed(
            &format!(
                "SELECT telegram_id, full_name, telegram_username, role, email, is_active,
                        floor(extract(epoch FROM updated_at))::bigint, row_version
                 FROM public.users
                 WHERE telegram_id IS NOT NULL AND {NEWER} AND updated_by IS DISTINCT FROM $4
                 ORDER BY row_version"
            ),
            &args,
        )
        .await
        .map_err(err("reading users"))?
    {
        let user = PgUser {
            telegram_id: r.get(0),
            full_name: r.get(1),
            username: r.get(2),
            role: r.get(3),
            email: r.get(4),
            active: r.get(5),
            updated_at: r.get(6),
            row_version: r.get(7),
        };
        top = top.max(user.row_version);
        batch.users.push(user);
    }
    // A full refetch needs no deletions: it replaces what it reads whole.
    if !full {
        for r in tx
            .query_typed(
                &format!(
                    "SELECT table_name, old_row, row_version FROM buhbot.deletions
                     WHERE {NEWER} AND deleted_by IS DISTINCT FROM $4 ORDER BY row_version"
                ),
                &args,
            )
            .await
            .map_err(err("reading deletions"))?
        {
            let v: i64 = r.get(2);
            top = top.max(v);
            batch.deletions.push((r.get(0), r.get(1), v));
        }
    }
    if full {
        let rows = tx
            .query_typed(
                "SELECT telegram_id FROM public.users WHERE telegram_id IS NOT NULL",
                &[],
            )
            .await
            .map_err(err("reading users"))?;
        batch.all_users = Some(rows.iter().map(|r| r.get(0)).collect());
    }
    batch.calendar = calendar::read(&tx, &args, full, &batch.deletions, &mut top)
        .await
        .map_err(err("reading schedules and holidays"))?;
    batch.globals = globals::read(&tx, &args, &mut top)
        .await
        .map_err(err("reading global settings"))?;
    batch.library = library::read(&tx, &args, full, &batch.deletions, &mut top)
        .await
        .map_err(err("reading templates and FAQ"))?;
    tx.commit().await.map_err(err("ending the pull"))?;
    batch.cursor = Some(Cursor {
        version: top,
        horizon,
        schema,
    });
    Ok(batch)
}

/// The local edit of `entity`/`key` not yet pushed, if any: its time, the
/// local row's `updated_at` (the time the push's guard compares too), or
/// the queue's for a row deleted here.
fn pending_local(conn: &Connection, entity: &str, key: &str) -> Result<Option<i64>, StoreError> {
    let queued: Option<i64> = conn
        .query_row(
            "SELECT max(created_at) FROM outbox WHERE entity = ?1 AND entity_key = ?2",
            params![entity, key],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if queued.is_none() {
        return Ok(None);
    }
    let table = match entity {
        "users" => "users",
        _ => "chats",
    };
    let row: Option<i64> = conn
        .query_row(
            &format!("SELECT updated_at FROM {table} WHERE id = ?1"),
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(row.or(queued))
}

fn drop_pending(conn: &Connection, entity: &str, key: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM outbox WHERE entity = ?1 AND entity_key = ?2",
        params![entity, key],
    )?;
    Ok(())
}

/// The conflict rule: whether Postgres' row (edited at `pg_at`) wins over
/// a local edit not yet pushed (at `local_at`). Ties go to Postgres.
pub fn postgres_wins(pg_at: i64, local_at: Option<i64>) -> bool {
    local_at.is_none_or(|l| pg_at >= l)
}

/// Applies `batch` to the store in one transaction and moves the cursor.
/// `config` is the configuration the daemon runs with: a Postgres value
/// equal to its default is not an override, a calendar is read over its.
pub fn apply(store: &Store, batch: &Batch, config: &Config, now: i64) -> Result<Pulled, PullError> {
    let mut conn = store.conn()?;
    let mut tx = crate::store::write_tx(&mut conn).map_err(StoreError::from)?;
    tx.execute("UPDATE sync_state SET applying = 1", [])
        .map_err(StoreError::from)?;
    let mut done = Pulled::default();
    for u in &batch.users {
        let key = u.telegram_id.to_string();
        if !postgres_wins(u.updated_at, pending_local(&tx, "users", &key)?) {
            done.kept_local += 1;
            continue;
        }
        if one_row(&mut tx, |c| {
            drop_pending(c, "users", &key)?;
            people::apply_user(c, u, now)
        })? {
            done.applied += 1;
        } else {
            done.refused += 1;
        }
    }
    for c in &batch.chats {
        let key = c.id.to_string();
        if !postgres_wins(c.updated_at, pending_local(&tx, "chats", &key)?) {
            done.kept_local += 1;
            continue;
        }
        if one_row(&mut tx, |conn| {
            drop_pending(conn, "chats", &key)?;
            people::apply_chat(conn, c, config, now)
        })? {
            done.applied += 1;
        } else {
            done.refused += 1;
        }
    }
    let mut gone: Vec<i64> = batch
        .deletions
        .iter()
        .filter(|(table, _, _)| table == "users")
        .filter_map(|(_, old, _)| old.get("telegram_id")?.as_i64())
        .collect();
    if let Some(upstream) = &batch.all_users {
        // Deleted while the cursor was not trusted; a user added here and
        // not pushed yet is not "absent", it is new.
        for u in users::list(&tx)? {
            if !upstream.contains(&u.id)
                && pending_local(&tx, "users", &u.id.to_string())?.is_none()
            {
                gone.push(u.id);
            }
        }
    }
    for id in gone {
        if users::get(&tx, id)?.is_some() {
            users::remove(&tx, id, "postgres", now).map_err(|e| PullError::Apply {
                table: "users",
                key: id.to_string(),
                reason: e.to_string(),
            })?;
            done.applied += 1;
        }
    }
    // A chat deleted upstream (rather than marked deleted) stops being
    // monitored here: its history stays, as with `deleted_at`.
    let dropped = batch
        .deletions
        .iter()
        .filter(|(table, _, _)| table == "chats")
        .filter_map(|(_, old, _)| old.get("id")?.as_i64());
    for id in dropped {
        let change = ChatChange {
            monitored: Some(false),
            ..ChatChange::default()
        };
        if chats::get(&tx, id)?.is_some_and(|c| c.monitored) {
            chats::update(&tx, id, change, "postgres", now).map_err(|e| PullError::Apply {
                table: "chats",
                key: id.to_string(),
                reason: e.to_string(),
            })?;
            done.applied += 1;
        }
    }
    done.applied += calendar::apply(&tx, &batch.calendar, config, now)?;
    if let Some(g) = &batch.globals {
        done.applied += globals::apply(&tx, g, config, now)?;
    }
    done.applied += library::apply(&tx, &batch.library, now)?;
    tx.execute("UPDATE sync_state SET applying = 0", [])
        .map_err(StoreError::from)?;
    if let Some(c) = batch.cursor {
        state::set_position(&tx, CURSOR_SOURCE, &c.text(), now)?;
    }
    tx.commit().map_err(StoreError::from)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_edit_wins_and_postgres_breaks_ties() {
        assert!(postgres_wins(100, None));
        assert!(postgres_wins(100, Some(99)));
        assert!(postgres_wins(100, Some(100)));
        assert!(!postgres_wins(100, Some(101)));
    }

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            version: 42,
            horizon: 7_000_000_001,
            schema: 5,
        };
        assert_eq!(Cursor::parse(&c.text()), Some(c));
        assert_eq!(Cursor::parse("junk"), None);
        assert_eq!(Cursor::parse("3:4").map(|c| c.schema), Some(0));
    }
}
