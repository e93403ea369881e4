//! Release and start notices (issue 14, part 3): the start history across
//! real restarts of the binary (clean stops, SIGKILLs, a restore), and the
//! notices the admins get through the outbound queue and the recording
//! fake Telegram API (one per upgrade, one per crash loop, never twice).

use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::config::Config;
use buhbot::core::clock::Clock;
use buhbot::core::engine::Engine;
use buhbot::core::shared::Shared;
use buhbot::daemon::starts::{self, StartLog};
use buhbot::domain::starts::{CrashLoop, Reason};
use buhbot::store::starts::{StartRow, list};
use buhbot::store::users::{Role, UserRow};
use buhbot::store::{Store, users};
use buhbot::telegram::outbound::fake::RecordingApi;
use buhbot::telegram::outbound::{OutboundConfig, run_outbound_with};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::daemon::{Daemon, log_tail, read_only, setup, start, stop};

const MANAGER: i64 = 7_000_009;
const ADMIN: i64 = 7_000_100;

fn rows(db: &std::path::Path) -> Vec<StartRow> {
    list(&read_only(db)).unwrap()
}

/// The rows, or none while the daemon has not migrated the new database.
fn rows_so_far(db: &std::path::Path) -> Vec<StartRow> {
    if db.exists() {
        list(&read_only(db)).unwrap_or_default()
    } else {
        Vec::new()
    }
}

