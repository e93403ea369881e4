//! `buhbot run` as a process on a replay source: it must end with exactly
//! the requests and alerts `buhbot replay` reports, also when killed with
//! SIGKILL again and again.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use buhbot::export::{ExportEvent, read_export};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    /// "buhbot is running" lines in the log when the latest daemon was
    /// started (a daemon killed during start-up never writes one).
    pub running_before: std::cell::Cell<usize>,
}

pub fn manifest(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A configuration with everything under a temp dir; `extra` is appended.
pub fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buhbot.db");
    let config = dir.path().join("buhbot.toml");
    let toml = format!(
        r#"
[calendar]
timezone = "Europe/Moscow"
production_calendar = ["{cal}"]
[store]
path = "{db}"
[metrics]
textfile = "{metrics}"
interval_seconds = 1
[backup]
enabled = false
dir = "{backups}"
[telegram]
bot_id = 6000000
[[chats]]
id = -1001987654321
title = "ООО Ромашка — бухгалтерия"
accountants = [7000001, 7000002]
managers = [7000009]
{extra}
"#,
        cal = manifest("data/calendars/ru/2025.xml"),
        db = db.display(),
        metrics = dir.path().join("metrics/buhbot.prom").display(),
        backups = dir.path().join("backups").display(),
    );
    std::fs::write(&config, toml).unwrap();
    Setup {
        dir,
        config,
        db,
        running_before: std::cell::Cell::new(0),
    }
}

/// A daemon process that is killed if a failing test drops it.
pub struct Daemon(pub Child);

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn start(s: &Setup, source: &str, log: &str) -> Daemon {
    start_with_env(s, source, log, &[])
}

pub fn start_with_env(s: &Setup, source: &str, log: &str, env: &[(&str, &str)]) -> Daemon {
    start_with_args(s, source, &[], log, env)
}

