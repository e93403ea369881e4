//! The application core: what every adapter (the Telegram bridge, the bot,
//! the delivery and sync workers) builds on, and nothing that talks to the
//! outside world itself.
//!
//! - [`engine`]: the SLA engine over the store (ingest, close, fire timers,
//!   re-time), with [`chat_events`] (the bot added or removed, titles,
//!   supergroup upgrades).
//! - [`effective`]: the configuration overlaid by the chat settings stored
//!   from the shell.
//! - [`event`]: what sources feed the pipeline.
//! - [`clock`]: the system or a virtual clock.
//! - [`shared`]: the state the daemon's loops share; [`live_settings`]:
//!   settings changes taking effect in the running daemon.
//! - [`delivery`]: the alert sink port, the transient/permanent verdict and
//!   the one retry policy of every outgoing message.
//! - [`engine_owner`]: the one owner of the running engine (every rebuild
//!   goes through it, serialised).
//! - [`health`]: heartbeats that the progress-gated watchdog reads;
//!   [`worker`]: the trait of every background task, run by the daemon's
//!   supervisor; [`health_check`]: what the external heartbeat reports
//!   (stalled loops, Telegram, failing workers, the store).
//! - [`sla_report`]: SLA figures per chat and accountant over the store
//!   (`buhbot report sla`), and the weekly [`digest`] built on them.

pub mod chat_events;
pub mod clock;
pub mod delivery;
pub mod digest;
pub mod effective;
pub mod engine;
pub mod engine_owner;
pub mod event;
pub mod health;
pub mod health_check;
pub mod live_settings;
pub mod shared;
pub mod sla_report;
pub mod worker;
