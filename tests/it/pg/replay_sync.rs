//! The push end to end: the real daemon replays an export with
//! `[postgres]` configured, and Postgres ends up holding what `buhbot
//! replay` reports, row for row.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{Cluster, Options};
use crate::daemon::{
    AlertRow, db_state, export_extent, log_tail, read_only, replay_report, setup, start, stop,
    wait_done,
};

fn manifest(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The schema as `buhbot migrate --postgres --supabase-stub` makes it.
pub async fn migrated(cluster: &Cluster) {
    use buhbot::sync::migrate::{MIGRATIONS, migrate};
    use buhbot::sync::pg::{Connector, Login};
    let connector = Connector::new(&super::settings(cluster.port)).unwrap();
    let mut client = connector
        .connect(&Login::daemon(connector.settings()))
        .await
        .unwrap();
    migrate(&mut client, &connector, MIGRATIONS, true)
        .await
        .unwrap();
}

/// The `[postgres]` section for the daemon's role on a test cluster.
pub fn pg_section(port: u16) -> String {
    pg_section_in(port, "postgres")
}

/// The section for database `dbname` (a pooler's alias) at `port`.
pub fn pg_section_in(port: u16, dbname: &str) -> String {
    format!(
        "[postgres]\nhost = \"127.0.0.1\"\nport = {port}\ndbname = \"{dbname}\"\n\
         user = \"buhbot_daemon\"\nsslmode = \"disable\"\npush_interval_seconds = 1\n"
    )
}

pub fn outbox_depth(db: &std::path::Path) -> i64 {
    read_only(db)
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap()
}

/// Postgres' requests and alerts in the shape of `db_state`.
async fn pg_state(client: &tokio_postgres::Client, end: i64) -> (Vec<Value>, Vec<AlertRow>) {
    let requests = client
        .query(
            "SELECT message_id, client_telegram_id, extract(epoch FROM received_at)::bigint,
                    extract(epoch FROM response_at)::bigint, responded_by_telegram_id,
                    sla_working_minutes, extract(epoch FROM sla_breached_at)::bigint, status
             FROM client_requests ORDER BY chat_id, message_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let answered: Option<i64> = r.get(3);
            let breached_at: Option<i64> = r.get(6);
            let status: String = r.get(7);
            serde_json::json!({
                "message_id": r.get::<_, i64>(0),
                "client_id": r.get::<_, Option<i64>>(1),
                "received_at": r.get::<_, i64>(2),
                "answered_at": answered,
                "answered_by": r.get::<_, Option<i64>>(4),
                "working_minutes": if answered.is_some() { r.get::<_, Option<i32>>(5) } else { None },
                "breached_at": breached_at.filter(|&b| b <= end),
                "status": if status == "answered" { "answered" } else { "open" },
            })
        })
        .collect();
    let alerts = pg_alerts(client, end).await;
    (requests, alerts)
}

