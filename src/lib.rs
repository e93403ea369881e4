//! buhbot: makes sure every client request in an accounting firm's Telegram
//! group chats gets an answer within the agreed working time.
//!
//! Module map:
//! - [`domain`]: the pure core. No I/O, no clock reads, no async.
//!   - [`domain::calendar`]: working-time arithmetic (weekly hours, holidays,
//!     transferred days, the Russian production calendar, DST).
//!   - [`domain::classify`]: rule-based classification of client messages.
//!   - [`domain::sla`]: request tracking and alert planning for one chat.
//!   - [`domain::render`]: the Russian texts of alerts.
//! - [`config`]: figment layering (defaults → TOML → `BUHBOT_*` env), raw
//!   values validated into typed settings with every problem reported.
//! - [`export`]: streaming reader of Telegram Desktop chat exports.
//! - [`replay`]: runs the engine over an export and renders the SLA report.
//! - [`store`]: the SQLite store (pool, migrations, one module per table).
//! - [`daemon`]: the long-running service: sources, ingest, timers,
//!   deliveries, scheduled jobs, and its systemd plumbing.
//!   - [`daemon::notify`]: sd_notify (READY/STATUS/STOPPING) and the
//!     progress-gated systemd watchdog.
//! - [`metrics`]: the metric catalogue and the node_exporter textfile writer.
//! - [`logging`]: the tracing subscriber (journald priorities under
//!   systemd, colours on a terminal).
//! - [`sinks`]: alert channels (log, e-mail over SMTP) behind one object-safe
//!   trait, with transient/permanent failures told apart; secrets handling.
//! - [`backup`]: online SQLite snapshots into tar.gz archives, verify,
//!   retention, restore, and the daemon's database lock.
//! - [`telegram`]: grammers (MTProto): the session stored in SQLite,
//!   inbound updates mapped to pipeline events, the reconnecting connection
//!   loop and its shared state ([`telegram::link`]), the transport
//!   ([`telegram::api`]) and [`telegram::outbound`], the persistent, paced,
//!   idempotent queue every outgoing message goes through.
//! - [`bot`]: the bot's commands and buttons (parse, authorise against the
//!   store, execute, rate-limit), independent of the Telegram transport;
//!   [`daemon::telegram`] bridges them to the live connection.
//! - [`cli`]: the `buhbot` command line (thin; maps errors to exit codes).

pub mod backup;
pub mod bot;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod domain;
pub mod export;
pub mod logging;
pub mod metrics;
pub mod replay;
pub mod sinks;
pub mod store;
pub mod telegram;
