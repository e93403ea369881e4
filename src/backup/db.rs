//! SQLite side: the online snapshot and the checks run on a copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{BackupError, Progress};

/// Pages copied per step: 1024 pages is 4 MiB at the default page size,
/// big enough that the per-step overhead is negligible.
const PAGES_PER_STEP: i32 = 1024;
/// Pause between steps, so the copy does not monopolise the disk and (in
/// rollback-journal mode) writers get the lock between steps.
const STEP_PAUSE: Duration = Duration::from_millis(2);
/// How long to wait for a lock before giving up on a step or a read.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Copies `src` into a new database file `dest` while other connections may
/// keep writing to `src`.
///
/// In WAL mode (the daemon's) we hold one read transaction across all steps:
/// readers do not block WAL writers, and the copy is the snapshot at its
/// start. Without it SQLite restarts the backup from page 1 whenever another
/// connection commits between steps, so under a steady writer a large
/// database would never finish. In rollback-journal mode holding the read
/// lock would block writers for the whole copy, so there we step without it
/// and accept restarts.
pub(super) fn snapshot(
    src: &Path,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<(), BackupError> {
    if !src.is_file() {
        return Err(BackupError::NoDatabase {
            path: src.to_path_buf(),
        });
    }
    let src_err = || BackupError::sqlite(src);
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(src_err())?;
    from.busy_timeout(BUSY_TIMEOUT).map_err(src_err())?;
    let mode: String = from
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(src_err())?;
    let wal = mode.eq_ignore_ascii_case("wal");
    if wal {
        // A deferred transaction takes its read snapshot at the first read.
        from.execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_master;")
            .map_err(src_err())?;
    }

    let mut to = Connection::open(dest).map_err(BackupError::sqlite(dest))?;
    {
        let backup = Backup::new(&from, &mut to).map_err(BackupError::sqlite(dest))?;
        loop {
            let step = backup.step(PAGES_PER_STEP).map_err(src_err())?;
            let p = backup.progress();
            let total = u64::try_from(p.pagecount).unwrap_or(0);
            let left = u64::try_from(p.remaining).unwrap_or(0);
            progress.update(total.saturating_sub(left), total);
            match step {
                StepResult::Done => break,
                // Busy/Locked are retryable; the busy timeout already waited.
                _ => std::thread::sleep(STEP_PAUSE),
            }
        }
    }
    progress.finish();
    if wal {
        from.execute_batch("COMMIT").map_err(src_err())?;
    }
    // The copy inherits WAL mode from the header; a self-contained single
    // file is what belongs in an archive and what a restore puts in place.
    let _: String = to
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(BackupError::sqlite(dest))?;
    to.close().map_err(|(_, e)| BackupError::Sqlite {
        path: dest.to_path_buf(),
        source: e,
    })?;
    Ok(())
}

/// Facts about a database copy, gathered by [`check`].
pub(super) struct Checked {
    pub schema_version: i64,
    pub row_counts: BTreeMap<String, u64>,
}

/// Opens a copy read-only, runs `PRAGMA integrity_check` and counts the
/// rows of every table.
pub(super) fn check(path: &Path) -> Result<Checked, BackupError> {
    let err = || BackupError::sqlite(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err())?;
    let report: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err())?;
    if report != ["ok"] {
        return Err(BackupError::Integrity {
            path: path.to_path_buf(),
            report: report.join("; "),
        });
    }
    let schema_version = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err())?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err())?;
    let mut row_counts = BTreeMap::new();
    for table in tables {
        let sql = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(err())?;
        row_counts.insert(table, u64::try_from(n).unwrap_or(0));
    }
    Ok(Checked {
        schema_version,
        row_counts,
    })
}
