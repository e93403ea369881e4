//! Restoring a dump into an empty database: check the file and the
//! target, provide the roles the dump's grants name, `pg_restore` in one
//! transaction, count what arrived.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{PgBackupError, tool};
use crate::backup::BackupError;
use crate::backup::fsutil::ScratchDir;
use crate::config::PostgresSettings;
use crate::sync::migrate::SUPABASE_STUB;
use crate::sync::pg::{Connector, Login};

/// The role the dump's grants and policies name (0004_daemon_role.sql).
/// Roles belong to the cluster, not the database, so a dump has none; on a
/// new server it is created here, as the migration creates it, without a
/// password (`buhbot migrate --postgres --set-daemon-password` sets it).
const DAEMON_ROLE: &str = "buhbot_daemon";
const CREATE_DAEMON_ROLE: &str = "CREATE ROLE buhbot_daemon LOGIN NOSUPERUSER NOCREATEDB \
    NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 20";

/// What is in the target already, by name: any relation of buhbot's
/// schemas not belonging to an extension, or the `buhbot` schema itself.
const EXISTING: &str = "
    SELECT n.nspname || '.' || c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'buhbot')
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'buhbot'
    ORDER BY 1";

/// Where to restore, as whom.
#[derive(Debug, Clone)]
pub struct RestoreTarget {
    /// Host, port, TLS and the (empty) database to restore into.
    pub connection: PostgresSettings,
    /// Becomes the owner of everything restored (`--no-owner`): the
    /// schema's owner, as for `buhbot migrate --postgres`.
    pub login: Login,
    /// First create Supabase's roles and `auth` schema (a server that is
    /// not Supabase; the policies call `auth.uid()`).
    pub supabase_stub: bool,
    pub pg_restore: PathBuf,
}

