//! One integration-test binary (one link step) with a module per concept.

mod backup;
mod calendar;
mod classify;
mod cli;
mod config;
mod daemon;
mod email;
mod export;
mod jobs;
mod metrics;
mod replay;
mod sla;
