//! Putting an archived database back in place of the live one.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::fsutil::{ScratchDir, parent_of, sync_dir, sync_file};
use super::verify::unpack_checked;
use super::{BackupError, DbLock, LockError, RestoreInfo, lock_path};

/// Verifies `archive` (see [`super::verify`]) and replaces `db` with its
/// database.
///
/// Refuses with [`BackupError::DaemonRunning`] while the daemon's
/// [`DbLock`] is held, unless `force`; otherwise the lock is held for the
/// swap so the daemon cannot start mid-way. The current database and its
/// `-wal`/`-shm` files are kept as `<db>.replaced-YYYYMMDDTHHMMSSZ` (`now`),
/// `…-wal`, `…-shm` — together still an openable database. The restored file
/// gets the replaced one's mode, else 0600; when running as root, it and the
/// lock file get the replaced one's owner, else the directory's.
/// `db` is never missing: the old file is hard-linked aside and the new one
/// renamed over it.
pub fn restore(
    archive: &Path,
    db: &Path,
    force: bool,
    now: DateTime<Utc>,
) -> Result<RestoreInfo, BackupError> {
    let dir = parent_of(db);
    // Unpack next to the database so the final rename is atomic.
    let scratch = ScratchDir::new_in(dir)?;
    let (manifest, new_db) = unpack_checked(archive, scratch.path())?;

    let (_lock, forced) = match DbLock::acquire(db) {
        Ok(lock) => (Some(lock), false),
        Err(LockError::Held { path }) if force => {
            tracing::warn!("{} is held; restoring anyway (--force)", path.display());
            (None, true)
        }
        Err(LockError::Held { .. }) => {
            return Err(BackupError::DaemonRunning {
                lock: lock_path(db),
            });
        }
        Err(e) => return Err(BackupError::Lock(e)),
    };

    let old_meta = match fs::metadata(db) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(BackupError::io("stat", db)(e)),
    };
    let mode = old_meta
        .as_ref()
        .map_or(0o600, |m| m.permissions().mode() & 0o7777);
    fs::set_permissions(&new_db, fs::Permissions::from_mode(mode))
        .map_err(BackupError::io("chmod", &new_db))?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Files root creates here must stay usable by the daemon's user: take
        // the replaced database's owner, or the directory's if there is none.
        let owner = match &old_meta {
            Some(m) => (m.uid(), m.gid()),
            None => {
                let m = fs::metadata(dir).map_err(BackupError::io("stat", dir))?;
                (m.uid(), m.gid())
            }
        };
        for path in [new_db.clone(), lock_path(db)] {
            std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1))
                .map_err(BackupError::io("chown", &path))?;
        }
    }
    // The pull's cursor in an archive is as old as the archive, and what
    // was deleted in Postgres since may be pruned: refetch in full.
    rusqlite::Connection::open(&new_db)
        .and_then(|c| {
            let has: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'transport_state'",
                [],
                |r| r.get(0),
            )?;
            if has {
                c.execute(
                    "DELETE FROM transport_state WHERE source = ?1",
                    [crate::store::state::PULL_CURSOR],
                )?;
                // The next `buhbot run` tells the admins it runs on a
                // restored database (crate::domain::starts), and takes it.
                let name = archive.file_name().map_or_else(
                    || archive.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                c.execute(
                    "INSERT INTO transport_state (source, position, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source) DO UPDATE SET position = excluded.position,
                         updated_at = excluded.updated_at",
                    rusqlite::params![crate::store::starts::RESTORED_MARKER, name, now.timestamp()],
                )?;
            }
            Ok(())
        })
        .map_err(BackupError::sqlite(&new_db))?;
    sync_file(&new_db)?;

    let replaced = match old_meta {
        Some(_) => Some(move_aside(db, now)?),
        None => None,
    };
    fs::rename(&new_db, db).map_err(BackupError::io("move restored database to", db))?;
    sync_dir(dir)?;
    drop(scratch);
    tracing::info!(
        "restored {} from {}{}",
        db.display(),
        archive.display(),
        replaced.as_ref().map_or(String::new(), |p| format!(
            "; previous database kept as {}",
            p.display()
        ))
    );
    Ok(RestoreInfo {
        manifest,
        replaced,
        forced,
    })
}

/// Moves `-wal`/`-shm` aside first (a stale WAL next to the restored file
/// would be replayed into it), then hard-links the database aside so the
/// path never disappears; the caller's rename replaces it.
fn move_aside(db: &Path, now: DateTime<Utc>) -> Result<PathBuf, BackupError> {
    let aside = with_suffix(db, &format!(".replaced-{}", now.format("%Y%m%dT%H%M%SZ")));
    for suffix in ["", "-wal", "-shm"] {
        let target = with_suffix(&aside, suffix);
        if target.exists() {
            return Err(BackupError::Exists { path: target });
        }
    }
    for suffix in ["-wal", "-shm"] {
        let from = with_suffix(db, suffix);
        if from.exists() {
            let to = with_suffix(&aside, suffix);
            fs::rename(&from, &to).map_err(BackupError::io("move aside", &from))?;
        }
    }
    if let Err(e) = fs::hard_link(db, &aside) {
        // Some filesystems have no hard links; a brief gap is acceptable then.
        tracing::debug!("hard link {} failed ({e}); renaming instead", db.display());
        fs::rename(db, &aside).map_err(BackupError::io("move aside", db))?;
    }
    Ok(aside)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
