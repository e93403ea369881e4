//! The Postgres half of `[backup]`: a `pg_dump -Fc` of the `[postgres]`
//! database on its own schedule, into the same directory as the SQLite
//! archives (`buhbot-pg-YYYYMMDDTHHMMSSZ.dump`). Only active when
//! `[postgres]` is configured.

use std::path::PathBuf;

use super::reader::{Problems, Table, cron, join, path};
use super::{Secret, credential};

/// The systemd credential holding `postgres_user`'s password.
pub const PASSWORD_CREDENTIAL: &str = "postgres_backup_password";

/// `[backup] postgres_*`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresBackupConfig {
    /// Defaults to `[backup] enabled`: one switch turns every backup off.
    pub enabled: bool,
    /// 6-field cron in the calendar's time zone; an hour after the SQLite
    /// archive, so the two never compete for the disk.
    pub schedule: String,
    /// The newest this many dumps are kept.
    pub keep: usize,
    /// `None`: `pg_dump` on `PATH`.
    pub pg_dump: Option<PathBuf>,
    /// `None`: `[postgres] port`. A dump needs a session: through
    /// Supabase's transaction pooler (6543) the session pooler (5432) is
    /// the one to name here.
    pub port: Option<u16>,
    /// `None`: the daemon's own role and password (`[postgres] user`).
    pub user: Option<String>,
    /// `postgres_user`'s: credential `postgres_backup_password`, else
    /// `postgres_password_file`.
    pub password: Option<Secret>,
}

impl PostgresBackupConfig {
    pub fn with_enabled(enabled: bool) -> PostgresBackupConfig {
        PostgresBackupConfig {
            enabled,
            schedule: "0 0 4 * * *".into(),
            keep: 28,
            pg_dump: None,
            port: None,
            user: None,
            password: None,
        }
    }
}

pub fn read(problems: &mut Problems<'_>, t: &Table<'_>, enabled: bool) -> PostgresBackupConfig {
    let d = PostgresBackupConfig::with_enabled(enabled);
    let pg_dump = t
        .has("pg_dump")
        .then(|| path(problems, t, "pg_dump", PathBuf::new()))
        .filter(|p| p.is_absolute());
    if let Some(p) = &pg_dump
        && !p.is_file()
    {
        problems.push(
            &join(t.path, "pg_dump"),
            t.raw("pg_dump"),
            format!(
                "{} does not exist: install postgresql-client (or the client of the \
                 server's major version) and name its pg_dump here",
                p.display()
            ),
        );
    }
    let port = match t.get::<u16>(problems, "postgres_port") {
        Some(0) => {
            problems.push(
                &join(t.path, "postgres_port"),
                t.raw("postgres_port"),
                "must be between 1 and 65535, got 0",
            );
            None
        }
        p => p,
    };
    let user = t.get::<String>(problems, "postgres_user");
    let explicit = t
        .get::<String>(problems, "postgres_password_file")
        .map(PathBuf::from);
    // Without postgres_user the dump logs in as the daemon, with the
    // daemon's password: a second password would have no role to go to.
    let password = if user.is_some() {
        match credential(PASSWORD_CREDENTIAL, explicit.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                problems.push(
                    &join(t.path, "postgres_password_file"),
                    t.raw("postgres_password_file"),
                    e.to_string(),
                );
                None
            }
        }
    } else {
        if explicit.is_some() {
            problems.push(
                &join(t.path, "postgres_password_file"),
                t.raw("postgres_password_file"),
                "only with postgres_user: without it the dump logs in as [postgres] user \
                 with the daemon's password",
            );
        }
        None
    };
    PostgresBackupConfig {
        enabled: t.get(problems, "postgres_enabled").unwrap_or(d.enabled),
        schedule: cron(problems, t, "postgres_schedule", &d.schedule),
        keep: t
            .int_in(problems, "postgres_keep", 1..=1000)
            .map_or(d.keep, |n| n as usize),
        pg_dump,
        port,
        user,
        password,
    }
}
