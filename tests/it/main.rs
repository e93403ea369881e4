//! One integration-test binary (one link step) with a module per concept.

mod calendar;
mod cli;
mod config;
mod email;
mod export;
mod replay;
mod sla;
