//! Benchmarks of the push to Postgres (scripts/bench-sync.sh starts the
//! cluster and passes its port):
//! - catch-up: a backlog of N queued rows (the message log of a long
//!   outage) pushed to the local cluster: rows/s and the process' peak RSS;
//! - steady lag: messages written at 100/s while the push runs as the
//!   daemon runs it (nudged after each commit): time from the local commit
//!   to the row being visible to another Postgres session, p50/p99/max.
//!
//! Usage: bench_sync PORT [catchup[=ROWS]] [lag[=SECONDS]]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::config::{PostgresSettings, SslMode};
use buhbot::store::{Store, outbox};
use buhbot::sync::pg::Connector;
use buhbot::sync::push::Pusher;
use tokio::sync::Notify;

const CHAT: i64 = -1001987654321;

fn settings(port: u16) -> PostgresSettings {
    PostgresSettings {
        host: "127.0.0.1".into(),
        port,
        dbname: "postgres".into(),
        user: "buhbot_daemon".into(),
        password: None,
        sslmode: SslMode::Disable,
        ca_file: None,
        pool_size: 4,
        push_interval: Duration::from_secs(1),
        pull_interval: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        standby_lock: None,
    }
}

fn store(dir: &std::path::Path) -> Store {
    let (store, _) = Store::open_migrated(&dir.join("bench.db")).unwrap();
    let c = store.conn().unwrap();
    outbox::set_enabled(&c, true).unwrap();
    store
}

fn pusher(port: u16, store: Store, id: &str) -> Pusher {
    let pool = Connector::new(&settings(port)).unwrap().pool().unwrap();
    Pusher::new(pool, store, id.into(), 60)
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn clear(port: u16) {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "TRUNCATE chat_messages, client_requests, sla_alerts, alert_deliveries CASCADE;
             DELETE FROM chats; DELETE FROM buhbot.sync_positions;",
        )
        .await
        .unwrap();
}

async fn catchup(port: u16, rows: i64) {
    clear(port).await;
    let dir = tempfile::tempdir().unwrap();
    // The backlog is queued by another process, as a daemon after an
    // outage has it: this process' memory is the push's alone.
    let t = Instant::now();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["queue", &rows.to_string()])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    println!("queued {rows} rows in {:.1} s", t.elapsed().as_secs_f64());
    let store = store(dir.path());
    let pusher = pusher(port, store.clone(), "bench-catchup");
    pusher.reconcile().await.unwrap();
    let t = Instant::now();
    let mut pushed = 0;
    let (start_rss, mut max_rss) = (rss_kb("VmRSS:"), 0);
    loop {
        let p = pusher.push_once(0).await.unwrap();
        if p.entries == 0 {
            break;
        }
        pushed += p.entries;
        max_rss = max_rss.max(rss_kb("VmRSS:"));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "catch-up: {pushed} rows in {secs:.1} s = {:.0} rows/s; RSS {start_rss} kB before \
         the push, at most {max_rss} kB while pushing (process peak {} kB)",
        pushed as f64 / secs,
        rss_kb("VmHWM:")
    );
}

/// The child of `catchup`: queues `rows` messages in `dir`'s store.
fn queue(rows: i64, dir: &std::path::Path) {
    let store = store(dir);
    store
        .conn()
        .unwrap()
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO messages (chat_id, message_id, edit_version, date, sender_id,
                                   sender_kind, sender_name, text, logged_at)
             SELECT ?2, i, 0, 1736751600 + i, 7000100 + i % 50, 'user', 'Клиент',
                    'Добрый день! Пришлите, пожалуйста, акт сверки за ' || i, 0 FROM n",
            rusqlite::params![rows, CHAT],
        )
        .unwrap();
}

async fn lag(port: u16, seconds: u64) {
    clear(port).await;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let pusher = Arc::new(pusher(port, store.clone(), "bench-lag"));
    pusher.reconcile().await.unwrap();
    let nudge = Arc::new(Notify::new());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The push loop as the worker runs it.
    let push = {
        let (pusher, nudge, done) = (pusher.clone(), nudge.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let p = pusher.push_once(0).await.unwrap();
                if p.entries == 0 {
                    let _ = tokio::time::timeout(Duration::from_secs(1), nudge.notified()).await;
                }
            }
        })
    };
    // Another session watches rows appear.
    let (watch, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let n = seconds as i64 * 100;
    let written: Arc<std::sync::Mutex<HashMap<i64, Instant>>> = Arc::default();
    let writer = {
        let (store, nudge, written) = (store.clone(), nudge.clone(), written.clone());
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for i in 1..=n {
                tokio::time::sleep_until(start + Duration::from_millis(10 * i as u64)).await;
                let s = store.clone();
                s.run(move |c| {
                    c.execute(
                        "INSERT INTO messages (chat_id, message_id, edit_version, date, sender_id,
                                               sender_kind, text, logged_at)
                         VALUES (?1, ?2, 0, 1736751600 + ?2, 7000100, 'user', 'Где счёт?', 0)",
                        rusqlite::params![CHAT, i],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
                written.lock().unwrap().insert(i, Instant::now());
                nudge.notify_one();
            }
        })
    };
    let mut seen = 0i64;
    let mut lags = Vec::with_capacity(n as usize);
    while seen < n {
        let max: Option<i64> = watch
            .query_one(
                "SELECT max(message_id) FROM chat_messages WHERE chat_id = $1",
                &[&CHAT],
            )
            .await
            .unwrap()
            .get(0);
        let now = Instant::now();
        let max = max.unwrap_or(0);
        if max > seen {
            let w = written.lock().unwrap();
            for i in seen + 1..=max {
                if let Some(t) = w.get(&i) {
                    lags.push(now.saturating_duration_since(*t));
                }
            }
            seen = max;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    writer.await.unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    nudge.notify_one();
    push.await.unwrap();
    lags.sort();
    let q = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "steady lag at 100 messages/s ({} messages): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        q(0.5).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        lags.last().unwrap().as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next().unwrap_or_default();
    if first == "queue" {
        let rows: i64 = args.next().and_then(|r| r.parse().ok()).unwrap();
        queue(rows, std::path::Path::new(&args.next().unwrap()));
        return;
    }
    let port: u16 = first
        .parse()
        .expect("usage: bench_sync PORT [catchup[=ROWS]] [lag[=SECONDS]]");
    let rest: Vec<String> = args.collect();
    let want = |name: &str| -> Option<Option<String>> {
        if rest.is_empty() {
            return Some(None);
        }
        rest.iter().find_map(|a| {
            let (k, v) = a
                .split_once('=')
                .map_or((a.as_str(), None), |(k, v)| (k, Some(v)));
            (k == name).then(|| v.map(str::to_string))
        })
    };
    if let Some(v) = want("catchup") {
        catchup(port, v.and_then(|v| v.parse().ok()).unwrap_or(1_000_000)).await;
    }
    if let Some(v) = want("lag") {
        lag(port, v.and_then(|v| v.parse().ok()).unwrap_or(30)).await;
    }
}
