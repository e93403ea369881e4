//! `buhbot backup create-postgres` and `buhbot backup restore-postgres`:
//! the daemon's Postgres dump on demand, and its restore into an empty
//! database.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::Args;

use crate::backup::postgres::{self, DumpSettings, RestoreTarget};
use crate::config::{Config, ConfigError, Problem, read_secret_file};
use crate::sync::pg::Login;

#[derive(Debug, Args)]
pub struct CreatePostgresArgs {
    /// Directory for the dump [default: [backup] dir]
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestorePostgresArgs {
    /// The dump to restore (buhbot-pg-YYYYMMDDTHHMMSSZ.dump)
    pub file: PathBuf,
    /// The empty database to restore into, on the [postgres] server
    /// [default: [postgres] dbname]
    #[arg(long, value_name = "NAME")]
    pub dbname: Option<String>,
    /// The role that restores and then owns the restored objects (the
    /// schema's owner, as for migrate --postgres)
    #[arg(long, value_name = "NAME", default_value = "postgres")]
    pub admin_user: String,
    /// A file holding --admin-user's password [default: none, for trust or
    /// peer authentication]
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: Option<PathBuf>,
    /// First create Supabase's roles (anon, authenticated, service_role) and
    /// an auth schema; only for a server that is not Supabase
    #[arg(long)]
    pub supabase_stub: bool,
}

/// The configuration error of a command that needs `[postgres]`.
fn missing(config: &Config, command: &str) -> ConfigError {
    ConfigError::Invalid(vec![Problem {
        key: "postgres".into(),
        origin: config.file.as_ref().map(|f| f.display().to_string()),
        message: format!("missing: {command} needs a [postgres] section"),
    }])
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn create(config: &Config, args: &CreatePostgresArgs) -> anyhow::Result<()> {
    let mut settings = DumpSettings::from_config(config)
        .ok_or_else(|| missing(config, "backup create-postgres"))?;
    if let Some(dir) = &args.to {
        settings.dir = dir.clone();
    }
    let info = runtime()?.block_on(postgres::dump(&settings, Utc::now()))?;
    println!("{} ({} bytes)", info.path.display(), info.size_bytes);
    for p in &info.pruned {
        println!("  deleted old dump {}", p.display());
    }
    Ok(())
}

pub fn restore(config: &Config, args: &RestorePostgresArgs) -> anyhow::Result<()> {
    let mut connection = config
        .postgres
        .clone()
        .ok_or_else(|| missing(config, "backup restore-postgres"))?;
    if let Some(db) = &args.dbname {
        connection.dbname = db.clone();
    }
    let password = args
        .admin_password_file
        .as_deref()
        .map(read_secret_file)
        .transpose()?;
    let target = RestoreTarget {
        connection,
        login: Login {
            user: args.admin_user.clone(),
            password,
        },
        supabase_stub: args.supabase_stub,
        pg_restore: postgres::find_pg_restore(config.backup.postgres.pg_dump.as_deref())?,
    };
    let report = runtime()?.block_on(postgres::restore(&args.file, &target))?;
    let rows: u64 = report.row_counts.values().sum();
    println!(
        "restored {} into {} ({} table(s), {rows} row(s){})",
        args.file.display(),
        target.target(),
        report.row_counts.len(),
        report
            .schema_version
            .map_or_else(String::new, |v| format!(", schema version {v}"))
    );
    for (table, n) in &report.row_counts {
        println!("  {table}: {n}");
    }
    if report.stub_applied {
        println!("applied supabase-stub.sql first");
    }
    if report.created_daemon_role {
        println!(
            "created role buhbot_daemon without a password: set it with \
             `buhbot migrate --postgres --set-daemon-password`"
        );
    }
    Ok(())
}
