//! The long-running `buhbot run` service.
//!
//! - [`run`]: start-up, the wiring of the workers, signals, reload (with
//!   `run_telegram`: the Telegram source's workers and READY=1 on
//!   connection); [`supervisor`]: starts, watches and stops every worker
//!   (see [`crate::core::worker`]); [`status`]: STATUS=.
//! - [`source`]: event sources (a replay of an export, or Telegram through
//!   [`telegram`]: updates → events, commands and button presses).
//! - [`ingest`]: events → [`engine`] (messages) and [`chat_events`] (the bot
//!   added or removed, titles, supergroup upgrades) → one transaction with
//!   the position.
//! - [`scheduler`]: durable timers fired when due; [`delivery`]: alerts sent
//!   through their sinks with retries.
//! - [`jobs`]: cron jobs (reconciliation, retention, backups).
//! - [`notify`]: sd_notify and the progress-gated watchdog; [`clock`]: the
//!   system or virtual clock; [`shared`]: state the loops share.

pub mod delivery;
pub mod ingest;
pub mod jobs;
pub mod notify;
pub mod run;
mod run_telegram;
pub mod scheduler;
pub mod source;
pub mod status;
pub mod supervisor;
pub mod telegram;
mod workers;
