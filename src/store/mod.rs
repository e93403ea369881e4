//! The durable store: one SQLite database (rusqlite + r2d2), WAL mode.
//!
//! Every pooled connection gets the same pragmas. Blocking calls never run
//! on tokio's worker threads: async callers go through [`Store::run`], which
//! moves the closure to the blocking pool.

// First, so that `stored_enum!` is in scope in the modules below.
#[macro_use]
pub mod codec;

pub mod alerts;
pub mod chat_options;
pub mod chats;
pub mod contacts;
pub mod deliveries;
pub mod faq;
pub mod holidays;
pub mod messages;
mod migrate;
pub mod outbound;
pub mod outbox;
pub mod overrides;
pub mod replica;
pub mod requests;
pub mod retention;
pub mod settings;
pub mod starts;
pub mod state;
pub mod surveys;
pub mod sync_rows;
pub mod templates;
pub mod tg_session;
pub mod timers;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

pub use migrate::{MIGRATIONS, MigrationReport};

pub use crate::config::DEFAULT_DB_PATH as DEFAULT_PATH;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: r2d2::Error,
    },
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the database {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "the database {path} has schema version {found}, newer than this buhbot knows ({known}); \
         run a newer buhbot or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database task failed: {0}")]
    Join(String),
    #[error("{0}")]
    NotFound(String),
    /// A row that would clash with one already there (a template name).
    #[error("{0}")]
    Conflict(String),
    /// The hot standby's replica: a row or key that cannot be read or
    /// written (store::replica).
    #[error("replica: {0}")]
    Replica(String),
}

impl StoreError {
    /// The database stayed locked past the busy timeout: other writers
    /// kept it (a burst of ingest), nothing is wrong with it. Loops retry
    /// these instead of stopping the daemon.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Starts a write transaction. IMMEDIATE takes the write lock up front:
/// a deferred transaction that reads first and writes later can fail with
/// SQLITE_BUSY at once (no busy wait) when another writer committed in
/// between, which the daemon's concurrent loops would hit.
pub fn write_tx(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// Runs `f` under a savepoint (inside the caller's transaction): its
/// writes are kept when it succeeds and undone when it fails, while the
/// transaction goes on (a refused bot command still records its reply).
pub fn in_savepoint<T, E: From<rusqlite::Error>>(
    conn: &Connection,
    f: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    conn.execute_batch("SAVEPOINT in_savepoint")?;
    let out = f();
    if out.is_ok() {
        conn.execute_batch("RELEASE in_savepoint")?;
    } else {
        conn.execute_batch("ROLLBACK TO in_savepoint; RELEASE in_savepoint")?;
    }
    out
}

/// Run as root, a command that creates the database (`buhbot telegram
/// check` or `chats set` before the daemon's first start) would leave it to
/// root, and the daemon's user could not open it: a new database is first
/// created empty (a valid, empty SQLite file) owned by its directory's
/// owner. SQLite, run as root, gives the -wal and -shm files the database
/// file's owner by itself.
fn precreate_for_dir_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let owner = std::fs::metadata(dir)?;
    if owner.uid() == 0 {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => std::os::unix::fs::fchown(&file, Some(owner.uid()), Some(owner.gid())),
        // Created meanwhile (the daemon starting): its owner is right.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A pool of connections to the database.
#[derive(Clone)]
pub struct Store {
    pool: Pool<SqliteConnectionManager>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Pragmas every connection gets: WAL lets the CLI read while the daemon
/// writes; NORMAL sync is durable across process crashes (only a power
/// loss can drop the last transactions); the busy timeout makes writers
/// queue instead of failing.
fn init_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -2000;
         PRAGMA temp_store = MEMORY;",
    )
}

impl Store {
    /// Opens (creating if needed) the database at `path`. Does not migrate.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        precreate_for_dir_owner(path).map_err(|source| StoreError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let manager = SqliteConnectionManager::file(path).with_init(init_connection);
        let pool = Pool::builder()
            .max_size(4)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// Opens and migrates: what the daemon and most commands want.
    pub fn open_migrated(path: &Path) -> Result<(Store, MigrationReport)> {
        let store = Store::open(path)?;
        let report = store.migrate()?;
        Ok((store, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection for synchronous callers (the CLI, blocking threads).
    pub fn conn(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Applies pending migrations; refuses a database newer than the binary.
    pub fn migrate(&self) -> Result<MigrationReport> {
        migrate::migrate(&mut *self.conn()?, &self.path)
    }

    /// Runs `f` with a connection on tokio's blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

/// Ids as one bound parameter: a JSON array that `json_each` expands, so a
/// batch is one statement per table whatever its size.
pub(crate) fn id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids).to_string()
}
