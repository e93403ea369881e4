//! Postgres: `[postgres]` validation, migrations, TLS, the daemon's role,
//! against real PostgreSQL 15 clusters the tests start themselves.

mod backup;
pub mod cluster;
mod config;
mod migrate;
mod outage;
mod pooler;
mod pull;
mod pull_ops;
mod push;
pub mod replay_sync;
mod replica;
mod standby;
mod surveys;
mod tls;

use std::path::{Path, PathBuf};
use std::time::Duration;

use buhbot::config::{PostgresSettings, Secret, SslMode};

/// Settings for a test cluster on 127.0.0.1 (no TLS unless changed).
pub fn settings(port: u16) -> PostgresSettings {
    PostgresSettings {
        host: "127.0.0.1".into(),
        port,
        dbname: "postgres".into(),
        user: "postgres".into(),
        password: None,
        sslmode: SslMode::Disable,
        ca_file: None,
        pool_size: 2,
        push_interval: Duration::from_secs(1),
        pull_interval: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        standby_lock: None,
    }
}

pub fn secret(s: &str) -> Option<Secret> {
    Some(Secret::new(s))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `buhbot --config CONFIG ARGS…` as an operator would; returns the
/// exit code and stdout + stderr, asserting none of `secrets` was printed.
pub fn run_cli(config: &Path, args: &[&str], secrets: &[&str]) -> (Option<i32>, String) {
    let out = crate::buhbot()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in secrets {
        assert!(!text.contains(secret), "a password was printed: {text}");
    }
    (out.status.code(), text)
}
