//! Taking a dump: `pg_dump -Fc` into a private scratch file, then sync,
//! link into place, prune.

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};

use super::{PgBackupError, dump_name, prune_dumps, tool};
use crate::backup::BackupError;
use crate::backup::fsutil::{ScratchDir, sync_dir, sync_file};
use crate::config::{Config, PostgresSettings};
use crate::sync::pg::Login;

/// The schemas buhbot's migrations make; the rest of the database
/// (Supabase's `auth`, `storage`…) is not buhbot's to back up.
const SCHEMAS: &[&str] = &["--schema=public", "--schema=buhbot"];

/// What a dump needs.
#[derive(Debug, Clone)]
pub struct DumpSettings {
    pub dir: PathBuf,
    /// The newest this many dumps are kept.
    pub keep: usize,
    /// `None`: pg_dump on `PATH`.
    pub pg_dump: Option<PathBuf>,
    /// `[postgres]`, with `[backup] postgres_port` applied.
    pub connection: PostgresSettings,
    pub login: Login,
    /// Dump with row security on: only for the daemon's own role, whose
    /// `daemon_all` policies show it every row (see the module's doc).
    pub row_security: bool,
}

impl DumpSettings {
    /// From `[backup]` and `[postgres]`; `None` without `[postgres]`.
    pub fn from_config(config: &Config) -> Option<DumpSettings> {
        let pg = config.postgres.as_ref()?;
        let b = &config.backup.postgres;
        let mut connection = pg.clone();
        if let Some(port) = b.port {
            connection.port = port;
        }
        let login = match &b.user {
            Some(user) => Login {
                user: user.clone(),
                password: b.password.clone(),
            },
            None => Login::daemon(pg),
        };
        Some(DumpSettings {
            dir: config.backup.dir.clone(),
            keep: b.keep,
            pg_dump: b.pg_dump.clone(),
            row_security: login.user == pg.user,
            connection,
            login,
        })
    }

    /// `user@host:port/dbname`, for messages.
    pub fn target(&self) -> String {
        let c = &self.connection;
        format!("{}@{}:{}/{}", self.login.user, c.host, c.port, c.dbname)
    }
}

/// A dump just written.
#[derive(Debug, Clone)]
pub struct DumpInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    /// Older dumps deleted to keep `keep`.
    pub pruned: Vec<PathBuf>,
}

/// Dumps the `[postgres]` database into `settings.dir` as
/// `buhbot-pg-<now>.dump`. A failed dump leaves nothing behind (its
/// scratch directory is removed, also when this future is dropped: the
/// child is killed then). Pruning failures are logged, not returned: the
/// dump itself succeeded.
pub async fn dump(settings: &DumpSettings, now: DateTime<Utc>) -> Result<DumpInfo, PgBackupError> {
    let now = now.trunc_subsecs(0);
    let program = tool::find_pg_dump(settings.pg_dump.as_deref())?;
    let dir = settings.dir.clone();
    let final_path = dir.join(dump_name(now));
    let (scratch, part) = blocking({
        let (dir, final_path) = (dir.clone(), final_path.clone());
        move || prepare(&dir, &final_path)
    })
    .await?;

    let mut cmd = tool::command(&program, &settings.connection, &settings.login);
    cmd.args(["--format=custom", "--no-password"])
        .args(SCHEMAS)
        .arg("--file")
        .arg(&part);
    if settings.row_security {
        cmd.arg("--enable-row-security");
    }
    let out = tool::output(cmd, &program).await;
    let failed = match out {
        Ok(out) if out.status.success() => None,
        Ok(out) => {
            let stderr = tool::stderr_text(&out.stderr);
            Some(PgBackupError::Dump {
                target: settings.target(),
                status: tool::status_text(out.status),
                hint: hint(&stderr),
                stderr,
            })
        }
        Err(e) => Some(e),
    };
    if let Some(e) = failed {
        // Removing a large partial file can take a moment.
        let _ = tokio::task::spawn_blocking(move || drop(scratch)).await;
        return Err(e);
    }
    let keep = settings.keep;
    let (size_bytes, pruned) = blocking({
        let final_path = final_path.clone();
        move || publish(scratch, &part, &final_path, &dir, keep)
    })
    .await?;
    Ok(DumpInfo {
        path: final_path,
        size_bytes,
        created_at: now,
        pruned,
    })
}

/// What to do about a pg_dump failure, when its message says.
fn hint(stderr: &str) -> &'static str {
    if stderr.contains("permission denied") {
        " (the role cannot read everything in the schemas public and buhbot: run \
         `buhbot migrate --postgres` for the daemon's grants, or name a role that can in \
         [backup] postgres_user)"
    } else if stderr.contains("server version mismatch") {
        " (pg_dump must be at least the server's major version: install that major version's \
         client (e.g. postgresql-client-17) and name its pg_dump in [backup] pg_dump)"
    } else {
        ""
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PgBackupError> + Send + 'static,
) -> Result<T, PgBackupError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PgBackupError::Join(e.to_string()))?
}

/// The directory (0750, as for the archives), a free final name, and an
/// empty 0600 file in a private scratch directory for pg_dump to fill
/// (pg_dump keeps the mode of a file it overwrites; one it created would
/// get the caller's umask).
fn prepare(dir: &Path, final_path: &Path) -> Result<(ScratchDir, PathBuf), PgBackupError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(BackupError::io("create backup directory", dir))?;
    if final_path.exists() {
        return Err(BackupError::Exists {
            path: final_path.to_path_buf(),
        }
        .into());
    }
    let scratch = ScratchDir::new_in(dir)?;
    let part = scratch.path().join("pg.dump.part");
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&part)
        .map_err(BackupError::io("create", &part))?;
    Ok((scratch, part))
}

/// Syncs the finished dump and links it under its final name (a hard link
/// fails rather than replace a dump of the same second), then prunes.
fn publish(
    scratch: ScratchDir,
    part: &Path,
    final_path: &Path,
    dir: &Path,
    keep: usize,
) -> Result<(u64, Vec<PathBuf>), PgBackupError> {
    sync_file(part)?;
    fs::hard_link(part, final_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            BackupError::Exists {
                path: final_path.to_path_buf(),
            }
        } else {
            BackupError::Io {
                action: "link the dump to",
                path: final_path.to_path_buf(),
                source: e,
            }
        }
    })?;
    drop(scratch);
    sync_dir(dir)?;
    let size = fs::metadata(final_path)
        .map_err(BackupError::io("stat", final_path))?
        .len();
    let pruned = prune_dumps(dir, keep).unwrap_or_else(|e| {
        tracing::warn!("pruning old Postgres dumps failed: {e}");
        Vec::new()
    });
    Ok((size, pruned))
}
