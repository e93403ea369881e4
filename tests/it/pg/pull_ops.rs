//! The pull's operator surface: the daemon's metrics count pulled rows,
//! time the last pull and count a failing pull as stage "pull"; `buhbot
//! sync status` shows the last pull and its row version.

use std::path::Path;
use std::time::{Duration, Instant};

use buhbot::store::{Store, chats, outbox};
use buhbot::sync::pg::Connector;
use buhbot::sync::pull;
use buhbot::sync::push::Pusher;

use super::cluster::{Cluster, Options};
use super::replay_sync::{migrated, pg_section};
use super::run_cli;
use crate::daemon::{Setup, export_extent, log_tail, setup, start, stop, wait_done};

/// `sync status --json` as JSON.
fn status_json(config: &Path) -> serde_json::Value {
    let (code, text) = run_cli(config, &["sync", "status", "--json"], &[]);
    assert_eq!(code, Some(0), "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn sync_status_shows_the_last_pull_and_its_version() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let s = setup(&pg_section(cluster.port));

    let (code, text) = run_cli(&s.config, &["sync", "status"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("\nlast pull: never\n"), "{text}");
    assert_eq!(status_json(&s.config)["last_pull"], serde_json::Value::Null);

    // A chat the daemon pushed, then edited in Postgres, then pulled.
    let (store, _) = Store::open_migrated(&s.db).unwrap();
    outbox::set_enabled(&store.conn().unwrap(), true).unwrap();
    chats::ensure(&store.conn().unwrap(), -100123, "ООО Ромашка", "test", 0).unwrap();
    let mut settings = super::settings(cluster.port);
    settings.user = "buhbot_daemon".into();
    let pool = Connector::new(&settings).unwrap().pool().unwrap();
    let pusher = Pusher::new(pool.clone(), store.clone(), "test-daemon".into(), 60);
    while pusher.push_once(0).await.unwrap().entries > 0 {}
    let admin = cluster.admin().await;
    let version: i64 = admin
        .query_one(
            "UPDATE chats SET title = 'из панели' WHERE id = -100123 RETURNING row_version",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let config = buhbot::config::Config::from_figment(&figment::Figment::new(), None).unwrap();
    let now = chrono::Utc::now().timestamp() - 7;
    let from = pull::cursor(&store.conn().unwrap()).unwrap();
    let batch = pull::read(&pool, from, "daemon:test-daemon").await.unwrap();
    assert_eq!(
        pull::apply(&store, &batch, &config, now).unwrap().applied,
        1
    );

    let (code, text) = run_cli(&s.config, &["sync", "status"], &[]);
    assert_eq!(code, Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("last pull: "))
        .unwrap_or_else(|| panic!("no last pull line: {text}"));
    let ago: i64 = line["last pull: ".len()..]
        .split_once("s ago")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!((7..60).contains(&ago), "{line}");
    assert!(
        line.ends_with(&format!(", has Postgres' edits up to #{version}")),
        "{line}"
    );
    let json = status_json(&s.config);
    assert_eq!(json["last_pull"]["at"], now, "{json:#}");
    assert_eq!(json["last_pull"]["version"], version, "{json:#}");
    assert!(json["last_pull"]["age_seconds"].as_i64().unwrap() >= 7);

    // A pull that applies nothing is still a pull: the time moves on.
    let from = pull::cursor(&store.conn().unwrap()).unwrap();
    let batch = pull::read(&pool, from, "daemon:test-daemon").await.unwrap();
    assert_eq!(
        pull::apply(&store, &batch, &config, now + 5)
            .unwrap()
            .applied,
        0
    );
    assert_eq!(status_json(&s.config)["last_pull"]["at"], now + 5);
}

/// The value of the series `series` (name with its labels, as rendered)
/// in the daemon's metrics textfile.
fn metric(s: &Setup, series: &str) -> Option<f64> {
    let text = std::fs::read_to_string(s.dir.path().join("metrics/buhbot.prom")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until the textfile's `series` satisfies `ok`.
fn wait_metric(s: &Setup, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = metric(s, series).filter(|v| ok(*v)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{series} = {:?}: {}",
            metric(s, series),
            log_tail(s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The real daemon: an edit in Postgres is counted as applied and times
/// the last pull; a pull Postgres refuses (the deletion log's grant
/// revoked) counts as stage "pull", not "push", and is logged as a pull.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_counts_pulled_rows_and_failing_pulls() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let s = setup(&pg_section(cluster.port));
    let export =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/examples/chat-export.json");
    let (n, end) = export_extent(&export);
    let mut child = start(
        &s,
        &format!("replay:{}?speed=1e9", export.display()),
        "daemon.log",
    );
    wait_done(&s, n, end, &mut child, Duration::from_secs(60));
    const APPLIED: &str = r#"buhbot_sync_pulled_rows_total{result="applied"}"#;
    const PULL_ERRORS: &str = r#"buhbot_sync_errors_total{stage="pull"}"#;
    let admin = cluster.admin().await;
    super::pull::wait_for_example_chat(&admin, &s).await;
    wait_metric(&s, "buhbot_sync_last_pull_timestamp_seconds", |v| v > 0.0);
    let applied = wait_metric(&s, APPLIED, |_| true);
    assert_eq!(metric(&s, PULL_ERRORS), Some(0.0));

    admin
        .batch_execute("UPDATE chats SET sla_threshold_minutes = 45 WHERE id = -1001987654321")
        .await
        .unwrap();
    wait_metric(&s, APPLIED, |v| v > applied);

    // The pull after the first reads the deletion log; refused, it fails.
    admin
        .batch_execute("REVOKE SELECT ON buhbot.deletions FROM buhbot_daemon")
        .await
        .unwrap();
    wait_metric(&s, PULL_ERRORS, |v| v >= 2.0);
    assert_eq!(
        metric(&s, r#"buhbot_sync_errors_total{stage="push"}"#),
        Some(0.0),
        "{}",
        log_tail(&s)
    );
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("sync: pull failed") && !log.contains("sync: push failed"),
        "{}",
        log_tail(&s)
    );
    let (code, text) = run_cli(&s.config, &["sync", "status"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("last pull: ") && l.contains(", has Postgres' edits up to #")),
        "{text}"
    );

    // Granted again: the pull recovers and applies the next edit.
    admin
        .batch_execute("GRANT SELECT ON buhbot.deletions TO buhbot_daemon")
        .await
        .unwrap();
    let applied = metric(&s, APPLIED).unwrap();
    admin
        .batch_execute("UPDATE chats SET sla_threshold_minutes = 50 WHERE id = -1001987654321")
        .await
        .unwrap();
    wait_metric(&s, APPLIED, |v| v > applied);
    assert!(stop(child).success(), "{}", log_tail(&s));
}