/// Starts the daemon and waits for its READY (the new row's ready_at).
fn start_ready(s: &super::daemon::Setup, source: &str) -> Daemon {
    let before = rows_so_far(&s.db).len();
    let mut child = start(s, source, "daemon.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = rows_so_far(&s.db);
        if now.len() > before && now.last().unwrap().start.ready_at.is_some() {
            return child;
        }
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "no READY: {}",
            log_tail(s)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(mut child: Daemon) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_binary_keeps_a_start_history_and_spots_one_crash_loop() {
    let s = setup("[daemon]\ncrash_loop_restarts = 1\ncrash_loop_minutes = 10\n");
    // An empty replay: the daemon gets READY and runs until stopped.
    let events = s.dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let source = format!("replay:{}", events.display());

    assert!(stop(start_ready(&s, &source)).success());
    kill(start_ready(&s, &source));
    kill(start_ready(&s, &source));
    kill(start_ready(&s, &source));
    assert!(stop(start_ready(&s, &source)).success());
    let got = rows(&s.db);
    let summary: Vec<(Reason, bool, bool, bool)> = got
        .iter()
        .map(|r| {
            let s = &r.start;
            (
                s.reason,
                s.after_crash,
                s.stopped_at.is_some(),
                r.crash_loop,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Reason::Install, false, true, false),
            (Reason::Restart, false, false, false),
            (Reason::Restart, true, false, false),
            // The second restart after a crash is "more than 1": warned.
            (Reason::Restart, true, false, true),
            // Still in the loop: no second warning.
            (Reason::Restart, true, true, false),
        ],
        "{}",
        log_tail(&s)
    );
    assert!(
        got.iter()
            .all(|r| r.start.version == env!("CARGO_PKG_VERSION"))
    );
    assert!(
        got.iter()
            .all(|r| r.start.ready_at >= Some(r.start.started_at))
    );
    let all = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert_eq!(
        all.matches("crash loop: restarted after a crash 2 times recently")
            .count(),
        1,
        "{all}"
    );

    // A restore: the next start says so; on a replay no notice can be
    // sent, so the start after it still carries it (for Telegram).
    let backups = s.dir.path().join("backups");
    let o = crate::buhbot()
        .args(["backup", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let archive = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("an archive");
    let o = crate::buhbot()
        .args([
            "restore",
            archive.to_str().unwrap(),
            "--db",
            s.db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(stop(start_ready(&s, &source)).success());
    assert!(stop(start_ready(&s, &source)).success());
    let got = rows(&s.db);
    let last: Vec<Reason> = got[got.len() - 2..]
        .iter()
        .map(|r| r.start.reason)
        .collect();
    assert_eq!(last, vec![Reason::Restore, Reason::Restore]);
    assert!(got.iter().all(|r| !r.start.notified));
    // A replay sends nothing to Telegram: the notice waits, unqueued.
    let queued: i64 = read_only(&s.db)
        .query_row("SELECT count(*) FROM outbound_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0);
}

struct Env {
    dir: tempfile::TempDir,
    config: Arc<Config>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buhbot.toml");
        std::fs::write(&path, format!("[alerts]\nmanagers = [{MANAGER}]\n")).unwrap();
        let config = Arc::new(Config::load(Some(&path)).unwrap());
        Env { dir, config }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("buhbot.db")
    }

    /// One `buhbot run` of `version` at `at` (as run.rs does it): the
    /// start row, then READY `ready_after` later unless it dies first,
    /// then a clean stop when `clean`.
    async fn run(
        &self,
        version: &str,
        at: DateTime<Utc>,
        ready_after: Option<Duration>,
        clean: bool,
    ) -> StartLog {
        let (store, report) = Store::open_migrated(&self.db()).unwrap();
        let log = starts::record_start(
            &mut store.conn().unwrap(),
            &report,
            version,
            at,
            CrashLoop::default(),
            Some(("buhbot-20260301T030000Z.tar.gz".into(), 1_772_334_000)),
        )
        .unwrap();
        let engine = Engine::new(self.config.clone());
        let shared = Arc::new(Shared::new(store, Clock::System, engine, Vec::new(), true));
        starts::warn_crash_loop(&shared, &log).await.unwrap();
        if let Some(after) = ready_after {
            let ready = at + chrono::Duration::from_std(after).unwrap();
            starts::at_ready(&shared, &log, ready, true).await.unwrap();
            // A READY seen twice (it is not, but a retry must not repeat).
            starts::at_ready(&shared, &log, ready, true).await.unwrap();
        }
        if clean {
            starts::at_stop(&shared, &log, at + chrono::Duration::seconds(60))
                .await
                .unwrap();
        }
        log
    }

    /// Runs the outbound sender on the queue until it is empty.
    async fn send(&self, api: &Arc<RecordingApi>) {
        let store = Store::open(&self.db()).unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_outbound_with(
            OutboundConfig::default(),
            store,
            api.clone(),
            Clock::System,
            cancel.clone(),
            None,
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
        task.await.unwrap().unwrap();
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn one_release_notice_per_upgrade_to_every_admin_even_after_a_crash_before_ready() {
    let env = Env::new();
    let api = Arc::new(RecordingApi::new());
    // A fresh install tells nobody.
    env.run(
        "0.1.0",
        t("2026-03-01T08:00:00Z"),
        Some(Duration::from_secs(2)),
        true,
    )
    .await;
    {
        let (store, _) = Store::open_migrated(&env.db()).unwrap();
        let admin = UserRow {
            id: ADMIN,
            name: "Админ".into(),
            username: None,
            role: Role::Admin,
            email: None,
        };
        users::add(&store.conn().unwrap(), &admin, "test", 0).unwrap();
    }
    env.run(
        "0.1.0",
        t("2026-03-01T09:00:00Z"),
        Some(Duration::from_secs(2)),
        true,
    )
    .await;
    env.send(&api).await;
    assert!(api.records().is_empty(), "{:?}", api.records());

    // The upgrade dies before READY; the next start of the same version
    // still tells the upgrade, once, with its own time to READY.
    env.run("0.2.0", t("2026-03-02T09:00:00Z"), None, false)
        .await;
    env.run(
        "0.2.0",
        t("2026-03-02T09:01:00Z"),
        Some(Duration::from_millis(4_500)),
        true,
    )
    .await;
    env.run(
        "0.2.0",
        t("2026-03-02T10:00:00Z"),
        Some(Duration::from_secs(1)),
        true,
    )
    .await;
    env.send(&api).await;
    env.send(&api).await;
    let records = api.records();
    let mut to: Vec<i64> = records.iter().map(|r| r.chat_id).collect();
    to.sort();
    assert_eq!(to, vec![MANAGER, ADMIN], "{records:?}");
    for r in &records {
        assert!(
            r.text.contains("БухБот обновлён</b>: 0.1.0 → 0.2.0"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Готов к работе через 4,5 с"), "{}", r.text);
        assert!(
            r.text
                .contains("buhbot-20260301T030000Z.tar.gz</code> от 01.03.2026 03:00 UTC"),
            "{}",
            r.text
        );
    }
}

#[tokio::test]
async fn a_crash_loop_is_one_warning_per_admin_not_one_per_restart() {
    let env = Env::new();
    let api = Arc::new(RecordingApi::new());
    let origin = t("2026-03-01T08:00:00Z");
    env.run("0.1.0", origin, Some(Duration::from_secs(1)), true)
        .await;
    // Killed a minute after each start, twelve times.
    for i in 1..=12 {
        let at = origin + chrono::Duration::minutes(i);
        env.run("0.1.0", at, Some(Duration::from_secs(1)), false)
            .await;
    }
    env.send(&api).await;
    let records = api.records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].chat_id, MANAGER);
    assert!(
        records[0]
            .text
            .contains("перезапускается после сбоев</b>: 6 раз за 10 минут"),
        "{}",
        records[0].text
    );
}
