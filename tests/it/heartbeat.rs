//! The external heartbeat (issue 14, part 2) against an HTTP server of the
//! test's own on 127.0.0.1: the ok call with its status message while
//! healthy; the failure URL and no ok call while not; an unreachable
//! endpoint retried next interval; a slow one timed out while the loop
//! goes on; and the real binary calling it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use buhbot::config::{HeartbeatSettings, Secret};
use buhbot::core::worker::{StatusBoard, StatusCell, Worker, WorkerContext, WorkerState};
use buhbot::daemon::heartbeat::{CallError, HealthProbe, HeartbeatWorker, agent, call};
use buhbot::daemon::notify::HeartbeatRegistry;
use buhbot::store::Store;
use tokio_util::sync::CancellationToken;

use super::daemon::{log_tail, setup, start, stop};

/// One request as the server saw it: the request line and the body.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    body: String,
}

/// A one-thread HTTP/1.1 server that records every request and answers
/// 200 after `delay`.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(delay: Duration) -> Server {
        Server::on(TcpListener::bind("127.0.0.1:0").unwrap(), delay)
    }

    fn on(listener: TcpListener, delay: Duration) -> Server {
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let log = log.clone();
                std::thread::spawn(move || serve(stream, delay, &log));
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` requests came.
    fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.seen().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests",
                self.seen().len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.seen()
    }
}

fn serve(stream: TcpStream, delay: Duration, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    log.lock().unwrap().push(Seen {
        line: line.trim_end().to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    std::thread::sleep(delay);
    let mut stream = stream;
    let _ =
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    start_id: i64,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let c = store.conn().unwrap();
    c.execute(
        "INSERT INTO starts (version, reason, started_at) VALUES ('0.1.0', 'restart', 0)",
        [],
    )
    .unwrap();
    let start_id = c.last_insert_rowid();
    drop(c);
    Env {
        _dir: dir,
        store,
        start_id,
    }
}

fn settings(url: String, failure_url: Option<String>, timeout: Duration) -> HeartbeatSettings {
    HeartbeatSettings {
        url: Secret::new(url),
        failure_url: failure_url.map(Secret::new),
        interval: Duration::from_millis(200),
        timeout,
    }
}

/// Runs the worker until the returned token is cancelled; `board` is what
/// it reads the other workers' states from.
fn spawn(env: &Env, settings: HeartbeatSettings, board: StatusBoard) -> Running {
    let heartbeats = HeartbeatRegistry::new();
    let cancel = CancellationToken::new();
    let worker = HeartbeatWorker {
        settings,
        probe: HealthProbe {
            heartbeats: heartbeats.clone(),
            stall_after: Duration::from_secs(15),
            link: None,
            board,
            store: env.store.clone(),
            start_id: env.start_id,
        },
    };
    let ctx = WorkerContext {
        heartbeat: heartbeats.unwatched("heartbeat"),
        cancel: cancel.clone(),
        status: StatusCell::default(),
    };
    Running {
        task: tokio::spawn(worker.run(ctx)),
        cancel,
    }
}

struct Running {
    task: tokio::task::JoinHandle<Result<(), buhbot::core::worker::BoxError>>,
    cancel: CancellationToken,
}

impl Running {
    /// Stops it; it must have kept running (no error) until then.
    async fn stop(self) {
        assert!(
            !self.task.is_finished(),
            "the heartbeat loop ended by itself"
        );
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_calls_the_url_with_its_status_message_and_writes_the_store() {
    let env = env();
    let server = Server::start(Duration::ZERO);
    let url = server.url("/api/push/T0k?status={status}&msg={msg}&ping=");
    let run = spawn(
        &env,
        settings(url, None, Duration::from_secs(2)),
        StatusBoard::default(),
    );
    let seen = tokio::task::spawn_blocking(move || server.wait_for(2))
        .await
        .unwrap();
    run.stop().await;
    for s in &seen {
        assert!(
            s.line
                .starts_with("POST /api/push/T0k?status=up&msg=OK%3A%20buhbot%20"),
            "{s:?}"
        );
        assert!(s.line.ends_with("&ping= HTTP/1.1"), "{s:?}");
        assert!(s.body.starts_with("OK: buhbot "), "{s:?}");
    }
    let alive: Option<i64> = env
        .store
        .conn()
        .unwrap()
        .query_row("SELECT alive_at FROM starts", [], |r| r.get(0))
        .unwrap();
    assert!(
        alive.is_some(),
        "the store probe wrote this start's alive_at"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_calls_the_failure_url_not_the_ok_one_until_healthy_again() {
    let env = env();
    let server = Server::start(Duration::ZERO);
    let board = StatusBoard::default();
    let sync = StatusCell::default();
    board.add("sync", sync.clone());
    sync.set(WorkerState::Failing("cannot connect to Postgres".into()));
    let run = spawn(
        &env,
        settings(
            server.url("/ping/abc"),
            Some(server.url("/ping/abc/fail")),
            Duration::from_secs(2),
        ),
        board,
    );
    let s2 = Arc::new(server);
    let s = s2.clone();
    let seen = tokio::task::spawn_blocking(move || s.wait_for(2))
        .await
        .unwrap();
    for s in &seen {
        assert_eq!(s.line, "POST /ping/abc/fail HTTP/1.1", "{s:?}");
        assert_eq!(s.body, "sync failing: cannot connect to Postgres");
    }
    sync.set(WorkerState::Idle);
    let s = s2.clone();
    let n = seen.len();
    let seen = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = s.seen();
            if all
                .iter()
                .skip(n)
                .any(|r| r.line == "POST /ping/abc HTTP/1.1")
            {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "no ok call after recovery: {all:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    run.stop().await;
    // Once healthy again, no failure call follows an ok one.
    let first_ok = seen
        .iter()
        .position(|r| r.line == "POST /ping/abc HTTP/1.1")
        .unwrap();
    assert!(
        seen[first_ok..].iter().all(|r| !r.line.contains("/fail")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_without_a_failure_url_just_stops_calling() {
    let env = env();
    let server = Server::start(Duration::ZERO);
    let board = StatusBoard::default();
    let sync = StatusCell::default();
    board.add("sync", sync.clone());
    sync.set(WorkerState::Failing("refused".into()));
    // Over the store probe: the loop runs, it only does not call.
    let run = spawn(
        &env,
        settings(server.url("/hc/u"), None, Duration::from_secs(2)),
        board,
    );
    let probed = || -> bool {
        env.store
            .conn()
            .unwrap()
            .query_row("SELECT alive_at IS NOT NULL FROM starts", [], |r| r.get(0))
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probed() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Several more intervals.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    sync.set(WorkerState::Idle);
    let s = Arc::new(server);
    let s2 = s.clone();
    let seen = tokio::task::spawn_blocking(move || s2.wait_for(1))
        .await
        .unwrap();
    run.stop().await;
    assert_eq!(seen[0].line, "POST /hc/u HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_retried_next_interval() {
    let env = env();
    // A port nobody listens on (yet).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/p");
    let refused = call(
        &agent(Duration::from_secs(1)),
        &Secret::new(url.clone()),
        "up",
        "x",
        Duration::from_secs(1),
    )
    .await;
    assert!(
        matches!(refused, Err(CallError::Transport(_))),
        "{refused:?}"
    );
    let run = spawn(
        &env,
        settings(url, None, Duration::from_secs(1)),
        StatusBoard::default(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The endpoint comes up: the next interval reaches it.
    let server = Server::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        Duration::ZERO,
    );
    let seen = tokio::task::spawn_blocking(move || server.wait_for(2))
        .await
        .unwrap();
    run.stop().await;
    assert!(
        seen.iter().all(|s| s.line == "POST /p HTTP/1.1"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_times_out_and_the_loop_goes_on() {
    let env = env();
    let server = Server::start(Duration::from_secs(5));
    let url = server.url("/slow");
    let slow = call(
        &agent(Duration::from_millis(300)),
        &Secret::new(url.clone()),
        "up",
        "x",
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(slow, Err(CallError::Timeout(Duration::from_millis(300))));
    let run = spawn(
        &env,
        settings(url, None, Duration::from_millis(150)),
        StatusBoard::default(),
    );
    // Every call times out after 150 ms, and yet they keep coming.
    let seen = tokio::task::spawn_blocking(move || server.wait_for(4))
        .await
        .unwrap();
    run.stop().await;
    assert!(seen.len() >= 4);
}

#[test]
fn the_daemon_calls_the_heartbeat_and_counts_it_in_its_metrics() {
    let server = Server::start(Duration::ZERO);
    let s = setup(&format!(
        "[heartbeat]\nurl = \"{}\"\ninterval_seconds = 5\ntimeout_seconds = 2\n",
        server.url("/push?status={status}&msg={msg}")
    ));
    let check = crate::buhbot()
        .args(["check-config", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(
        said.contains(&format!(
            "heartbeat: http://127.0.0.1:{}/… every 5s (timeout 2s); when unhealthy calls it with {{status}} = down",
            server.port
        )),
        "{said}"
    );
    assert!(
        !said.contains("/push"),
        "the path may hold the token: {said}"
    );
    let events = s.dir.path().join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    let child = start(&s, &format!("replay:{}", events.display()), "daemon.log");
    let seen = server.wait_for(1);
    assert!(
        seen[0].line.starts_with("POST /push?status=up&msg=OK"),
        "{seen:?}"
    );
    let metrics = s.dir.path().join("metrics/buhbot.prom");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&metrics).unwrap_or_default();
        let last = text
            .lines()
            .find_map(|l| l.strip_prefix("buhbot_heartbeat_last_success_timestamp_seconds "))
            .and_then(|v| v.parse::<f64>().ok());
        if last.is_some_and(|v| v > 0.0) {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}\n{}", log_tail(&s));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("buhbot_heartbeat_configured 1"), "{text}");
    assert!(text.contains("buhbot_heartbeat_failures_total 0"), "{text}");
    assert!(stop(child).success(), "{}", log_tail(&s));
}

/// https goes through rustls and verifies the endpoint's certificate
/// against the webpki roots: a self-signed one is refused, by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_spoken_and_an_untrusted_certificate_refused() {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hello = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, stream);
        let mut buf = [0u8; 64];
        // The handshake fails on the client's refusal: no request comes.
        let got = tls.read(&mut buf);
        got.is_err()
    });
    let url = Secret::new(format!("https://127.0.0.1:{port}/p"));
    let t = Duration::from_secs(5);
    let got = call(&agent(t), &url, "up", "x", t).await;
    let Err(CallError::Transport(why)) = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("certificate"), "{why}");
    assert!(hello.join().unwrap(), "the TLS handshake got through");
}
