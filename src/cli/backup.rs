//! `buhbot backup [list|verify|create-postgres|restore-postgres]` and
//! `buhbot restore`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};

use crate::backup::{self, BackupSettings};

use super::Cli;

/// The database and backup settings of the configuration; a recovery
/// tool must work even when the configuration does not load, so it falls
/// back to the defaults then (with a warning).
fn configured(cli: &Cli) -> (PathBuf, crate::config::BackupConfig) {
    match super::load_config(cli) {
        Ok(c) => (c.store.path, c.backup),
        Err(e) => {
            eprintln!("buhbot: warning: using default paths, the configuration does not load: {e}");
            (
                PathBuf::from(crate::store::DEFAULT_PATH),
                crate::config::BackupConfig::default(),
            )
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCmd>,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// Without a subcommand: create a backup now (then prune old ones: older than
/// 28 days or beyond the newest 28, never the newest).
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Directory for the archive [default: [backup] dir]
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// The daemon's database [default: [store] path]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// List the archives and Postgres dumps, newest first
    List {
        /// Directory holding the archives [default: [backup] dir]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Check an archive: manifest, database integrity, row counts
    Verify {
        /// The archive (buhbot-YYYYMMDDTHHMMSSZ.tar.gz)
        file: PathBuf,
    },
    /// Dump the [postgres] database now (pg_dump -Fc), as the daemon's
    /// scheduled job does
    CreatePostgres(super::backup_pg::CreatePostgresArgs),
    /// Restore a Postgres dump into an empty database (pg_restore, in one
    /// transaction)
    RestorePostgres(super::backup_pg::RestorePostgresArgs),
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The archive to restore (verified first)
    pub file: PathBuf,
    /// The daemon's database to replace (kept as <PATH>.replaced-<time>) [default: [store] path]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Restore even though the database lock is held (the daemon may be running)
    #[arg(long)]
    pub force: bool,
}

pub fn run(cli: &Cli, args: &BackupArgs) -> anyhow::Result<()> {
    match &args.command {
        None => create(cli, &args.create),
        Some(BackupCmd::List { dir }) => {
            let dir = dir.clone().unwrap_or_else(|| configured(cli).1.dir);
            let dir = &dir;
            let mut entries = backup::list(dir)?;
            entries.extend(backup::postgres::list_dumps(dir)?);
            entries.sort_by_key(|e| std::cmp::Reverse(e.created_at));
            if entries.is_empty() {
                println!("no backups in {}", dir.display());
            }
            for e in entries {
                println!(
                    "{}  {:>12}  {}",
                    e.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    e.size_bytes,
                    e.path.display()
                );
            }
            Ok(())
        }
        Some(BackupCmd::CreatePostgres(a)) => {
            super::backup_pg::create(&super::load_config(cli)?, a)
        }
        Some(BackupCmd::RestorePostgres(a)) => {
            super::backup_pg::restore(&super::load_config(cli)?, a)
        }
        Some(BackupCmd::Verify { file }) => {
            let m = backup::verify(file)?;
            let rows: u64 = m.row_counts.values().sum();
            println!(
                "{}: OK (created {}, buhbot {}, schema {}, {} table(s), {rows} row(s){})",
                file.display(),
                m.created_at.to_rfc3339(),
                m.buhbot_version,
                m.schema_version,
                m.row_counts.len(),
                if m.config_included {
                    ", with configuration"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

fn create(cli: &Cli, args: &CreateArgs) -> anyhow::Result<()> {
    // Only the file's path is needed, but loading validates it, and a backup
    // of a configuration that does not load would be a poor backup.
    let config = super::load_config(cli)?;
    let settings = BackupSettings {
        dir: args.to.clone().unwrap_or_else(|| config.backup.dir.clone()),
        keep_days: config.backup.keep_days,
        keep_count: config.backup.keep_count,
    };
    let db = args.db.clone().unwrap_or_else(|| config.store.path.clone());
    let progress = backup::progress_for_terminal("backup");
    let info = backup::create(
        &db,
        config.file.as_deref(),
        &settings,
        Utc::now(),
        progress.as_ref(),
    )
    .context("backup failed")?;
    println!("{} ({} bytes)", info.path.display(), info.size_bytes);
    for (table, rows) in &info.row_counts {
        println!("  {table}: {rows}");
    }
    Ok(())
}

pub fn restore(cli: &Cli, args: &RestoreArgs) -> anyhow::Result<()> {
    let db = args.db.clone().unwrap_or_else(|| configured(cli).0);
    let info =
        backup::restore(&args.file, &db, args.force, Utc::now()).context("restore failed")?;
    let rows: u64 = info.manifest.row_counts.values().sum();
    println!(
        "restored {} from {} (created {}, {rows} row(s))",
        db.display(),
        args.file.display(),
        info.manifest.created_at.to_rfc3339()
    );
    match &info.replaced {
        Some(p) => println!("previous database kept as {}", p.display()),
        None => println!("there was no previous database"),
    }
    if info.forced {
        println!("warning: the database lock was held; restart the daemon now");
    }
    Ok(())
}
