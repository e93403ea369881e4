//! Benchmarks of the daemon's durable path (run in release through
//! `scripts/bench-daemon.sh`; figures, never assertions):
//!
//! 1. sustained ingest into the store: synthetic events through the real
//!    engine, 256 per transaction as the ingest loop commits them;
//! 2. ingest latency at 1 000 events/s: one event per transaction on the
//!    blocking pool, paced, p50/p99/max;
//! 3. READY after start with a 1 000 000-request database, the idle
//!    daemon's resident memory, and the time a graceful stop takes;
//! 4. alert lateness (fire time − due time) of a real-time replay;
//! 5. the Telegram source's path: mapped updates through the bridge and
//!    the ingest loop into the store (plain messages, then bot commands,
//!    each a transaction of its own with its queued reply).

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::config::Config;
use buhbot::core::engine::Engine;
use buhbot::core::event::MessageEvent;
use buhbot::domain::sla::SenderKind;
use buhbot::export::{ExportEvent, Sender, read_export};
use buhbot::store::{Store, write_tx};
use chrono::{DateTime, Utc};

fn events(n: u64) -> Vec<MessageEvent> {
    let mut json = Vec::new();
    buhbot::export::synth::write_synthetic(&mut json, n, 3).unwrap();
    let mut out = Vec::new();
    read_export(
        &json[..],
        "synthetic",
        chrono_tz::Europe::Moscow,
        &mut |e| {
            if let ExportEvent::Message(m) = e {
                out.push(MessageEvent {
                    chat_id: -1001987654321,
                    chat_title: None,
                    message_id: m.id,
                    edit_version: 0,
                    date: m.date,
                    sender: match m.sender {
                        Some(Sender::User(u)) => SenderKind::User(u),
                        _ => SenderKind::None,
                    },
                    sender_name: m.sender_name,
                    text: m.text,
                    reply_to: m.reply_to,
                    has_media: m.has_media,
                    attachment: None,
                    service: m.service,
                })
            }
        },
    )
    .unwrap();
    out
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("buhbot.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\npath = \"{}\"\n[metrics]\ntextfile = \"{}\"\ninterval_seconds = 1\n[backup]\nenabled = false\n[[chats]]\nid = -1001987654321\naccountants = [7000001, 7000002]\n{extra}\n",
            dir.join("buhbot.db").display(),
            dir.join("metrics/buhbot.prom").display()
        ),
    )
    .unwrap();
    path
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn sustained_ingest(dir: &Path) {
    let engine = Engine::new(Arc::new(Config::load(Some(&config(dir, ""))).unwrap()));
    let (store, _) = Store::open_migrated(&dir.join("buhbot.db")).unwrap();
    let evs = events(200_000);
    let mut conn = store.conn().unwrap();
    let started = Instant::now();
    for batch in evs.chunks(256) {
        let tx = write_tx(&mut conn).unwrap();
        for e in batch {
            engine.ingest(&tx, e, e.date).unwrap();
        }
        tx.commit().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sustained ingest: {} events in {secs:.2} s = {:.0} events/s (256 per commit)",
        evs.len(),
        evs.len() as f64 / secs
    );
}

