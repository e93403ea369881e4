//! Dumps of the firm's Postgres (`[postgres]`) with `pg_dump -Fc`, and
//! their restore into an empty database with `pg_restore`.
//!
//! What a dump holds: the schemas `public` and `buhbot` — every table,
//! row, function, trigger, policy and grant buhbot's migrations made, the
//! sync bookkeeping (`buhbot.schema_migrations`, `buhbot.sync_positions`,
//! `buhbot.deletions`) and the position of `buhbot.row_version_seq`. Not
//! in it: roles (they belong to the cluster), Supabase's own schemas
//! (`auth`, `storage`…: Supabase backs them up) and extensions.
//!
//! Who dumps: the daemon's own role by default, which reads all of it
//! (sql/postgres/0004_daemon_role.sql and 0005_backup_read.sql) — through
//! its `daemon_all` policies, so the dump runs with row security on. Any
//! other role (`[backup] postgres_user`) dumps with row security off:
//! pg_dump then fails on a table whose policies would hide rows from it
//! rather than write a dump with rows missing.
//!
//! Files: `buhbot-pg-YYYYMMDDTHHMMSSZ.dump` (mode 0600) in the backup
//! directory, beside the SQLite archives and never confused with them;
//! written under a temporary name in a private scratch directory and
//! linked into place only once complete and synced.

mod dump;
mod restore;
mod tool;

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub use dump::{DumpInfo, DumpSettings, dump};
pub use restore::{RestoreReport, RestoreTarget, restore};
pub use tool::{find_pg_dump, find_pg_restore};

use super::fsutil::sync_dir;
use super::{BackupEntry, BackupError, NamePattern};
use crate::sync::pg::PgError;

const DUMPS: NamePattern = NamePattern {
    prefix: "buhbot-pg-",
    suffix: ".dump",
};

/// sysexits(3) codes of the Postgres backup commands.
pub const EX_DATAERR: u8 = 65;
pub const EX_NOINPUT: u8 = 66;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_CANTCREAT: u8 = 73;
pub const EX_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
pub enum PgBackupError {
    #[error("{tool} not found ({looked}): install postgresql-client")]
    ToolMissing { tool: &'static str, looked: String },
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("pg_dump of {target} failed ({status}): {stderr}{hint}")]
    Dump {
        target: String,
        status: String,
        stderr: String,
        hint: &'static str,
    },
    #[error("cannot read {}: {source}", file.display())]
    NoInput {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a pg_dump archive in custom format (pg_restore --list: {stderr})", file.display())]
    NotADump { file: PathBuf, stderr: String },
    #[error(
        "the database {target} is not empty ({what}): restore-postgres only restores into an \
         empty database; create one (createdb NAME) and name it with --dbname"
    )]
    NotEmpty { target: String, what: String },
    #[error(
        "pg_restore into {target} failed ({status}); it ran in one transaction, so nothing was \
         restored: {stderr}"
    )]
    Restore {
        target: String,
        status: String,
        stderr: String,
    },
    #[error("the dump's file work failed: {0}")]
    Join(String),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Fs(#[from] BackupError),
}

impl PgBackupError {
    /// The command's exit status: sysexits(3) where one fits, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            PgBackupError::ToolMissing { .. } => EX_UNAVAILABLE,
            PgBackupError::NoInput { .. } => EX_NOINPUT,
            PgBackupError::NotADump { .. } => EX_DATAERR,
            PgBackupError::NotEmpty { .. } => EX_CANTCREAT,
            PgBackupError::Pg(
                PgError::Connect { .. } | PgError::Timeout { .. } | PgError::Untrusted { .. },
            ) => EX_UNAVAILABLE,
            PgBackupError::Pg(
                PgError::CaRead { .. }
                | PgError::CaEmpty { .. }
                | PgError::CaInvalid { .. }
                | PgError::NoCaFile { .. },
            ) => EX_CONFIG,
            _ => 1,
        }
    }
}

/// `buhbot-pg-YYYYMMDDTHHMMSSZ.dump` for `at`.
pub fn dump_name(at: DateTime<Utc>) -> String {
    DUMPS.name(at)
}

/// The timestamp of a dump's name, or `None` for any other name (the
/// SQLite archives and stray files are never pruned as dumps).
pub fn parse_dump_name(name: &str) -> Option<DateTime<Utc>> {
    DUMPS.parse(name)
}

/// The dumps in `dir`, newest first.
pub fn list_dumps(dir: &std::path::Path) -> Result<Vec<BackupEntry>, BackupError> {
    super::prune::list_named(dir, parse_dump_name)
}

/// Deletes all but the newest `keep` dumps in `dir` (the newest is kept
/// even with `keep == 0`); returns the deleted paths, newest first.
pub fn prune_dumps(dir: &std::path::Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let mut deleted = Vec::new();
    for entry in list_dumps(dir)?.into_iter().skip(keep.max(1)) {
        std::fs::remove_file(&entry.path).map_err(BackupError::io("delete", &entry.path))?;
        tracing::info!("deleted old Postgres dump {}", entry.path.display());
        deleted.push(entry.path);
    }
    if !deleted.is_empty() {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_round_trip_and_reject_archives_and_strays() {
        let t = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(dump_name(t), "buhbot-pg-20250304T050607Z.dump");
        assert_eq!(parse_dump_name(&dump_name(t)), Some(t));
        for stray in [
            "buhbot-20250304T050607Z.tar.gz",
            "buhbot-pg-20250304T050607Z.dump.part",
            "buhbot-pg-20250304T050607.dump",
            "buhbot-pg-20251304T050607Z.dump",
            ".buhbot-pg-20250304T050607Z.dump",
        ] {
            assert_eq!(parse_dump_name(stray), None, "{stray}");
        }
        assert_eq!(super::super::parse_archive_name(&dump_name(t)), None);
    }

    #[test]
    fn exit_codes_follow_sysexits() {
        let missing = PgBackupError::ToolMissing {
            tool: "pg_dump",
            looked: "PATH".into(),
        };
        assert_eq!(missing.exit_code(), 69);
        assert!(
            missing
                .to_string()
                .starts_with("pg_dump not found (PATH): install postgresql-client"),
            "{missing}"
        );
        let not_empty = PgBackupError::NotEmpty {
            target: "x".into(),
            what: "y".into(),
        };
        assert_eq!(not_empty.exit_code(), 73);
    }
}
