//! Finding and running the PostgreSQL client programs (postgresql-client:
//! `pg_dump`, `pg_restore`) with the connection in libpq's environment.
//!
//! Nothing secret ever goes on a command line (other users see those in
//! `ps`): the password is `PGPASSWORD` in the child's environment, which
//! only its own user and root can read. The environment is otherwise
//! cleared, so a `PGSERVICE`, `PGOPTIONS` or locale of the caller cannot
//! redirect or change the dump, and libpq's messages stay in English.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use super::PgBackupError;
use crate::config::{PostgresSettings, SslMode};
use crate::sync::pg::Login;

/// Where Debian's postgresql-client-common puts its wrappers, when `PATH`
/// does not list it (a test harness's bare environment).
const FALLBACK_DIR: &str = "/usr/bin";

/// `configured` if given (the config checked that it exists), else
/// `pg_dump` on `PATH` or in /usr/bin.
pub fn find_pg_dump(configured: Option<&Path>) -> Result<PathBuf, PgBackupError> {
    match configured {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(PgBackupError::ToolMissing {
            tool: "pg_dump",
            looked: format!("[backup] pg_dump = {}", p.display()),
        }),
        None => on_path("pg_dump"),
    }
}

/// `pg_restore` next to the configured `pg_dump` (the same client
/// version), else on `PATH` or in /usr/bin.
pub fn find_pg_restore(pg_dump: Option<&Path>) -> Result<PathBuf, PgBackupError> {
    if let Some(sibling) = pg_dump.and_then(Path::parent).map(|d| d.join("pg_restore"))
        && sibling.is_file()
    {
        return Ok(sibling);
    }
    on_path("pg_restore")
}

fn on_path(tool: &'static str) -> Result<PathBuf, PgBackupError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(std::iter::once(PathBuf::from(FALLBACK_DIR)))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .ok_or(PgBackupError::ToolMissing {
            tool,
            looked: format!("PATH and {FALLBACK_DIR}"),
        })
}

/// libpq's environment for `connection` as `login`.
pub(super) fn libpq_env(
    connection: &PostgresSettings,
    login: &Login,
) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&'static str, OsString)> = vec![
        ("PGHOST", connection.host.clone().into()),
        ("PGPORT", connection.port.to_string().into()),
        ("PGDATABASE", connection.dbname.clone().into()),
        ("PGUSER", login.user.clone().into()),
        ("PGAPPNAME", "buhbot-backup".into()),
        (
            "PGCONNECT_TIMEOUT",
            connection
                .connect_timeout
                .as_secs()
                .max(1)
                .to_string()
                .into(),
        ),
    ];
    match (connection.sslmode, &connection.ca_file) {
        (SslMode::Disable, _) => env.push(("PGSSLMODE", "disable".into())),
        // The daemon's rustls always checks the chain and the host name, so
        // "require" means verify-full for pg_dump too.
        (SslMode::Require | SslMode::VerifyFull, ca) => {
            env.push(("PGSSLMODE", "verify-full".into()));
            if let Some(ca) = ca {
                env.push(("PGSSLROOTCERT", ca.clone().into_os_string()));
            }
        }
    }
    if let Some(p) = &login.password {
        env.push(("PGPASSWORD", p.expose().into()));
    }
    env
}

/// `program` with libpq's environment and nothing else inherited but
/// `PATH` (Debian's /usr/bin/pg_dump is a wrapper that picks the client
/// version). Killed if the waiting future is dropped.
pub(super) fn command(
    program: &Path,
    connection: &PostgresSettings,
    login: &Login,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(libpq_env(connection, login))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` to its end and collects its output.
pub(super) async fn output(
    mut cmd: tokio::process::Command,
    program: &Path,
) -> Result<Output, PgBackupError> {
    cmd.output().await.map_err(|source| PgBackupError::Spawn {
        program: program.to_path_buf(),
        source,
    })
}

/// A child's stderr for an error message: its lines joined, at most a few
/// hundred characters from the end (where pg_dump says what failed).
pub(super) fn stderr_text(stderr: &[u8]) -> String {
    const MAX: usize = 800;
    let text = String::from_utf8_lossy(stderr);
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if joined.len() <= MAX {
        return joined;
    }
    let mut start = joined.len() - MAX;
    while !joined.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &joined[start..])
}

/// How a child ended, for messages.
pub(super) fn status_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::time::Duration;

    fn settings(sslmode: SslMode, ca_file: Option<PathBuf>) -> PostgresSettings {
        PostgresSettings {
            host: "db.example.ru".into(),
            port: 6543,
            dbname: "firm".into(),
            user: "buhbot_daemon".into(),
            password: Some(Secret::new("s3cret")),
            sslmode,
            ca_file,
            pool_size: 1,
            push_interval: Duration::from_secs(1),
            pull_interval: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(7),
            standby_lock: None,
        }
    }

    #[test]
    fn the_connection_goes_through_libpq_variables() {
        let s = settings(SslMode::Require, Some(PathBuf::from("/etc/buhbot/ca.pem")));
        let env: std::collections::BTreeMap<_, _> = libpq_env(&s, &Login::daemon(&s))
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect();
        assert_eq!(env["PGHOST"], "db.example.ru");
        assert_eq!(env["PGPORT"], "6543");
        assert_eq!(env["PGDATABASE"], "firm");
        assert_eq!(env["PGUSER"], "buhbot_daemon");
        assert_eq!(env["PGPASSWORD"], "s3cret");
        assert_eq!(env["PGSSLMODE"], "verify-full");
        assert_eq!(env["PGSSLROOTCERT"], "/etc/buhbot/ca.pem");
        assert_eq!(env["PGCONNECT_TIMEOUT"], "7");

        let plain = settings(SslMode::Disable, None);
        let login = Login {
            user: "postgres".into(),
            password: None,
        };
        let env = libpq_env(&plain, &login);
        assert!(env.iter().any(|(k, v)| *k == "PGSSLMODE" && v == "disable"));
        assert!(
            !env.iter()
                .any(|(k, _)| *k == "PGPASSWORD" || *k == "PGSSLROOTCERT")
        );
    }

    #[test]
    fn long_stderr_keeps_its_end() {
        let long = format!("{}\npg_dump: error: the end\n", "x".repeat(2000));
        let text = stderr_text(long.as_bytes());
        assert!(
            text.len() < 900 && text.ends_with("pg_dump: error: the end"),
            "{text}"
        );
        assert_eq!(stderr_text(b"a\n\n  b \n"), "a; b");
    }
}
