//! buhbot: makes sure every client request in an accounting firm's Telegram
//! group chats gets an answer within the agreed working time.
//!
//! Module map, top to bottom; a module imports only from the layers below
//! it (`tests/it/layers.rs` checks it, README "Architecture" draws it):
//! - [`cli`]: the `buhbot` command line (thin; maps errors to exit codes).
//! - [`daemon`]: `buhbot run`: the supervisor and its workers (ingest,
//!   timers, deliveries, cron jobs, live settings, status, the Telegram
//!   bridge), signals, reload, and its systemd plumbing ([`daemon::notify`]).
//! - Adapters, side by side:
//!   - [`bot`]: commands and buttons (parse, authorise against the store,
//!     execute, rate-limit) and the Telegram alert channel;
//!   - [`telegram`]: grammers (MTProto): the session on our store, inbound
//!     updates mapped to events, the reconnecting connection loop
//!     ([`telegram::link`]), the transport ([`telegram::api`]) and the paced
//!     outbound sender ([`telegram::outbound`]);
//!   - [`sinks`]: the log and e-mail (SMTP) alert channels;
//!   - [`backup`]: online snapshots, verify, retention, restore, the lock;
//!   - [`replay`]: runs the SLA tracker over an export and renders reports;
//!   - [`sync`]: the firm's Postgres: rustls connections and their pool
//!     ([`sync::pg`]), the Postgres schema migrations ([`sync::migrate`]),
//!     the push of the outbox ([`sync::push`]) and its worker.
//! - [`core`]: the application core: the engine over the store, the
//!   effective settings, events, clock, shared state, heartbeats, workers,
//!   and the delivery port with its one retry policy ([`core::delivery`]).
//! - [`store`]: the SQLite store: all SQL, one module per table (plus the
//!   read-only rows the push needs, [`store::sync_rows`]), stored
//!   enums ([`store::codec`]), migrations.
//! - [`config`]: figment layering (defaults → TOML → `BUHBOT_*` env →
//!   credentials), raw values validated into typed settings with every
//!   problem reported; [`export`]: streaming reader of Telegram Desktop
//!   exports.
//! - [`domain`]: pure: calendar, classifier, SLA planning and outcome,
//!   alert texts, cron schedules, start-history decisions. No I/O, no
//!   clock reads, no async.
//! - Utilities for every layer: [`metrics`] (catalogue, textfile writer)
//!   and [`logging`] (journald priorities under systemd).

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
pub mod sync;
pub mod telegram;
