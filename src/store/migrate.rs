//! Versioned schema migrations (`sql/sqlite/NNNN_name.sql`), compiled in,
//! applied in order, each in its own transaction, recorded in
//! `schema_migrations` and mirrored in `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError};

/// (version, name, SQL) in order.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../sql/sqlite/0001_init.sql")),
    (
        2,
        "outbound",
        include_str!("../../sql/sqlite/0002_outbound.sql"),
    ),
    (
        3,
        "telegram",
        include_str!("../../sql/sqlite/0003_telegram.sql"),
    ),
    (
        4,
        "deliveries",
        include_str!("../../sql/sqlite/0004_deliveries.sql"),
    ),
    (5, "sync", include_str!("../../sql/sqlite/0005_sync.sql")),
    (6, "pull", include_str!("../../sql/sqlite/0006_pull.sql")),
    (
        7,
        "starts",
        include_str!("../../sql/sqlite/0007_starts.sql"),
    ),
    (
        8,
        "library",
        include_str!("../../sql/sqlite/0008_library.sql"),
    ),
    (
        9,
        "surveys",
        include_str!("../../sql/sqlite/0009_surveys.sql"),
    ),
    (
        10,
        "receipts_menu",
        include_str!("../../sql/sqlite/0010_receipts_menu.sql"),
    ),
    (
        11,
        "replica",
        include_str!("../../sql/sqlite/0011_replica.sql"),
    ),
];

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version before.
    pub from: i64,
    /// The schema version now.
    pub to: i64,
    pub applied: Vec<(i64, &'static str)>,
}

pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub fn migrate(conn: &mut Connection, path: &Path) -> Result<MigrationReport> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version     INTEGER PRIMARY KEY,
             name        TEXT NOT NULL,
             applied_at  INTEGER NOT NULL
         );",
    )?;
    let current: i64 = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    if current > latest() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = crate::store::write_tx(conn)?;
        let step = tx.execute_batch(sql).and_then(|()| {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, unixepoch())",
                params![version, name],
            )?;
            tx.pragma_update(None, "user_version", version)
        });
        step.map_err(|source| StoreError::Migration {
            version,
            name,
            source,
        })?;
        tx.commit()?;
        tracing::info!(version, name, "applied database migration");
        applied.push((version, name));
    }
    Ok(MigrationReport {
        from: current,
        to: current.max(latest()),
        applied,
    })
}
