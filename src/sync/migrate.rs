//! Postgres schema migrations (`sql/postgres/NNNN_name.sql`), compiled in
//! like the SQLite ones (`store::migrate`), applied in order by the schema
//! owner, each in one transaction together with its row in
//! `buhbot.schema_migrations`. A rerun applies nothing; an applied file
//! whose text changed since is refused (the database no longer matches
//! what the binary believes it holds). Runners on several machines are
//! serialised by a transaction-scoped advisory lock, which also works
//! through a transaction-mode pooler (a session lock would not).
//!
//! All statements are simple-protocol or `query_typed` (unnamed), so
//! migrations can run through a pooler too.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::pg::{Connector, PgError, describe};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    /// `0001_schema.sql`.
    pub file: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// `schema` of `0001_schema.sql`.
    pub fn name(&self) -> &'static str {
        let stem = self.file.strip_suffix(".sql").unwrap_or(self.file);
        stem.split_once('_').map_or(stem, |(_, n)| n)
    }

    /// Hex SHA-256 of the file's text.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

macro_rules! migration {
    ($version:expr, $file:literal) => {
        Migration {
            version: $version,
            file: $file,
            sql: include_str!(concat!("../../sql/postgres/", $file)),
        }
    };
}

/// In order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_schema.sql"),
    migration!(2, "0002_functions.sql"),
    migration!(3, "0003_rls.sql"),
    migration!(4, "0004_daemon_role.sql"),
    migration!(5, "0005_backup_read.sql"),
    migration!(6, "0006_replica.sql"),
];

/// Supabase's roles (anon, authenticated, service_role) and an `auth`
/// schema, for a server that is not Supabase. Idempotent; not recorded.
pub const SUPABASE_STUB: &str = include_str!("../../sql/postgres/supabase-stub.sql");

/// Arbitrary but fixed: every buhbot runner takes this advisory lock.
const LOCK_KEY: i64 = 0x6275_6862_6f74_0001; // "buhbot" + 1

// The IF NOT EXISTS notices would be logged on every run.
const BOOKKEEPING: &str = "
    SET LOCAL client_min_messages = warning;
    CREATE SCHEMA IF NOT EXISTS buhbot;
    CREATE TABLE IF NOT EXISTS buhbot.schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        checksum   text NOT NULL
    );
    SET LOCAL client_min_messages = notice;";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error("migration sql/postgres/{file} failed and was rolled back: {reason}")]
    Failed {
        file: &'static str,
        reason: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "migration sql/postgres/{file} was applied with checksum {recorded}, but this binary's \
         file has {expected}: an applied migration must never change (add a new one instead)"
    )]
    ChecksumMismatch {
        file: &'static str,
        recorded: String,
        expected: String,
    },
    #[error(
        "the database has migration {version} which this binary does not know (it knows up to \
         {known}): a newer buhbot migrated it"
    )]
    TooNew { version: i32, known: i32 },
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub stub_applied: bool,
    /// Versions applied now, in order.
    pub applied: Vec<(i32, &'static str)>,
    /// The highest version recorded afterwards.
    pub version: i32,
}

