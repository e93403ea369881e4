//! One integration-test binary (one link step) with a module per concept.

mod backup;
mod calendar;
mod cli;
mod config;
mod export;
mod replay;
mod sla;
