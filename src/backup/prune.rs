//! Listing archives and applying the retention limits.

use std::fs;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::fsutil::sync_dir;
use super::{BackupEntry, BackupError, BackupSettings, parse_archive_name};

/// The archives in `dir` (files named `buhbot-YYYYMMDDTHHMMSSZ.tar.gz`),
/// newest first. Other files are ignored. A missing `dir` is an error: it
/// most likely means a mistyped path.
pub fn list(dir: &Path) -> Result<Vec<BackupEntry>, BackupError> {
    list_named(dir, parse_archive_name)
}

/// The regular files of `dir` whose names `parse` reads a timestamp from,
/// newest first (the Postgres dumps share the directory under their own
/// pattern).
pub(super) fn list_named(
    dir: &Path,
    parse: fn(&str) -> Option<DateTime<Utc>>,
) -> Result<Vec<BackupEntry>, BackupError> {
    let mut entries = Vec::new();
    for item in fs::read_dir(dir).map_err(BackupError::io("read directory", dir))? {
        let item = item.map_err(BackupError::io("read directory", dir))?;
        let Some(created_at) = item.file_name().to_str().and_then(parse) else {
            continue;
        };
        let path = item.path();
        // symlink_metadata: a symlink named like an archive is not ours.
        let meta = fs::symlink_metadata(&path).map_err(BackupError::io("stat", &path))?;
        if meta.is_file() {
            entries.push(BackupEntry {
                path,
                created_at,
                size_bytes: meta.len(),
            });
        }
    }
    entries.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.path.cmp(&a.path))
    });
    Ok(entries)
}

/// Deletes archives in `settings.dir` so that both limits bound disk use.
///
/// An archive is deleted when it is older than `keep_days` (by the timestamp
/// in its name, relative to `now`) **or** is not among the newest
/// `keep_count` archives. The newest archive is never deleted, whatever its
/// age and even with `keep_count == 0`, so a stalled backup schedule does not
/// end with no backup at all. Only files matching the archive name pattern are
/// considered. Returns the deleted paths, oldest last.
pub fn prune(
    settings: &BackupSettings,
    now: DateTime<Utc>,
) -> Result<Vec<std::path::PathBuf>, BackupError> {
    let max_age = Duration::days(i64::from(settings.keep_days));
    let mut deleted = Vec::new();
    for (rank, entry) in list(&settings.dir)?.into_iter().enumerate() {
        let too_old = now - entry.created_at > max_age;
        let too_many = rank >= settings.keep_count;
        if rank > 0 && (too_old || too_many) {
            fs::remove_file(&entry.path).map_err(BackupError::io("delete", &entry.path))?;
            tracing::info!("deleted old backup {}", entry.path.display());
            deleted.push(entry.path);
        }
    }
    if !deleted.is_empty() {
        sync_dir(&settings.dir)?;
    }
    Ok(deleted)
}
