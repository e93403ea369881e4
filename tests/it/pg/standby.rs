//! `[postgres] standby = true`: two daemons of one bot, one Postgres.
//! Exactly one holds the lock and runs; the other waits having touched
//! nothing (not even its store); killed, the active one's lock passes to
//! the standby; restarted, the old one is the standby; an active daemon
//! whose session Postgres ends stops at once.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{Cluster, Options};
use super::replay_sync::{migrated, pg_section};
use crate::daemon::{Daemon, Setup, log_tail, setup, start, stop};

/// `buhbot sync status --json` on `s`'s host (stdout only: stderr may log).
fn status(s: &Setup) -> Value {
    let out = crate::buhbot()
        .args(["sync", "status", "--json", "--config"])
        .arg(&s.config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn log(s: &Setup) -> String {
    std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default()
}

/// Waits (at most `limit`) until `s`'s log has `needle` `count` times.
fn wait_log(s: &Setup, needle: &str, count: usize, child: &mut Daemon, limit: Duration) {
    let deadline = Instant::now() + limit;
    while log(s).matches(needle).count() < count {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("exited with {st} before {needle:?}: {}", log_tail(s));
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} within {limit:?}: {}",
            log_tail(s)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn export(dir: &Path) -> String {
    let export = dir.join("synthetic.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&export).unwrap());
    buhbot::export::synth::write_synthetic(&mut f, 50, 7).unwrap();
    drop(f);
    format!("replay:{}?speed=1e9", export.display())
}

const ACTIVE: &str = "buhbot is running";
const WAITING: &str = "standby: waiting for the Postgres lock";

#[test]
fn the_standby_takes_over_when_the_active_daemon_dies_and_the_old_one_becomes_the_standby() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = Cluster::start(Options::default());
    rt.block_on(migrated(&cluster));
    let section = format!("{}standby = true\n", pg_section(cluster.port));
    let (a, b) = (setup(&section), setup(&section));
    let source = export(a.dir.path());

    let mut da = start(&a, &source, "daemon.log");
    wait_log(&a, ACTIVE, 1, &mut da, Duration::from_secs(60));
    assert_eq!(status(&a)["role"], "active", "{}", log_tail(&a));

    // The second one waits, its store untouched; `sync status` on its
    // host names the active one.
    let mut db = start(&b, &source, "daemon.log");
    wait_log(&b, " is active", 1, &mut db, Duration::from_secs(60));
    assert!(log(&b).contains(WAITING));
    assert!(!b.db.exists(), "the standby opened its store");
    assert!(!log(&b).contains(ACTIVE));
    let sb = status(&b);
    assert_eq!(sb["role"], "standby", "{sb:#}");
    let holder = sb["standby"]["holder"]["application_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(holder.starts_with("buhbot active "), "{holder}");
    assert_eq!(
        status(&a)["standby"]["holder"]["application_name"],
        holder.as_str()
    );

    // The active one dies; the standby takes over, within the 30 s
    // (by design: one poll, 2 s, and the fence, 6 s, after Postgres drops
    // the dead session).
    da.kill().unwrap(); // SIGKILL
    da.wait().unwrap();
    let killed = Instant::now();
    wait_log(&b, ACTIVE, 1, &mut db, Duration::from_secs(30));
    eprintln!(
        "takeover: {:?} from the kill to the standby running",
        killed.elapsed()
    );
    assert!(log(&b).contains("standby: this daemon holds the lock"));
    assert_eq!(status(&b)["role"], "active");
    assert_eq!(status(&a)["role"], "standby");

    // The old one, restarted, is the standby now.
    let mut da = start(&a, &source, "daemon.log");
    wait_log(&a, WAITING, 2, &mut da, Duration::from_secs(60));
    wait_log(&a, " is active", 1, &mut da, Duration::from_secs(60));
    assert_eq!(log(&a).matches(ACTIVE).count(), 1, "{}", log_tail(&a));
    assert_eq!(status(&a)["role"], "standby");

    // A standby told to stop stops cleanly.
    assert!(stop(da).success(), "{}", log_tail(&a));
    assert!(log(&a).contains("it was the standby"));
    assert!(stop(db).success(), "{}", log_tail(&b));
}

#[test]
fn an_active_daemon_whose_lock_session_ends_exits_at_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = Cluster::start(Options::default());
    rt.block_on(migrated(&cluster));
    let s = setup(&format!(
        "{}standby = true\nstandby_lock = \"firm-bot\"\n",
        pg_section(cluster.port)
    ));
    let source = export(s.dir.path());
    let mut d = start(&s, &source, "daemon.log");
    wait_log(&s, ACTIVE, 1, &mut d, Duration::from_secs(60));
    let st = status(&s);
    assert_eq!(st["standby"]["lock"], "firm-bot");
    let pid = st["standby"]["holder"]["pid"].as_i64().unwrap() as i32;

    // Postgres ends the lock's session (as a failover or a network cut
    // would): the daemon must stop acting before a standby could.
    rt.block_on(async {
        let admin = cluster.admin().await;
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(st) = d.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "still running: {}", log_tail(&s));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        code,
        Some(buhbot::daemon::standby::LOST_LOCK_EXIT),
        "{}",
        log_tail(&s)
    );
    assert!(
        log(&s).contains("standby: lost the Postgres lock"),
        "{}",
        log_tail(&s)
    );
}

#[test]
fn a_lock_taken_through_a_transaction_mode_pooler_is_seen_as_lost() {
    use buhbot::sync::pg::{Connector, Login};
    use buhbot::sync::standby::{self, LockError};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = Cluster::start(Options::default());
    let bouncer = super::pooler::Pgbouncer::start(&cluster);
    rt.block_on(async {
        let connector = Connector::new(&super::settings(bouncer.port)).unwrap();
        let session = standby::session(&connector).await.unwrap();
        let lock = match standby::try_acquire(session, &connector, "buhbot", "buhbot active t x")
            .await
            .unwrap()
        {
            Ok(lock) => lock,
            Err(_) => panic!("the lock is free"),
        };
        // Another client of the pooler is handed the server connection
        // that took the lock, and keeps it in a transaction: the lock's
        // "session" is now someone else's, and the daemon must see that.
        let other = connector
            .connect(&Login::daemon(connector.settings()))
            .await
            .unwrap();
        other.batch_execute("BEGIN; SELECT 1").await.unwrap();
        let err = lock.check().await.unwrap_err();
        assert!(matches!(err, LockError::Lost { .. }), "{err}");
        assert!(err.to_string().contains("transaction-mode pooler"), "{err}");
    });
}