/// Postgres' alerts due by `end`, as (request message id, alert_type,
/// level, due).
pub async fn pg_alerts(client: &tokio_postgres::Client, end: i64) -> Vec<AlertRow> {
    client
        .query(
            "SELECT r.message_id, a.alert_type, a.escalation_level::bigint,
                    extract(epoch FROM a.due_at)::bigint
             FROM sla_alerts a JOIN client_requests r ON r.id = a.request_id
             WHERE a.due_at <= to_timestamp($1::bigint)
             ORDER BY r.message_id, a.escalation_level, a.alert_type",
            &[&end],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// The replay's alerts as the original's model names them upstream:
/// warnings stay, breaches and escalations are breaches (by level).
pub fn as_upstream(alerts: Vec<AlertRow>) -> Vec<AlertRow> {
    alerts
        .into_iter()
        .map(|(m, kind, level, at)| {
            let kind = if kind == "warning" {
                kind
            } else {
                "breach".into()
            };
            (m, kind, level, at)
        })
        .collect()
}

async fn pg_count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

fn local_count(db: &std::path::Path, table: &str) -> i64 {
    read_only(db)
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ends_with_what_replay_reports() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    replay_lands_in_postgres(&cluster, &pg_section(cluster.port)).await;
}

/// Postgres restored from a dump older than what the daemon pushed since
/// (its position and its rows from before the gap): the queue holds
/// nothing of the gap, so `sync once` alone cannot bring the rows back;
/// `sync resync` queues every row and they all arrive, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_brings_back_the_rows_a_restored_postgres_lacks() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let s = replay_lands_in_postgres(&cluster, &pg_section(cluster.port)).await;
    let client = cluster.admin().await;
    let full = pg_state(&client, 4_102_444_800).await;
    client
        .batch_execute(
            "TRUNCATE chat_messages, client_requests, sla_alerts, alert_deliveries CASCADE;
             UPDATE buhbot.sync_positions SET pushed_seq = pushed_seq / 2;",
        )
        .await
        .unwrap();
    let (code, out) = super::run_cli(&s.config, &["sync", "once"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(pg_count(&client, "client_requests").await, 0, "{out}");

    let (code, out) = super::run_cli(&s.config, &["sync", "resync"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let queued = outbox_depth(&s.db);
    assert!(out.contains(&format!("queued {queued} row(s)")), "{out}");
    let (code, out) = super::run_cli(&s.config, &["sync", "once"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(outbox_depth(&s.db), 0);
    assert_eq!(pg_state(&client, 4_102_444_800).await, full);
    for (local, remote) in [
        ("messages", "chat_messages"),
        ("client_requests", "client_requests"),
        ("sla_alerts", "sla_alerts"),
        ("alert_deliveries", "alert_deliveries"),
    ] {
        assert_eq!(
            pg_count(&client, remote).await,
            local_count(&s.db, local),
            "{remote}"
        );
    }
    // The next pull reads every row again (the cursor is gone).
    let cursor: i64 = read_only(&s.db)
        .query_row(
            "SELECT count(*) FROM transport_state WHERE source = 'sync.pull'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cursor, 0);
}

/// The same replay through pgbouncer in transaction mode (what Supabase's
/// pooler on port 6543 is): the daemon's server connection changes between
/// transactions, so nothing of the push may live outside one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ends_with_what_replay_reports_through_a_transaction_pooler() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let bouncer = super::pooler::Pgbouncer::start(&cluster);
    // The pooler's `daemon` alias logs in to the server as buhbot_daemon.
    replay_lands_in_postgres(&cluster, &pg_section_in(bouncer.port, "daemon")).await;
    let log = std::fs::read_to_string(cluster.dir().join("pgbouncer.log")).unwrap_or_default();
    assert!(
        log.contains("daemon/"),
        "the daemon went through the pooler: {log}"
    );
}

/// Replays the example export through the real daemon with `section` and
/// checks that Postgres (read directly at `cluster`) holds what the replay
/// report says; returns the setup for more checks.
pub async fn replay_lands_in_postgres(cluster: &Cluster, section: &str) -> crate::daemon::Setup {
    let s = setup(section);
    let export = manifest("data/examples/chat-export.json");
    let (n, end) = export_extent(&export);
    let mut child = start(
        &s,
        &format!("replay:{}?speed=1e9", export.display()),
        "daemon.log",
    );
    wait_done(&s, n, end, &mut child, Duration::from_secs(60));
    // The daemon pushes as it goes: its queue drains while it runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox_depth(&s.db) > 0 {
        assert!(
            Instant::now() < deadline,
            "queue never drained: {}",
            log_tail(&s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(stop(child).success(), "{}", log_tail(&s));
    // Alerts that fired between the drain and the stop, pushed by the CLI.
    let out = crate::buhbot()
        .args(["sync", "once", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outbox_depth(&s.db), 0);

    let client = cluster.admin().await;
    let (expected, expected_alerts) = replay_report(&s, &export);
    assert!(!expected_alerts.is_empty());
    let expected_alerts = as_upstream(expected_alerts);
    let (requests, alerts) = pg_state(&client, end).await;
    assert_eq!(requests, expected);
    assert_eq!(alerts, expected_alerts);
    // And every local row, once.
    for (local, remote) in [
        ("messages", "chat_messages"),
        ("client_requests", "client_requests"),
        ("sla_alerts", "sla_alerts"),
        ("alert_deliveries", "alert_deliveries"),
        // A chat known only from the configuration gets its row upstream
        // with its first message.
        (
            "(SELECT id FROM chats UNION SELECT chat_id FROM messages)",
            "chats",
        ),
    ] {
        assert_eq!(
            pg_count(&client, remote).await,
            local_count(&s.db, local),
            "{remote}"
        );
    }
    // The local store and Postgres agree on the request the SQLite test
    // compares too (db_state is what the daemon test checks).
    let (local_requests, _) = db_state(&s.db, end);
    assert_eq!(local_requests.len(), requests.len());
    // The daemon's position is its last entry, written by the daemon role.
    let (pos, writer): (i64, Option<String>) = {
        let r = client
            .query_one(
                "SELECT p.pushed_seq, (SELECT updated_by FROM chats LIMIT 1)
                 FROM buhbot.sync_positions p",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    let seq: i64 = read_only(&s.db)
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pos, seq);
    assert!(
        writer.is_some_and(|w| w.starts_with("daemon:")),
        "rows pushed by the daemon name it as their writer"
    );
    s
}