fn paced_latency(dir: &Path) {
    let engine = Arc::new(Engine::new(Arc::new(
        Config::load(Some(&config(dir, ""))).unwrap(),
    )));
    let (store, _) = Store::open_migrated(&dir.join("buhbot.db")).unwrap();
    let evs = events(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let latencies = rt.block_on(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut lat = Vec::with_capacity(evs.len());
        for e in evs {
            tick.tick().await;
            let started = Instant::now();
            let engine = engine.clone();
            store
                .run(move |c| {
                    let tx = write_tx(c)?;
                    engine.ingest(&tx, &e, e.date)?;
                    tx.commit()?;
                    Ok(())
                })
                .await
                .unwrap();
            lat.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        lat
    });
    let mut l = latencies;
    l.sort_by(f64::total_cmp);
    println!(
        "ingest latency at 1000 events/s ({} events, one commit each): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        l.len(),
        percentile(&l, 50.0),
        percentile(&l, 99.0),
        l[l.len() - 1]
    );
}

/// A database with a million requests (a year and more of a large firm).
fn big_database(dir: &Path) {
    let (store, _) = Store::open_migrated(&dir.join("buhbot.db")).unwrap();
    let mut c = store.conn().unwrap();
    let tx = write_tx(&mut c).unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO client_requests (chat_id, message_id, client_id, received_at, category, confidence,
                     status, anchor_at, threshold_minutes, deadline_at, answered_at, answered_by, working_minutes, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'REQUEST', 0.9, ?5, ?4, 60, ?4 + 3600, ?6, 7000001, 20, ?4)",
            )
            .unwrap();
        let base = 1_700_000_000i64;
        for i in 0..1_000_000i64 {
            let open = i % 1000 == 0;
            let at = base + i * 30;
            stmt.execute(rusqlite::params![
                -1_001_000_000_000 - (i % 250),
                i,
                5_000_000 + i % 5000,
                at,
                if open { "open" } else { "answered" },
                if open { None } else { Some(at + 1200) }
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("buhbot")
}

fn ready_rss_stop(dir: &Path) {
    let started = Instant::now();
    big_database(dir);
    println!(
        "built a 1 000 000-request database in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let events = dir.join("idle.jsonl");
    std::fs::write(&events, "{\"chat_id\": -1001987654321, \"message_id\": 1, \"date\": \"2025-01-13T07:00:00Z\", \"from\": 5000001, \"text\": \"Где акт?\"}\n").unwrap();
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let cfg = config(dir, "");
    let t0 = Instant::now();
    let mut child = Command::new(binary())
        .args(["run", "--config", cfg.to_str().unwrap(), "--source"])
        .arg(format!("replay:{}", events.display()))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("BUHBOT_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).expect("READY=1 within 30 s");
        if String::from_utf8_lossy(&buf[..n]).contains("READY=1") {
            break;
        }
    }
    println!(
        "READY=1 {:.1} ms after start with 1 000 000 requests in the database",
        t0.elapsed().as_secs_f64() * 1000.0
    );
    std::thread::sleep(Duration::from_secs(5));
    let mut status = String::new();
    std::fs::File::open(format!("/proc/{}/status", child.id()))
        .unwrap()
        .read_to_string(&mut status)
        .unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?");
    println!(
        "idle daemon resident memory: {}",
        rss.trim_start_matches("VmRSS:").trim()
    );
    let t1 = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let exit = child.wait().unwrap();
    println!(
        "graceful stop took {:.1} ms ({exit})",
        t1.elapsed().as_secs_f64() * 1000.0
    );
}

fn lateness(dir: &Path) {
    // 200 requests over 10 s of real time; warnings at 30 s, breaches at
    // 60 s of working time (Monday 10:00 Moscow, all inside hours).
    let events = dir.join("late.jsonl");
    let base: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-01-13T07:00:00Z")
        .unwrap()
        .into();
    let mut lines = String::new();
    for i in 0..200 {
        let at = base + chrono::Duration::milliseconds(i * 50);
        lines.push_str(&format!(
            "{{\"chat_id\": -1001987654321, \"message_id\": {}, \"date\": \"{}\", \"from\": {}, \"text\": \"Где акт сверки?\"}}\n",
            i + 1,
            at.to_rfc3339(),
            5_000_000 + i
        ));
    }
    std::fs::write(&events, lines).unwrap();
    let cfg = config(
        dir,
        "[sla]\nthreshold_minutes = 1\nwarning_percent = 50\nmax_escalations = 1\n[alerts]\nlog = true",
    );
    let mut child = Command::new(binary())
        .args(["run", "--config", cfg.to_str().unwrap(), "--source"])
        .arg(format!("replay:{}", events.display()))
        .env("BUHBOT_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(75));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    let prom = std::fs::read_to_string(dir.join("metrics/buhbot.prom")).unwrap();
    let buckets: Vec<(f64, f64)> = prom
        .lines()
        .filter(|l| l.starts_with("buhbot_timer_lateness_seconds_bucket"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let v: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                },
                v,
            ))
        })
        .collect();
    let total = buckets.iter().map(|b| b.1).fold(0.0, f64::max);
    let p99 = buckets
        .iter()
        .find(|b| b.1 >= total * 0.99)
        .map_or(f64::NAN, |b| b.0);
    println!(
        "alert lateness: {total} alerts fired; p99 at or below the {p99} s bucket ({buckets:?})"
    );
}

fn telegram_path(dir: &Path) {
    use buhbot::bot::RateLimit;
    use buhbot::core::clock::Clock;
    use buhbot::core::shared::Shared;
    use buhbot::daemon::notify::HeartbeatRegistry;
    use buhbot::daemon::telegram::{Bridge, CatchUp, SOURCE};
    use buhbot::telegram::client::Inbound;
    use buhbot::telegram::inbound::InboundEvent;
    use buhbot::telegram::link::{Link, Me};
    use buhbot::telegram::outbound::fake::RecordingApi;
    use std::sync::atomic::Ordering;

    let config = Arc::new(Config::load(Some(&config(dir, "[alerts]\ntelegram = false"))).unwrap());
    let (store, _) = Store::open_migrated(&dir.join("buhbot.db")).unwrap();
    let engine = Engine::from_config_and_store(config, &store.conn().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let shared = Arc::new(Shared::new(store, Clock::System, engine, vec![], true));
        let link = Arc::new(Link::new());
        let me = Me {
            id: 6_000_000,
            username: Some("buh_bot".into()),
            name: "Бухбот".into(),
            privacy_mode: false,
        };
        link.connected(None, me, Utc::now());
        let (ingest_tx, ingest_rx) = tokio::sync::mpsc::channel(1024);
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let beats = HeartbeatRegistry::new();
        let cancel = tokio_util::sync::CancellationToken::new();
        let limit = Arc::new(RateLimit::new(std::num::NonZeroU32::new(1000).unwrap()));
        let bridge = Bridge {
            shared: shared.clone(),
            link,
            api: Arc::new(RecordingApi::new()),
            limit,
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let catch_up = CatchUp::hold(&shared, 0);
        let ingest = tokio::spawn(buhbot::daemon::ingest::run(
            shared.clone(), ingest_rx, SOURCE,
            // FAQ answering on, as the daemon runs on Telegram (no entries).
            Some(buhbot::daemon::ingest::FaqAnswers::new(Arc::new(tokio::sync::Notify::new()))),
            beats.register("ingest"), cancel.clone(),
        ));
        let bridge = tokio::spawn(bridge.run(rx, ingest_tx, catch_up, beats.register("b"), cancel.clone()));
        let inbound = |m: MessageEvent| Inbound {
            date: m.date,
            event: InboundEvent::Message(m),
            mentions: Vec::new(),
            bot_is_admin: None,
        };
        let msgs = events(50_000);
        let n = msgs.len() as u64;
        let started = Instant::now();
        for m in msgs {
            tx.send(inbound(m)).await.unwrap();
        }
        while shared.handled.load(Ordering::Acquire) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!("telegram path: {n} messages in {secs:.2} s = {:.0} events/s (bridge + ingest + store)", n as f64 / secs);
        // Bot commands: each runs in its own transaction and queues a reply.
        let commands = 2_000u64;
        let started = Instant::now();
        for i in 0..commands {
            let m = MessageEvent {
                chat_id: 7_000_001 + (i as i64 % 50),
                chat_title: None,
                message_id: 1_000_000 + i as i64,
                edit_version: 0,
                date: Utc::now(),
                sender: SenderKind::User(7_000_001 + (i as i64 % 50)),
                sender_name: None,
                text: "/mychats".into(),
                reply_to: None,
                has_media: false,
                attachment: None,
                service: false,
            };
            tx.send(inbound(m)).await.unwrap();
        }
        while shared.handled.load(Ordering::Acquire) < n + commands {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!("telegram path: {commands} commands in {secs:.2} s = {:.0} commands/s (each answered through the outbound queue)", commands as f64 / secs);
        cancel.cancel();
        let _ = ingest.await;
        let _ = bridge.await;
    });
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if run("ingest") {
        sustained_ingest(tempfile::tempdir().unwrap().path());
    }
    if run("latency") {
        paced_latency(tempfile::tempdir().unwrap().path());
    }
    if run("ready") {
        ready_rss_stop(tempfile::tempdir().unwrap().path());
    }
    if run("lateness") {
        lateness(tempfile::tempdir().unwrap().path());
    }
    if run("telegram") {
        telegram_path(tempfile::tempdir().unwrap().path());
    }
}
