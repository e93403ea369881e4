//! Plumbing of the long-running `buhbot` service: what it tells systemd.
//! The loops themselves (ingest, scheduler, mailer) live elsewhere and only
//! hold [`notify::Heartbeat`] handles.

pub mod clock;
pub mod engine;
pub mod event;
pub mod jobs;
pub mod notify;
pub mod schedule;
pub mod shared;
pub mod source;