/// `buhbot run` on `source` with further arguments and environment.
pub fn start_with_args(
    s: &Setup,
    source: &str,
    args: &[&str],
    log: &str,
    env: &[(&str, &str)],
) -> Daemon {
    s.running_before.set(running_lines(s));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(s.dir.path().join(log))
        .unwrap();
    crate::buhbot()
        .args([
            "run",
            "--config",
            s.config.to_str().unwrap(),
            "--source",
            source,
        ])
        .args(args)
        .env("BUHBOT_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Daemon)
        .expect("start buhbot run")
}

pub fn stop(mut child: Daemon) -> std::process::ExitStatus {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "buhbot did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_only(db: &Path) -> Connection {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

/// Number of messages in an export and the date of the last one.
pub fn export_extent(path: &Path) -> (u64, i64) {
    let (mut n, mut last) = (0, 0);
    let f = std::fs::File::open(path).unwrap();
    read_export(f, "x", chrono_tz::Europe::Moscow, &mut |e| {
        if let ExportEvent::Message(m) = e {
            n += 1;
            last = last.max(m.date.timestamp());
        }
    })
    .unwrap();
    (n, last)
}

/// The daemon started on `export` at full speed, once it has processed
/// every message and delivered every alert due by the last one; with the
/// instant of that last message.
pub fn replayed(s: &Setup, export: &Path) -> (Daemon, i64) {
    let (n, end) = export_extent(export);
    let mut child = start(
        s,
        &format!("replay:{}?speed=1e9", export.display()),
        "daemon.log",
    );
    wait_done(s, n, end, &mut child, Duration::from_secs(60));
    (child, end)
}

/// Waits until the daemon has processed all `n` events and every timer
/// due by `end` has fired and been delivered.
pub fn wait_done(s: &Setup, n: u64, end: i64, child: &mut Daemon, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut state = String::new();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("buhbot exited early with {status}: {}", log_tail(s));
        }
        // The latest daemon must be up (past start-up) before it is judged.
        if s.db.exists() && running_lines(s) > s.running_before.get() {
            let c = read_only(&s.db);
            let pos: Option<String> = c
                .query_row(
                    "SELECT position FROM transport_state WHERE source = 'replay'",
                    [],
                    |r| r.get(0),
                )
                .ok();
            let done = pos
                .as_deref()
                .is_some_and(|p| p.starts_with(&format!("{n}@")));
            let due: i64 = c
                .query_row(
                    "SELECT count(*) FROM timers WHERE due_at <= ?1",
                    [end],
                    |r| r.get(0),
                )
                .unwrap_or(1);
            let pending: i64 = c
                .query_row(
                    "SELECT count(*) FROM alert_deliveries WHERE status <> 'sent'",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(1);
            if done && due == 0 && pending == 0 {
                return;
            }
            state = format!(
                "position {pos:?} of {n}, {due} timers due by the end, {pending} deliveries not sent"
            );
        }
        assert!(
            Instant::now() < deadline,
            "replay not finished in time ({state}): {}",
            log_tail(s)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn running_lines(s: &Setup) -> usize {
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default();
    log.matches("buhbot is running").count()
}

pub fn log_tail(s: &Setup) -> String {
    let text = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default();
    text.lines().rev().take(20).collect::<Vec<_>>().join("\n")
}

/// An alert as (request message id, kind, level, due).
pub type AlertRow = (i64, String, i64, i64);

/// Requests and alerts (due by `end`) as comparable rows.
pub fn db_state(db: &Path, end: i64) -> (Vec<Value>, Vec<AlertRow>) {
    let c = read_only(db);
    let mut stmt = c
        .prepare(
            "SELECT message_id, client_id, received_at, answered_at, answered_by, working_minutes,
                    breached, breached_at, status
             FROM client_requests ORDER BY chat_id, message_id",
        )
        .unwrap();
    let requests = stmt
        .query_map([], |r| {
            let answered: Option<i64> = r.get(3)?;
            let breached_at: Option<i64> = r.get(7)?;
            Ok(serde_json::json!({
                "message_id": r.get::<_, i64>(0)?,
                "client_id": r.get::<_, i64>(1)?,
                "received_at": r.get::<_, i64>(2)?,
                "answered_at": answered,
                "answered_by": r.get::<_, Option<i64>>(4)?,
                "working_minutes": if answered.is_some() { r.get::<_, Option<i64>>(5)? } else { None },
                "breached_at": breached_at.filter(|&b| b <= end),
                "status": r.get::<_, String>(8)?,
            }))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let mut stmt = c
        .prepare(
            "SELECT r.message_id, a.kind, a.level, a.due_at FROM sla_alerts a
             JOIN client_requests r ON r.id = a.request_id WHERE a.due_at <= ?1
             ORDER BY r.message_id, a.level, a.kind",
        )
        .unwrap();
    let alerts = stmt
        .query_map([end], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (requests, alerts)
}

/// What `buhbot replay --format json` reports for `export`, in the shape
/// of [`db_state`]: requests (status "open" or "answered") and alerts.
pub fn replay_report(s: &Setup, export: &Path) -> (Vec<Value>, Vec<AlertRow>) {
    let out = crate::buhbot()
        .args([
            "replay",
            "--config",
            s.config.to_str().unwrap(),
            "--format",
            "json",
        ])
        .arg(export)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    let expected: Vec<Value> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let answered = rfc(&r["answered_at"]);
            serde_json::json!({
                "message_id": r["message_id"],
                "client_id": r["client_id"],
                "received_at": rfc(&r["received_at"]),
                "answered_at": answered,
                "answered_by": r["answered_by"],
                "working_minutes": if answered.is_some() { r["working_minutes"].clone() } else { Value::Null },
                "breached_at": rfc(&r["breached_at"]),
                "status": if answered.is_some() { "answered" } else { "open" },
            })
        })
        .collect();
    let mut expected_alerts: Vec<AlertRow> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let id = r["message_id"].as_i64().unwrap();
            r["alerts"].as_array().unwrap().iter().map(move |a| {
                (
                    id,
                    a["kind"].as_str().unwrap().to_string(),
                    a["level"].as_i64().unwrap(),
                    rfc(&a["at"]).unwrap(),
                )
            })
        })
        .collect();
    expected_alerts.sort_by(|a, b| (a.0, a.2, &a.1).cmp(&(b.0, b.2, &b.1)));
    (expected, expected_alerts)
}

fn rfc(t: &Value) -> Option<i64> {
    t.as_str()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp())
}

#[test]
fn the_daemon_ends_with_what_replay_reports() {
    let s = setup("");
    let export = PathBuf::from(manifest("data/examples/chat-export.json"));
    let (child, end) = replayed(&s, &export);
    assert!(stop(child).success(), "{}", log_tail(&s));

    let (expected, expected_alerts) = replay_report(&s, &export);
    let (requests, alerts) = db_state(&s.db, end);
    assert_eq!(requests, expected);
    assert!(!expected_alerts.is_empty());
    assert_eq!(alerts, expected_alerts);

    // Every alert has exactly one log delivery, and those due by the end
    // were sent (alerts after the end keep firing until the stop).
    let c = read_only(&s.db);
    let (alerts_total, deliveries_total, unsent_by_end): (i64, i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM sla_alerts), (SELECT count(*) FROM alert_deliveries),
                    (SELECT count(*) FROM alert_deliveries d JOIN sla_alerts a ON a.id = d.alert_id
                     WHERE a.due_at <= ?1 AND d.status <> 'sent')",
            [end],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(alerts_total, deliveries_total);
    assert_eq!(unsent_by_end, 0);
    let prom = std::fs::read_to_string(s.dir.path().join("metrics/buhbot.prom")).unwrap();
    assert!(prom.contains("buhbot_requests_opened_total"), "{prom}");
    // The file node_exporter will read passes Prometheus' own linter.
    let mut check = std::process::Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), prom.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let export = data.path().join("synthetic.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&export).unwrap());
    buhbot::export::synth::write_synthetic(&mut f, 4000, 11).unwrap();
    drop(f);
    let (n, end) = export_extent(&export);
    // Speed 3e5: the export's six weeks take about twelve seconds of the
    // virtual clock, so the kills below land while events, timers and
    // deliveries are in flight (at full speed the whole replay was over
    // before the first kill).
    let source = format!("replay:{}?speed=3e5", export.display());

    let reference = setup("");
    let mut child = start(&reference, &source, "daemon.log");
    wait_done(&reference, n, end, &mut child, Duration::from_secs(300));
    let status = stop(child);
    assert!(status.success(), "{status}: {}", log_tail(&reference));
    let expected = db_state(&reference.db, end);
    assert!(
        expected.0.len() > 100 && expected.1.len() > 100,
        "a meaningful workload"
    );

    let crashed = setup("");
    // A fixed pseudo-random sequence of kill delays (reproducible).
    let mut seed: u64 = 0x5eed;
    let kills = 20;
    // Events processed when each kill landed: kills mid-replay are the
    // ones that test recovery of half-done work.
    let mut mid_replay = 0;
    for _ in 0..kills {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(100 + (seed >> 33) % 700);
        let mut child = start(&crashed, &source, "daemon.log");
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let processed: u64 = crashed
            .db
            .exists()
            .then(|| {
                read_only(&crashed.db)
                    .query_row("SELECT position FROM transport_state", [], |r| {
                        r.get::<_, String>(0)
                    })
                    .ok()
            })
            .flatten()
            .and_then(|p| p.split('@').next()?.parse().ok())
            .unwrap_or(0);
        eprintln!("kill after {delay:?}: {processed} of {n} events processed");
        if processed > 0 && processed < n {
            mid_replay += 1;
        }
    }
    let mut child = start(&crashed, &source, "daemon.log");
    wait_done(&crashed, n, end, &mut child, Duration::from_secs(300));
    let status = stop(child);
    assert!(status.success(), "{status}: {}", log_tail(&crashed));
    assert!(
        mid_replay >= kills / 2,
        "only {mid_replay} of {kills} kills landed while the replay was half done"
    );

    let got = db_state(&crashed.db, end);
    assert_eq!(got.0, expected.0, "requests differ after {kills} kills");
    assert_eq!(got.1, expected.1, "alerts differ after {kills} kills");
    let c = read_only(&crashed.db);
    let logged: i64 = c
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(logged as u64, n, "every message logged exactly once");
    let (alerts, deliveries): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM sla_alerts), (SELECT count(*) FROM alert_deliveries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(alerts, deliveries, "one log delivery per alert, none twice");
}

#[test]
fn sighup_reloads_the_configuration_and_retimes_open_requests() {
    let s = setup("");
    let events = s.dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        r#"{"chat_id": -1001987654321, "message_id": 1, "date": "2025-01-13T07:00:00Z", "from": 5000001, "text": "Где акт сверки?"}
"#,
    )
    .unwrap();
    let mut child = start(&s, &format!("replay:{}", events.display()), "daemon.log");
    let breach_due = |s: &Setup| -> Option<i64> {
        read_only(&s.db)
            .query_row("SELECT due_at FROM timers WHERE kind = 'breach'", [], |r| {
                r.get(0)
            })
            .ok()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(s.db.exists() && breach_due(&s).is_some()) {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "{}",
            log_tail(&s)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        breach_due(&s),
        Some(1_736_755_200),
        "10:00 + 60 working minutes"
    );

    let good = std::fs::read_to_string(&s.config).unwrap();
    let hup = |child: &Daemon| unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    // A broken configuration is rejected and the running one kept.
    std::fs::write(&s.config, format!("{good}\n[sla]\nthreshold_minutes = 0\n")).unwrap();
    hup(&child);
    let wait_log = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap_or_default();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log: {}",
                log_tail(&s)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let log = wait_log("reload rejected");
    assert!(
        log.contains("sla.threshold_minutes"),
        "the problem is named"
    );
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(breach_due(&s), Some(1_736_755_200));

    // A good one re-times the open request: 30 minutes from 10:00.
    std::fs::write(
        &s.config,
        format!("{good}\n[sla]\nthreshold_minutes = 30\n"),
    )
    .unwrap();
    hup(&child);
    wait_log("configuration reloaded");
    assert_eq!(breach_due(&s), Some(1_736_753_400));
    let status = stop(child);
    assert!(status.success(), "{status}");
}
