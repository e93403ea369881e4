//! The hot standby's replica of the store (issue 14 part 5), the SQLite
//! side: which tables make up the bot's state, the triggers that queue
//! their changes (entity `replica`), the rows as JSON for the push, and
//! the rebuild of those tables from what Postgres holds.
//!
//! Why a replica of its own rather than the firm's tables: those are a
//! mapping (uuids, renamed columns, no timers, no outbound queue, no
//! Telegram update state) that cannot be read back into the store without
//! loss. The replica is the store's rows as they are, keyed by primary
//! key, so a takeover starts from exactly what the dead host had pushed.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value as Json;

use super::{Result, StoreError};

/// The host's own tables, never replicated: its Telegram session (keys and
/// data centres are per host: each signs in with the bot token), its sync
/// queue and bookkeeping, its start history, the migrations, SQLite's own;
/// the FAQ revision counter is derived (its triggers bump it on rebuild).
pub const HOST_LOCAL: &[&str] = &[
    "faq_revision",
    "outbox",
    "schema_migrations",
    "sqlite_sequence",
    "starts",
    "sync_dead_letters",
    "sync_state",
    "tg_dc_options",
    "tg_home_dc",
];

/// Tables replicated only in part: `transport_state` holds host-local
/// positions (a replay file's, the restore marker, the settings revision)
/// and the sync's, which the replica carries so that the new active
/// daemon is the same daemon to Postgres (its id, its pull cursor).
const ROW_FILTER: &[(&str, &str, &str)] = &[("transport_state", "source", "sync.%")];

/// The entity of replica entries in the outbox.
pub const ENTITY: &str = "replica";

/// A replicated table: its columns and primary key, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub key: Vec<String>,
}

impl Table {
    /// The condition on the rows replicated, its column read through
    /// `side` (`NEW.`, `OLD.` or nothing).
    fn filter(&self, side: &str) -> Option<String> {
        ROW_FILTER
            .iter()
            .find(|(t, _, _)| *t == self.name)
            .map(|(_, c, like)| format!("{side}{} LIKE '{like}'", quoted(c)))
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The replicated tables of this store's schema, by name.
pub fn tables(conn: &Connection) -> Result<Vec<Table>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for name in names {
        out.extend(table(conn, &name)?);
    }
    Ok(out)
}

/// One replicated table; `None` for the host's own or a table the store
/// does not have.
pub fn table(conn: &Connection, name: &str) -> Result<Option<Table>> {
    if HOST_LOCAL.contains(&name) {
        return Ok(None);
    }
    let mut cols: Vec<(String, i64)> = conn
        .prepare_cached("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if cols.is_empty() {
        return Ok(None);
    }
    let columns = cols.iter().map(|(c, _)| c.clone()).collect();
    cols.retain(|(_, pk)| *pk > 0);
    cols.sort_by_key(|(_, pk)| *pk);
    let key: Vec<String> = cols.into_iter().map(|(c, _)| c).collect();
    if key.is_empty() {
        return Err(StoreError::Replica(format!(
            "table {name} has no primary key: it cannot be replicated (list it in \
             store::replica::HOST_LOCAL or give it one)"
        )));
    }
    Ok(Some(Table {
        name: name.to_string(),
        columns,
        key,
    }))
}

impl Table {
    /// The row of a key as a JSON object (`json_object` of every column).
    fn select_sql(&self) -> String {
        let object: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("'{}', {}", c.replace('\'', "''"), quoted(c)))
            .collect();
        let cond: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", quoted(c), i + 1))
            .collect();
        format!(
            "SELECT json_object({}) FROM {} WHERE {}",
            object.join(", "),
            quoted(&self.name),
            cond.join(" AND ")
        )
    }
}

/// The outbox key of a row: `table:[key values]`, from `side` (NEW/OLD).
fn key_expr(t: &Table, side: &str) -> String {
    let values: Vec<String> = t
        .key
        .iter()
        .map(|c| format!("{side}.{}", quoted(c)))
        .collect();
    format!("'{}:' || json_array({})", t.name, values.join(", "))
}

