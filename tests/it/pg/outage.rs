//! Postgres away for a minute while 50 000 messages arrive (the issue
//! asks 10 000; more keep the catch-up long enough for the kills), then the
//! daemon killed again and again while it catches up: alerts go out on
//! time meanwhile, and Postgres ends with every row once.

use std::time::{Duration, Instant};

use super::cluster::{Cluster, Options};
use super::replay_sync::{as_upstream, migrated, outbox_depth, pg_alerts, pg_section};
use crate::daemon::{
    db_state, export_extent, log_tail, read_only, replay_report, setup, start, stop, wait_done,
};

/// How long Postgres is down at least while the daemon works.
const OUTAGE: Duration = Duration::from_secs(60);
const KILLS: usize = 10;

fn count(db: &std::path::Path, sql: &str) -> i64 {
    read_only(db).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn an_outage_and_kills_during_the_catch_up_lose_and_double_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = Cluster::start(Options::default());
    rt.block_on(migrated(&cluster));
    let data = tempfile::tempdir().unwrap();
    let export = data.path().join("synthetic.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&export).unwrap());
    buhbot::export::synth::write_synthetic(&mut f, 50_000, 23).unwrap();
    drop(f);
    let (n, end) = export_extent(&export);
    let source = format!("replay:{}?speed=1e9", export.display());
    let s = setup(&pg_section(cluster.port));

    // Postgres goes away; the daemon starts and works without it.
    cluster.stop();
    let down = Instant::now();
    let mut child = start(&s, &source, "daemon.log");
    wait_done(&s, n, end, &mut child, Duration::from_secs(300));
    // wait_done saw every alert due by the end delivered: while Postgres
    // was down, and on the replay's time like any other run.
    let (expected, expected_alerts) = replay_report(&s, &export);
    let (requests, alerts) = db_state(&s.db, end);
    assert_eq!(requests, expected, "the local store, Postgres down");
    assert_eq!(alerts, expected_alerts);
    assert!(alerts.len() > 100, "a meaningful workload");
    let backlog = outbox_depth(&s.db);
    assert!(
        backlog > n as i64,
        "everything waits for Postgres: {backlog}"
    );
    // Down for OUTAGE at least (longer when the replay took longer).
    std::thread::sleep(OUTAGE.saturating_sub(down.elapsed()));
    assert!(child.try_wait().unwrap().is_none(), "{}", log_tail(&s));
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("sync: push failed"), "{}", log_tail(&s));

    // Postgres is back; the daemon is killed at random moments of its
    // catch-up, and restarted each time.
    cluster.start_again();
    let mut seed: u64 = 0xcafe;
    let mut mid_push = 0;
    let mut last = backlog;
    for _ in 0..KILLS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Random moments of the catch-up itself: once this start has
        // pushed its first batch (a loaded machine may take seconds to get
        // there; a fixed delay from the start then killed it before its
        // first push), then up to 300 ms into it.
        let started = Instant::now();
        while outbox_depth(&s.db) >= last && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let delay = Duration::from_millis((seed >> 33) % 300);
        std::thread::sleep(delay);
        let delay = started.elapsed();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let depth = outbox_depth(&s.db);
        eprintln!("kill after {delay:?}: {depth} of {backlog} changes still queued");
        if depth > 0 && depth < last {
            mid_push += 1;
        }
        last = depth;
        child = start(&s, &source, "daemon.log");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while outbox_depth(&s.db) > 0 {
        assert!(
            Instant::now() < deadline,
            "never caught up: {}",
            log_tail(&s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(stop(child).success(), "{}", log_tail(&s));
    assert!(
        mid_push >= KILLS / 2,
        "only {mid_push} of {KILLS} kills landed while the queue was draining"
    );

    // Postgres holds what the replay reports, each row once.
    let out = crate::buhbot()
        .args(["sync", "once", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rt.block_on(async {
        let client = cluster.admin().await;
        let pg = |sql: &'static str| {
            let client = &client;
            async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(pg("SELECT count(*) FROM chat_messages").await, n as i64);
        for (local, remote) in [
            (
                "SELECT count(*) FROM client_requests",
                "SELECT count(*) FROM client_requests",
            ),
            (
                "SELECT count(*) FROM sla_alerts",
                "SELECT count(*) FROM sla_alerts",
            ),
            (
                "SELECT count(*) FROM alert_deliveries",
                "SELECT count(*) FROM alert_deliveries",
            ),
            (
                "SELECT count(*) FROM client_requests WHERE status = 'answered'",
                "SELECT count(*) FROM client_requests WHERE status = 'answered'",
            ),
            (
                "SELECT count(*) FROM client_requests WHERE breached = 1",
                "SELECT count(*) FROM client_requests WHERE sla_breached",
            ),
        ] {
            assert_eq!(pg(remote).await, count(&s.db, local), "{remote}");
        }
        assert_eq!(
            pg_alerts(&client, end).await,
            as_upstream(expected_alerts),
            "alerts in Postgres"
        );
    });
}
