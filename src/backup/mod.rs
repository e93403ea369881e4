//! Backups of the daemon's SQLite database: online snapshot, verification,
//! retention and restore.
//!
//! An archive `buhbot-YYYYMMDDTHHMMSSZ.tar.gz` holds `buhbot.db` (a
//! consistent snapshot, rollback-journal mode so the single file is
//! complete), `manifest.json` ([`Manifest`]) and, when given, `buhbot.toml`.
//! The timestamp in the name is the snapshot time (UTC); retention and
//! listing read it from the name so copying archives around (which resets
//! mtimes) does not change their age.

mod create;
mod db;
mod fsutil;
mod lock;
pub mod postgres;
mod progress;
mod prune;
mod restore;
mod verify;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

pub use create::create;
pub use lock::{DbLock, LockError, lock_path};
pub use progress::{NoProgress, Progress, TerminalProgress, progress_for_terminal};
pub use prune::{list, prune};
pub use restore::restore;
pub use verify::verify;

/// Default directory for archives.
pub const DEFAULT_DIR: &str = "/var/backups/buhbot";
/// Version of `manifest.json` this build writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

const DB_MEMBER: &str = "buhbot.db";
const CONFIG_MEMBER: &str = "buhbot.toml";
const MANIFEST_MEMBER: &str = "manifest.json";
/// The SQLite archives' names.
const ARCHIVES: NamePattern = NamePattern {
    prefix: "buhbot-",
    suffix: ".tar.gz",
};

/// A backup file's name: a prefix, the UTC time `YYYYMMDDTHHMMSSZ`, a
/// suffix. The archives and the Postgres dumps share the directory, each
/// under its own pattern, so neither is ever listed or pruned as the other.
pub(crate) struct NamePattern {
    pub prefix: &'static str,
    pub suffix: &'static str,
}

impl NamePattern {
    const TIME: &'static str = "%Y%m%dT%H%M%SZ";

    pub fn name(&self, at: DateTime<Utc>) -> String {
        format!("{}{}{}", self.prefix, at.format(Self::TIME), self.suffix)
    }

    /// The time in `name`, or `None` unless `name` is exactly this pattern.
    pub fn parse(&self, name: &str) -> Option<DateTime<Utc>> {
        let stamp = name.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
        if stamp.len() != 16 {
            return None;
        }
        NaiveDateTime::parse_from_str(stamp, Self::TIME)
            .ok()
            .map(|t| t.and_utc())
    }
}

/// Where archives go and how long they stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    pub dir: PathBuf,
    /// Archives older than this many days are deleted (see [`prune`]).
    pub keep_days: u32,
    /// At most this many archives are kept (see [`prune`]).
    pub keep_count: usize,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: PathBuf::from(DEFAULT_DIR),
            keep_days: 28,
            keep_count: 28,
        }
    }
}

/// `manifest.json`: what the archive should contain, checked by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub buhbot_version: String,
    /// Snapshot time, RFC 3339.
    pub created_at: DateTime<Utc>,
    /// The database the snapshot was taken from.
    pub source: PathBuf,
    /// `PRAGMA user_version` of the snapshot.
    pub schema_version: i64,
    /// Size of `buhbot.db` in the archive.
    pub db_size_bytes: u64,
    pub config_included: bool,
    /// Rows per table of the snapshot.
    pub row_counts: BTreeMap<String, u64>,
}

/// A freshly created archive.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub row_counts: BTreeMap<String, u64>,
}

/// An archive found in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupEntry {
    pub path: PathBuf,
    /// From the file name.
    pub created_at: DateTime<Utc>,
    pub size_bytes: u64,
}

/// The outcome of [`restore`].
#[derive(Debug, Clone)]
pub struct RestoreInfo {
    pub manifest: Manifest,
    /// Where the replaced database went (`<db>.replaced-…`), if there was one;
    /// its `-wal`/`-shm` files, if any, sit next to it with those suffixes.
    pub replaced: Option<PathBuf>,
    /// True when the daemon's lock was held and `force` overrode it.
    pub forced: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {} does not exist", path.display())]
    NoDatabase { path: PathBuf },
    #[error("integrity check of {} failed: {report}", path.display())]
    Integrity { path: PathBuf, report: String },
    #[error("archive {} has no {member}", archive.display())]
    MissingMember {
        archive: PathBuf,
        member: &'static str,
    },
    #[error("manifest of {} is unreadable: {source}", archive.display())]
    Manifest {
        archive: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("manifest of {} has format version {found}; this buhbot reads {MANIFEST_FORMAT}", archive.display())]
    ManifestVersion { archive: PathBuf, found: u32 },
    #[error("database in {} is {actual} bytes, the manifest says {expected}", archive.display())]
    SizeMismatch {
        archive: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("database in {} does not match its manifest: {differences}", archive.display())]
    RowCounts {
        archive: PathBuf,
        differences: String,
    },
    #[error("{} already exists", path.display())]
    Exists { path: PathBuf },
    #[error("the buhbot daemon seems to be running ({} is locked); stop it first or use --force", lock.display())]
    DaemonRunning { lock: PathBuf },
    #[error(transparent)]
    Lock(LockError),
}

impl BackupError {
    fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Io {
            action,
            path,
            source,
        }
    }

    fn sqlite(path: impl Into<PathBuf>) -> impl FnOnce(rusqlite::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Sqlite { path, source }
    }
}

/// `buhbot-YYYYMMDDTHHMMSSZ.tar.gz` for `at`.
pub fn archive_name(at: DateTime<Utc>) -> String {
    ARCHIVES.name(at)
}

/// The timestamp of an archive name, or `None` if the name is not exactly
/// [`archive_name`]'s pattern (so stray files are never pruned).
pub fn parse_archive_name(name: &str) -> Option<DateTime<Utc>> {
    ARCHIVES.parse(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_round_trip_and_reject_strays() {
        let t = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(archive_name(t), "buhbot-20250304T050607Z.tar.gz");
        assert_eq!(parse_archive_name(&archive_name(t)), Some(t));
        for stray in [
            "buhbot-20250304T050607Z.tar.gz.tmp",
            "buhbot-20250304T050607.tar.gz",
            "buhbot-2025034T050607Z.tar.gz",
            "other-20250304T050607Z.tar.gz",
            "buhbot-20251304T050607Z.tar.gz",
        ] {
            assert_eq!(parse_archive_name(stray), None, "{stray}");
        }
    }
}
