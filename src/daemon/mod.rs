//! The long-running `buhbot run` service: the wiring of the workers.
//!
//! - [`run`]: start-up, the wiring of the workers, signals, reload (with
//!   `run_telegram`: the Telegram source's workers and READY=1 on
//!   connection); [`supervisor`]: starts, watches and stops every worker
//!   (see [`crate::core::worker`]); [`status`]: STATUS=.
//! - [`source`]: event sources (a replay of an export, or Telegram through
//!   [`telegram`]: updates → events, commands and button presses).
//! - [`ingest`]: events → the engine ([`crate::core::engine`]: messages and
//!   chat events — the bot added or removed, titles, supergroup upgrades) →
//!   one transaction with the position.
//! - [`scheduler`]: durable timers fired when due; [`delivery`]: alerts sent
//!   through their sinks under one retry policy
//!   ([`crate::core::delivery`]).
//! - [`jobs`]: cron jobs (reconciliation, retention, backups);
//!   [`surveys`]: the survey campaigns' scheduled steps.
//! - [`notify`]: sd_notify and the progress-gated watchdog; [`heartbeat`]:
//!   the external heartbeat URL, called while healthy; [`starts`]: the
//!   start history and the release and crash-loop notices. The clock and
//!   the state the workers share live in the core
//!   ([`crate::core::clock`], [`crate::core::shared`]).
//! - [`standby`]: `[postgres] standby = true`: the standby's wait for the
//!   Postgres lock and the active daemon's renewal of it.

pub mod delivery;
pub mod heartbeat;
pub mod ingest;
pub mod jobs;
pub mod notify;
pub mod run;
mod run_telegram;
pub mod scheduler;
pub mod source;
pub mod standby;
pub mod starts;
pub mod status;
pub mod supervisor;
pub mod surveys;
pub mod telegram;
mod workers;