fn trigger_sql(t: &Table) -> String {
    let (new, old) = (key_expr(t, "NEW"), key_expr(t, "OLD"));
    let when = "(SELECT applying FROM sync_state) < 2";
    let row = |side: &str| {
        t.filter(side)
            .map_or(String::new(), |f| format!(" AND {f}"))
    };
    let name = |op: &str| quoted(&format!("{}_replica_outbox_{op}", t.name));
    let table = quoted(&t.name);
    format!(
        "CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {table} WHEN {when}{new_row}
         BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('{ENTITY}', {new}, 'upsert'); END;
         CREATE TRIGGER IF NOT EXISTS {upd} AFTER UPDATE ON {table} WHEN {when}
         BEGIN
             INSERT INTO outbox (entity, entity_key, op)
                 SELECT '{ENTITY}', {old}, 'delete' WHERE {old} <> {new}{old_row};
             INSERT INTO outbox (entity, entity_key, op)
                 SELECT '{ENTITY}', {new}, 'upsert' WHERE 1{new_row};
         END;
         CREATE TRIGGER IF NOT EXISTS {del} AFTER DELETE ON {table} WHEN {when}{old_row}
         BEGIN INSERT INTO outbox (entity, entity_key, op) VALUES ('{ENTITY}', {old}, 'delete'); END;",
        ins = name("ins"),
        upd = name("upd"),
        del = name("del"),
        new_row = row("NEW."),
        old_row = row("OLD."),
    )
}

/// Whether every row has been queued for the replica.
pub fn seeded(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT replica FROM sync_state", [], |r| r.get(0))?)
}

/// Turns the replica on (`[postgres] standby = true`) or off; returns the
/// rows queued. On creates the triggers (for every table the schema has
/// now) and, the first time, queues every row; off drops the triggers and
/// forgets the seed. Run at start after `outbox::set_enabled`, which drops
/// every outbox trigger, these included, when sync is off.
pub fn set_enabled(conn: &Connection, on: bool) -> Result<usize> {
    super::in_savepoint(conn, || {
        let triggers: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'
                 AND name LIKE '%\\_replica\\_outbox\\_%' ESCAPE '\\'",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !on {
            for t in &triggers {
                conn.execute_batch(&format!("DROP TRIGGER IF EXISTS {}", quoted(t)))?;
            }
            // Already off (every start without standby): no write at all.
            if seeded(conn)? {
                conn.execute("UPDATE sync_state SET replica = 0", [])?;
            }
            return Ok(0);
        }
        let tables = tables(conn)?;
        for t in &tables {
            conn.execute_batch(&trigger_sql(t))?;
        }
        if seeded(conn)? {
            return Ok(0);
        }
        let mut n = 0;
        for t in &tables {
            let filter = t
                .filter("")
                .map_or(String::new(), |f| format!(" WHERE {f}"));
            let keys: Vec<String> = t.key.iter().map(|c| quoted(c)).collect();
            n += conn.execute(
                &format!(
                    "INSERT INTO outbox (entity, entity_key, op)
                     SELECT '{ENTITY}', '{name}:' || json_array({k}), 'upsert' FROM {table}{filter}",
                    name = t.name,
                    k = keys.join(", "),
                    table = quoted(&t.name),
                ),
                [],
            )?;
        }
        conn.execute("UPDATE sync_state SET replica = 1", [])?;
        Ok(n)
    })
}

/// A replica entry's key (`table:[pk…]`), parsed: the table, the key as
/// Postgres keys the row (the JSON array's text) and its values.
pub fn parse_key(key: &str) -> Option<(&str, &str, Vec<Json>)> {
    let (table, pk) = key.split_once(':')?;
    match serde_json::from_str(pk).ok()? {
        Json::Array(v) if !v.is_empty() => Some((table, pk, v)),
        _ => None,
    }
}

