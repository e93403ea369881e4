//! Postgres: `[postgres]` validation, migrations, TLS, the daemon's role,
//! against real PostgreSQL 15 clusters the tests start themselves.

mod backup;
pub mod cluster;
mod config;
mod migrate;
mod outage;
mod pooler;
mod push;
mod replay_sync;
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
