//! Plumbing of the long-running `buhbot` service: what it tells systemd.
//! The loops themselves (ingest, scheduler, mailer) live elsewhere and only
//! hold [`notify::Heartbeat`] handles.

pub mod clock;
pub mod delivery;
pub mod engine;
pub mod event;
pub mod ingest;
pub mod notify;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod shared;
pub mod source;
