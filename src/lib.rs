//! buhbot: makes sure every client request in an accounting firm's Telegram
//! group chats gets an answer within the agreed working time.
//!
//! Module map:
//! - [`domain`]: the pure core. No I/O, no clock reads, no async.
//!   - [`domain::calendar`]: working-time arithmetic (weekly hours, holidays,
//!     transferred days, the Russian production calendar, DST).
//!   - [`domain::classify`]: rule-based classification of client messages.
//!   - [`domain::sla`]: request tracking and alert planning for one chat.
//! - [`config`]: figment layering (defaults → TOML → `BUHBOT_*` env), raw
//!   values validated into typed settings with every problem reported.
//! - [`export`]: streaming reader of Telegram Desktop chat exports.
//! - [`replay`]: runs the engine over an export and renders the SLA report.
//! - [`backup`]: online SQLite snapshots into tar.gz archives, verify,
//!   retention, restore, and the daemon's database lock.
//! - [`cli`]: the `buhbot` command line (thin; maps errors to exit codes).

pub mod backup;
pub mod cli;
pub mod config;
pub mod domain;
pub mod export;
pub mod replay;