impl RestoreTarget {
    pub fn target(&self) -> String {
        let c = &self.connection;
        format!("{}@{}:{}/{}", self.login.user, c.host, c.port, c.dbname)
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// Rows per restored table (`schema.table`).
    pub row_counts: BTreeMap<String, u64>,
    /// `buhbot.schema_migrations`' newest version, if restored.
    pub schema_version: Option<i32>,
    pub stub_applied: bool,
    /// `buhbot_daemon` did not exist and was created (without a password).
    pub created_daemon_role: bool,
}

/// Restores `file` (a `buhbot-pg-….dump`) into the target database, which
/// must be empty: refused otherwise, before anything is written. The
/// restore runs in one transaction: it fails whole or succeeds whole.
pub async fn restore(file: &Path, target: &RestoreTarget) -> Result<RestoreReport, PgBackupError> {
    std::fs::File::open(file).map_err(|source| PgBackupError::NoInput {
        file: file.to_path_buf(),
        source,
    })?;
    let login = &target.login;
    let program = &target.pg_restore;
    let mut list = tool::command(program, &target.connection, login);
    list.arg("--list").arg(file);
    let out = tool::output(list, program).await?;
    if !out.status.success() {
        return Err(PgBackupError::NotADump {
            file: file.to_path_buf(),
            stderr: tool::stderr_text(&out.stderr),
        });
    }
    let toc = String::from_utf8_lossy(&out.stdout).into_owned();

    let connector = Connector::new(&target.connection)?;
    let client = connector.connect(login).await?;
    let query_err = |what: &str| {
        let what = what.to_string();
        let connector = &connector;
        move |e| PgBackupError::Pg(connector.query_error(what, e))
    };
    let existing: Vec<String> = client
        .query(EXISTING, &[])
        .await
        .map_err(query_err("look for existing tables"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !existing.is_empty() {
        let mut what = existing
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if existing.len() > 5 {
            what.push_str(&format!(" and {} more", existing.len() - 5));
        }
        return Err(PgBackupError::NotEmpty {
            target: target.target(),
            what,
        });
    }
    if target.supabase_stub {
        client
            .batch_execute(&format!("BEGIN;\n{SUPABASE_STUB}\nCOMMIT;"))
            .await
            .map_err(query_err("apply supabase-stub.sql"))?;
    }
    let has_role: bool = client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
            &[&DAEMON_ROLE],
        )
        .await
        .map_err(query_err("look for the daemon's role"))?
        .get(0);
    if !has_role {
        client
            .batch_execute(CREATE_DAEMON_ROLE)
            .await
            .map_err(query_err("create role buhbot_daemon"))?;
    }

    // The list file: the dump's entries minus `CREATE SCHEMA public`
    // (pg_dump -n public writes it, and every database already has it).
    let scratch = ScratchDir::new_in(&std::env::temp_dir())?;
    let list_path = scratch.path().join("toc.list");
    std::fs::write(&list_path, without_public_schema(&toc))
        .map_err(BackupError::io("write", &list_path))?;
    let mut cmd = tool::command(program, &target.connection, login);
    cmd.args([
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
    ])
    .arg("--use-list")
    .arg(&list_path)
    .arg("--dbname")
    .arg(conninfo_dbname(&target.connection.dbname))
    .arg(file);
    let out = tool::output(cmd, program).await?;
    drop(scratch);
    if !out.status.success() {
        return Err(PgBackupError::Restore {
            target: target.target(),
            status: tool::status_text(out.status),
            stderr: tool::stderr_text(&out.stderr),
        });
    }
    if !out.stderr.is_empty() {
        tracing::warn!("pg_restore: {}", tool::stderr_text(&out.stderr));
    }

    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname IN ('public', 'buhbot') ORDER BY 1",
            &[],
        )
        .await
        .map_err(query_err("list the restored tables"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut row_counts = BTreeMap::new();
    for table in tables {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(query_err(&format!("count the rows of {table}")))?
            .get(0);
        row_counts.insert(table, u64::try_from(n).unwrap_or(0));
    }
    let schema_version = match client
        .query_one("SELECT max(version) FROM buhbot.schema_migrations", &[])
        .await
    {
        Ok(row) => row.get(0),
        Err(_) => None,
    };
    Ok(RestoreReport {
        row_counts,
        schema_version,
        stub_applied: target.supabase_stub,
        created_daemon_role: !has_role,
    })
}

/// The TOC minus the `SCHEMA - public` entry and its stock comment
/// (lines like `7; 2615 2200 SCHEMA - public pg_database_owner`).
fn without_public_schema(toc: &str) -> String {
    let mut out = String::with_capacity(toc.len());
    for line in toc.lines() {
        let desc: Vec<&str> = line
            .split_once(';')
            .map(|(_, rest)| rest.split_whitespace().skip(2).collect())
            .unwrap_or_default();
        let public_schema = desc.starts_with(&["SCHEMA", "-", "public"])
            || desc.starts_with(&["COMMENT", "-", "SCHEMA", "public"]);
        if !public_schema {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `dbname='…'` for pg_restore's `--dbname`: a bare name with `=` in it
/// would be read as a connection string; host, port, user and password
/// come from the environment.
fn conninfo_dbname(dbname: &str) -> String {
    format!(
        "dbname='{}'",
        dbname.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_schema_entry_is_left_out_and_nothing_else() {
        let toc = "; Archive created at 2026-01-01\n\
                   8; 2615 16942 SCHEMA - buhbot postgres\n\
                   7; 2615 2200 SCHEMA - public pg_database_owner\n\
                   3797; 0 0 COMMENT - SCHEMA public pg_database_owner\n\
                   3798; 0 0 ACL - SCHEMA public pg_database_owner\n\
                   230; 1259 16960 TABLE public chats postgres\n";
        let kept = without_public_schema(toc);
        assert_eq!(
            kept,
            "; Archive created at 2026-01-01\n\
             8; 2615 16942 SCHEMA - buhbot postgres\n\
             3798; 0 0 ACL - SCHEMA public pg_database_owner\n\
             230; 1259 16960 TABLE public chats postgres\n"
        );
    }

    #[test]
    fn dbname_is_quoted_for_conninfo() {
        assert_eq!(conninfo_dbname("restored"), "dbname='restored'");
        assert_eq!(conninfo_dbname("a'b\\c=d"), "dbname='a\\'b\\\\c=d'");
    }
}