fn to_sql(v: &Json) -> Sql {
    match v {
        Json::Null => Sql::Null,
        Json::Bool(b) => Sql::Integer(i64::from(*b)),
        Json::Number(n) => n
            .as_i64()
            .map(Sql::Integer)
            .unwrap_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

/// A replica entry's row, read at push time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The row as a JSON object's text, with its table and key.
    Row {
        table: String,
        pk: String,
        row: String,
    },
    /// Gone since it was queued (a later entry deletes it upstream).
    Gone,
    /// A key this schema cannot read (a table it does not replicate).
    Bad(String),
}

/// The current row of each key. Only the tables the keys name are looked
/// up (this runs on every push), each once.
pub fn rows(conn: &Connection, keys: &[&str]) -> Result<Vec<Lookup>> {
    let mut known: HashMap<String, Option<(usize, String)>> = HashMap::new();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let bad = || Lookup::Bad(format!("unreadable replica key {key:?}"));
        let Some((name, pk, values)) = parse_key(key) else {
            out.push(bad());
            continue;
        };
        if !known.contains_key(name) {
            let t = table(conn, name)?.map(|t| (t.key.len(), t.select_sql()));
            known.insert(name.to_string(), t);
        }
        let Some((width, sql)) = &known[name] else {
            out.push(bad());
            continue;
        };
        if *width != values.len() {
            out.push(bad());
            continue;
        }
        let mut stmt = conn.prepare_cached(sql)?;
        let mut found = stmt.query(params_from_iter(values.iter().map(to_sql)))?;
        out.push(match found.next()? {
            Some(r) => Lookup::Row {
                table: name.to_string(),
                pk: pk.to_string(),
                row: r.get(0)?,
            },
            None => Lookup::Gone,
        });
    }
    Ok(out)
}

/// One row of the replica, as Postgres holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub table: String,
    pub row: serde_json::Map<String, Json>,
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Rows written per table.
    pub tables: BTreeMap<String, usize>,
    /// Columns the replica has that this schema does not (a migration
    /// since the pushing binary's dropped them): left out.
    pub unknown_columns: BTreeMap<String, Vec<String>>,
    /// Tables the replica has that this schema does not (dropped since).
    pub unknown_tables: Vec<String>,
}

impl Rebuilt {
    pub fn rows(&self) -> usize {
        self.tables.values().sum()
    }
}

/// Replaces every replicated table's rows with `rows` (the replica), in
/// one transaction, with no trigger queueing them; clears the local sync
/// queue (its entries were this host's own older changes, superseded) and
/// marks the replica seeded (the store now equals it).
///
/// Columns this schema has and a row lacks (the pushing binary was older)
/// take their defaults; foreign keys are checked at the commit.
/// `rows` is the replica as it is read: an `Err` (the read failed) rolls
/// everything back and the store stays as it was.
pub fn rebuild(
    conn: &mut Connection,
    rows: impl IntoIterator<Item = std::result::Result<Row, String>>,
) -> Result<Rebuilt> {
    let tx = super::write_tx(conn)?;
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    tx.execute("UPDATE sync_state SET applying = 2", [])?;
    let tables: HashMap<String, Table> = tables(&tx)?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    for t in tables.values() {
        let filter = t
            .filter("")
            .map_or(String::new(), |f| format!(" WHERE {f}"));
        tx.execute(&format!("DELETE FROM {}{filter}", quoted(&t.name)), [])?;
    }
    let mut done = Rebuilt::default();
    for r in rows {
        let r = r.map_err(|e| StoreError::Replica(format!("reading the replica: {e}")))?;
        let Some(t) = tables.get(&r.table) else {
            if !done.unknown_tables.contains(&r.table) {
                done.unknown_tables.push(r.table.clone());
            }
            continue;
        };
        let mut cols = Vec::new();
        let mut values = Vec::new();
        for (c, v) in r.row {
            if t.columns.contains(&c) {
                cols.push(quoted(&c));
                values.push(to_sql(&v));
            } else {
                let unknown = done.unknown_columns.entry(t.name.clone()).or_default();
                if !unknown.contains(&c) {
                    unknown.push(c);
                }
            }
        }
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quoted(&t.name),
            cols.join(", "),
            marks.join(", ")
        );
        tx.prepare_cached(&sql)?
            .execute(params_from_iter(values))
            .map_err(|e| {
                StoreError::Replica(format!("cannot write the replica's {} row: {e}", t.name))
            })?;
        *done.tables.entry(t.name.clone()).or_default() += 1;
    }
    tx.execute("DELETE FROM outbox", [])?;
    tx.execute("UPDATE sync_state SET applying = 0, replica = 1", [])?;
    tx.commit().map_err(|e| {
        StoreError::Replica(format!("the rebuilt store fails a check at commit: {e}"))
    })?;
    Ok(done)
}
