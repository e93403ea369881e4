//! The `buhbot` command line: argument parsing, dispatch, exit codes.
//! Each command lives in its own file and stays thin over the library.

mod admin;
mod admin_chats;
mod backup;
mod backup_pg;
mod calendar;
mod library;
pub mod man;
mod migrate;
mod replay;
mod report;
mod shell;
mod surveys;
mod sync;
mod telegram;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// Exit code for configuration errors (sysexits' EX_CONFIG); systemd is told
/// not to restart on it.
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "buhbot",
    version,
    about = "SLA watchdog for an accounting firm's Telegram client chats",
    long_about = "buhbot watches the Telegram group chats in which an accounting firm talks to its \
                  clients and makes sure every client request gets an answer within the agreed \
                  working time."
)]
pub struct Cli {
    /// Configuration file [default: /etc/buhbot/buhbot.toml, if it exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and report every problem
    CheckConfig,
    /// Working-time arithmetic with the configured calendars
    #[command(subcommand)]
    Calendar(calendar::CalendarCmd),
    /// Classify a message as REQUEST, CLARIFICATION, GRATITUDE or SPAM
    Classify {
        /// The message text
        text: String,
    },
    /// Run the SLA engine over a Telegram Desktop chat export and report
    Replay(replay::ReplayArgs),
    /// Reports over the daemon's store (report sla)
    Report(report::ReportArgs),
    /// Back up the database (online), or list / verify backups
    Backup(backup::BackupArgs),
    /// Replace the database with a verified backup (stop the daemon first)
    Restore(backup::RestoreArgs),
    /// Run the daemon (under systemd: Type=notify)
    Run(RunArgs),
    /// Apply pending database migrations (SQLite, or Postgres with --postgres) and exit
    Migrate(migrate::MigrateArgs),
    /// Manage the firm's staff (Telegram users and their roles)
    Users(admin::UsersArgs),
    /// Show and change chat settings (applied by a running daemon at once)
    Chats(admin_chats::ChatsArgs),
    /// FAQ entries the bot answers clients' questions from
    Faq(library::FaqArgs),
    /// Reply templates staff post in a chat with /template NAME (/t NAME)
    Templates(library::TemplatesArgs),
    /// Client satisfaction surveys: start, list, show results, close
    Surveys(surveys::SurveysArgs),
    /// Inspect client requests
    #[command(subcommand)]
    Requests(admin::RequestsCmd),
    /// Telegram: check the connection and the bot's credentials
    Telegram(telegram::TelegramArgs),
    /// The sync with the firm's Postgres: status, push now, dead letters
    Sync(sync::SyncArgs),
    /// Print or write the manual pages buhbot(8) and buhbot.toml(5)
    #[command(hide = true)]
    Man(man::ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Event source: telegram (the bot's live connection; needs
    /// [telegram] api_id and the credentials) or replay:FILE[?speed=N] (a
    /// Telegram Desktop export or a .jsonl event file, on a virtual clock N
    /// times faster than real time)
    #[arg(long, value_name = "SOURCE", default_value = "telegram")]
    pub source: crate::daemon::source::SourceSpec,
    /// Test-only: SIGUSR1 wedges the ingest loop (to exercise the watchdog;
    /// only in builds with the `test-support` feature)
    #[cfg(feature = "test-support")]
    #[arg(long, hide = true)]
    pub wedge_on_usr1: bool,
}

/// Parses the arguments, runs the command and maps its outcome to an exit
/// code: 0 success, 78 configuration error, 2 a usage error (clap's, and
/// `report sla`'s --from after --to), 69/77 for `telegram check`
/// (Telegram unreachable / credentials refused), sysexits for the Postgres
/// backup commands (65 not a dump, 66 no such file, 69 pg_dump missing or
/// the server unreachable, 73 the target database not empty) and `replay`
/// (65 not an export or no such chat in it, 66 cannot open it, 74 read
/// error), 1 anything else.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(None);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("buhbot: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else if let Some(c) = e.downcast_ref::<telegram::CheckError>() {
                ExitCode::from(c.exit_code())
            } else if let Some(b) = e.downcast_ref::<crate::backup::postgres::PgBackupError>() {
                ExitCode::from(b.exit_code())
            } else if let Some(r) = e.downcast_ref::<crate::replay::ReplayError>() {
                ExitCode::from(r.exit_code())
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    Config::load(cli.config.as_deref())
}

/// Loads `[postgres] ca_file` as the connection will (config only checks
/// that it exists), so that a file that is not PEM is a configuration
/// error now rather than a failed connection later.
fn check_ca_file(config: &Config, pg: &crate::config::PostgresSettings) -> Result<(), ConfigError> {
    crate::sync::pg::Connector::new(pg).map(drop).map_err(|e| {
        ConfigError::Invalid(vec![crate::config::Problem {
            key: "postgres.ca_file".into(),
            origin: config.file.as_ref().map(|f| f.display().to_string()),
            message: e.to_string(),
        }])
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::CheckConfig => {
            let config = load_config(&cli)?;
            let file = config.file.as_ref().map_or_else(
                || "built-in defaults".to_string(),
                |p| p.display().to_string(),
            );
            println!(
                "configuration OK ({file}): {} chat(s) configured, calendar {}",
                config.chats.len(),
                config.calendar.timezone
            );
            if let Some(pg) = &config.postgres {
                check_ca_file(&config, pg)?;
            }
            match &config.postgres {
                None => println!("postgres: not configured (SQLite only)"),
                Some(pg) => println!(
                    "postgres: {} (sslmode {}{}), pool {}, push every {}s, pull every {}s, \
                     password {}{}",
                    pg.target(),
                    pg.sslmode.as_str(),
                    pg.ca_file
                        .as_ref()
                        .map_or_else(String::new, |f| format!(", CA {}", f.display())),
                    pg.pool_size,
                    pg.push_interval.as_secs(),
                    pg.pull_interval.as_secs(),
                    if pg.password.is_some() {
                        "set"
                    } else {
                        "not set"
                    },
                    pg.standby_lock
                        .as_ref()
                        .map_or_else(String::new, |l| format!(
                            ", hot standby (lock {l:?}: active only while holding it)"
                        )),
                ),
            }
            match &config.heartbeat {
                None => println!("heartbeat: not configured"),
                Some(hb) => println!("heartbeat: {}", hb.describe()),
            }
            if let Some(dump) = crate::backup::postgres::DumpSettings::from_config(&config) {
                let b = &config.backup.postgres;
                let program = crate::backup::postgres::find_pg_dump(b.pg_dump.as_deref())
                    .map_or_else(|e| e.to_string(), |p| p.display().to_string());
                if b.enabled {
                    println!(
                        "postgres backups: schedule \"{}\", keep {}, as {}, {program}",
                        b.schedule,
                        b.keep,
                        dump.target()
                    );
                } else {
                    println!("postgres backups: off ([backup] postgres_enabled = false)");
                }
            }
            Ok(())
        }
        Command::Calendar(cmd) => calendar::run(&load_config(&cli)?, cmd),
        Command::Classify { text } => {
            let c = load_config(&cli)?.classifier.classify(text);
            println!("{} {:.2}", c.category, c.confidence);
            Ok(())
        }
        Command::Replay(args) => replay::run(&load_config(&cli)?, args),
        Command::Report(args) => report::run(&load_config(&cli)?, &args.cmd),
        Command::Backup(args) => backup::run(&cli, args),
        Command::Restore(args) => backup::restore(&cli, args),
        Command::Run(args) => {
            let opts = crate::daemon::run::RunOptions {
                config: cli.config.clone(),
                source: args.source.clone(),
                #[cfg(feature = "test-support")]
                wedge_on_usr1: args.wedge_on_usr1,
            };
            crate::daemon::run::run(opts).map_err(|e| match e {
                crate::daemon::run::RunError::Config(c) => anyhow::Error::new(c),
                other => anyhow::Error::new(other),
            })
        }
        Command::Migrate(args) => migrate::run(&load_config(&cli)?, args),
        Command::Users(args) => admin::users(&load_config(&cli)?, args),
        Command::Chats(args) => admin::chats(&load_config(&cli)?, args),
        Command::Requests(cmd) => admin::requests(&load_config(&cli)?, cmd),
        Command::Faq(args) => library::faq(&load_config(&cli)?, args),
        Command::Templates(args) => library::templates(&load_config(&cli)?, args),
        Command::Surveys(args) => surveys::run(&load_config(&cli)?, args),
        Command::Telegram(args) => telegram::run(&load_config(&cli)?, args),
        Command::Sync(args) => sync::run(&load_config(&cli)?, args),
        Command::Man(args) => man::run(args),
    }
}
