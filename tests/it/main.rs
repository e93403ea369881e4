//! One integration-test binary (one link step) with a module per concept.

mod admin;
mod backup;
mod calendar;
mod chat_events;
mod classify;
mod cli;
mod config;
mod daemon;
mod daemon_email;
mod email;
mod engine;
mod export;
mod jobs;
mod man;
mod metrics;
mod outbound;
mod prometheus;
mod replay;
mod sla;
mod store;
mod telegram;

/// The `buhbot` binary with a clean environment: figment::Jail tests set
/// `BUHBOT_*` variables process-wide while they run, and a child spawned
/// by another test thread must not inherit them.
pub fn buhbot() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_buhbot"));
    cmd.env_clear();
    for key in ["PATH", "HOME", "TMPDIR", "LANG"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}