/// Applies the Supabase stub (if asked) and then every pending migration
/// of `migrations`, on `client` (connected as the schema owner).
pub async fn migrate(
    client: &mut Client,
    connector: &Connector,
    migrations: &[Migration],
    supabase_stub: bool,
) -> Result<Report, MigrateError> {
    let mut report = Report::default();
    let known = migrations.last().map_or(0, |m| m.version);
    if supabase_stub {
        let tx = begin_locked(client, connector).await?;
        tx.batch_execute(SUPABASE_STUB)
            .await
            .map_err(|source| MigrateError::Failed {
                file: "supabase-stub.sql",
                reason: describe(&source),
                source,
            })?;
        tx.commit()
            .await
            .map_err(|e| connector.query_error("committing supabase-stub.sql", e))?;
        report.stub_applied = true;
    }
    for m in migrations {
        let tx = begin_locked(client, connector).await?;
        // Read under the lock: another runner may just have applied it.
        let rows = tx
            .query_typed(
                "SELECT version, checksum FROM buhbot.schema_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(|e| connector.query_error("reading buhbot.schema_migrations", e))?;
        let applied: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        if let Some(&(version, _)) = applied.iter().find(|(v, _)| *v > known) {
            return Err(MigrateError::TooNew { version, known });
        }
        for (version, recorded) in &applied {
            if let Some(known) = migrations.iter().find(|k| k.version == *version)
                && *recorded != known.checksum()
            {
                return Err(MigrateError::ChecksumMismatch {
                    file: known.file,
                    recorded: recorded.clone(),
                    expected: known.checksum(),
                });
            }
        }
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue; // dropping tx rolls back (nothing was written)
        }
        tx.batch_execute(m.sql)
            .await
            .map_err(|source| MigrateError::Failed {
                file: m.file,
                reason: describe(&source),
                source,
            })?;
        tx.query_typed(
            "INSERT INTO buhbot.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[
                (&m.version, tokio_postgres::types::Type::INT4),
                (&m.name(), tokio_postgres::types::Type::TEXT),
                (&m.checksum(), tokio_postgres::types::Type::TEXT),
            ],
        )
        .await
        .map_err(|e| connector.query_error(format!("recording {}", m.file), e))?;
        tx.commit().await.map_err(|source| MigrateError::Failed {
            file: m.file,
            reason: describe(&source),
            source,
        })?;
        tracing::info!(
            version = m.version,
            file = m.file,
            "applied PostgreSQL migration"
        );
        report.applied.push((m.version, m.file));
    }
    let row = client
        .query_typed(
            "SELECT coalesce(max(version), 0) FROM buhbot.schema_migrations",
            &[],
        )
        .await
        .map_err(|e| connector.query_error("reading buhbot.schema_migrations", e))?;
    report.version = row.first().map_or(0, |r| r.get(0));
    Ok(report)
}

/// A transaction holding the migration lock, with the bookkeeping table
/// in place.
async fn begin_locked<'c>(
    client: &'c mut Client,
    connector: &Connector,
) -> Result<tokio_postgres::Transaction<'c>, MigrateError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| connector.query_error("starting a transaction", e))?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1)",
        &[(&LOCK_KEY, tokio_postgres::types::Type::INT8)],
    )
    .await
    .map_err(|e| connector.query_error("taking the migration lock", e))?;
    tx.batch_execute(BOOKKEEPING)
        .await
        .map_err(|e| connector.query_error("creating buhbot.schema_migrations", e))?;
    Ok(tx)
}

/// Sets the password of `role` (the daemon's login role) without sending
/// it in clear: the SCRAM verifier is computed here, so it reaches neither
/// the server's statement log nor `pg_stat_activity`.
pub async fn set_role_password(
    client: &Client,
    connector: &Connector,
    role: &str,
    password: &crate::config::Secret,
) -> Result<(), PgError> {
    let verifier = postgres_protocol::password::scram_sha_256(password.expose().as_bytes());
    // A utility statement takes no parameters. The verifier is base64 and
    // `$:` only; the role name is quoted as an identifier.
    let sql = format!(
        "ALTER ROLE {} PASSWORD '{}'",
        quote_ident(role),
        verifier.replace('\'', "''")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| connector.query_error(format!("setting the password of role {role}"), e))
}

/// Makes `email` an admin of the admin panel (`buhbot.seed_admin`: an
/// existing Supabase auth user with that e-mail keeps its id). Returns the
/// user's id.
pub async fn seed_admin(
    client: &Client,
    connector: &Connector,
    email: &str,
) -> Result<String, PgError> {
    let row = client
        .query_typed(
            "SELECT buhbot.seed_admin($1)::text",
            &[(&email, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .map_err(|e| connector.query_error(format!("seeding the admin {email}"), e))?;
    Ok(row.first().map(|r| r.get(0)).unwrap_or_default())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_checksums() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{} out of order", m.file);
            assert!(m.file.starts_with(&format!("{:04}_", m.version)));
            assert_eq!(m.checksum().len(), 64);
        }
        assert_eq!(MIGRATIONS[0].name(), "schema");
        assert_eq!(MIGRATIONS[3].name(), "daemon_role");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
