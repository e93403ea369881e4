use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use super::*;
use crate::logging::journal;
use crate::logging::journal::tests::Capture;

/// A stand-in for systemd's notification socket.
struct Manager {
    socket: UnixDatagram,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Manager {
    fn new() -> Manager {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        Manager {
            socket,
            path,
            _dir: dir,
        }
    }

    fn notifier(&self, watchdog_timeout: Option<Duration>) -> Notifier {
        Notifier::with_socket(&self.path, watchdog_timeout).unwrap()
    }

    /// Every datagram received so far.
    fn drain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => out.push(String::from_utf8(buf[..n].to_vec()).unwrap()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return out,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
}

#[test]
fn exact_datagrams() {
    let m = Manager::new();
    let n = m.notifier(None);
    n.ready("watching 12 chats").unwrap();
    n.status("polling").unwrap();
    n.watchdog_ping().unwrap();
    n.reloaded().unwrap();
    n.stopping().unwrap();
    assert_eq!(
        m.drain(),
        [
            "READY=1\nSTATUS=watching 12 chats",
            "STATUS=polling",
            "WATCHDOG=1",
            "READY=1",
            "STOPPING=1",
        ]
    );
}

#[test]
fn reloading_carries_the_monotonic_timestamp() {
    let m = Manager::new();
    m.notifier(None).reloading().unwrap();
    let got = m.drain();
    let usec = got[0].strip_prefix("RELOADING=1\nMONOTONIC_USEC=").unwrap();
    assert!(usec.parse::<u64>().unwrap() > 0, "{got:?}");
}

#[test]
fn status_cannot_inject_assignments() {
    let m = Manager::new();
    m.notifier(None).status("bad\nWATCHDOG=trigger\r").unwrap();
    assert_eq!(m.drain(), ["STATUS=bad WATCHDOG=trigger "]);
}

#[test]
fn watchdog_interval_is_half_the_timeout() {
    let m = Manager::new();
    assert_eq!(
        m.notifier(Some(Duration::from_secs(30)))
            .watchdog_interval(),
        Some(Duration::from_secs(15))
    );
    assert_eq!(m.notifier(Some(Duration::ZERO)).watchdog_interval(), None);
    assert_eq!(m.notifier(None).watchdog_interval(), None);
}

#[test]
fn disabled_notifier_is_a_no_op() {
    let n = Notifier::disabled();
    assert!(!n.is_enabled());
    n.ready("x").unwrap();
    n.watchdog_ping().unwrap();
    assert_eq!(n.watchdog_interval(), None);
}

#[test]
fn missing_manager_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let n = Notifier::with_socket(dir.path().join("gone"), None).unwrap();
    match n.stopping() {
        Err(NotifyError::Send { message, .. }) => assert_eq!(message, "STOPPING=1"),
        other => panic!("{other:?}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_notify_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("buhbot-test-{}", std::process::id());
    let manager =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    let addr = parse_notify_socket(OsStr::new(&format!("@{name}"))).unwrap();
    let n = Notifier {
        sink: Some(Arc::new(Sink::new(addr).unwrap())),
        watchdog: None,
    };
    n.watchdog_ping().unwrap();
    let mut buf = [0u8; 64];
    let len = manager.recv(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"WATCHDOG=1");
}

#[test]
fn unsupported_notify_sockets() {
    assert!(parse_notify_socket(OsStr::new("vsock:2:1234")).is_err());
    assert!(parse_notify_socket(OsStr::new("relative/path")).is_err());
    assert!(parse_notify_socket(OsStr::new("")).is_err());
}

/// Sleeps `secs` one second at a time, beating `beating` after each.
async fn run_for(secs: u64, beating: &[&Heartbeat]) {
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        beating.iter().for_each(|h| h.beat());
    }
}

#[tokio::test(start_paused = true)]
async fn watchdog_pings_only_while_every_loop_progresses() {
    let logs = Capture::default();
    let writer = logs.clone();
    let _log =
        tracing::subscriber::set_default(journal::subscriber(EnvFilter::new("info"), move || {
            writer.clone()
        }));

    let m = Manager::new();
    let registry = HeartbeatRegistry::new();
    let ingest = registry.register("ingest");
    let scheduler = registry.register("scheduler");
    let cancel = CancellationToken::new();
    // WatchdogSec=10s: ping every 5 s; a loop silent for > 10 s is stalled.
    let task = tokio::spawn(run_watchdog(
        m.notifier(Some(Duration::from_secs(10))),
        registry.clone(),
        Duration::from_secs(10),
        cancel.clone(),
    ));

    // Healthy: pings at t = 0, 5, 10.
    let both = [&ingest, &scheduler];
    run_for(4, &both).await; // t = 4
    assert_eq!(m.drain(), ["WATCHDOG=1"]);
    run_for(2, &both).await; // t = 6
    assert_eq!(m.drain(), ["WATCHDOG=1"]);
    run_for(3, &both).await; // t = 9
    assert!(m.drain().is_empty());
    run_for(3, &both).await; // t = 12, ingest's last beat
    assert_eq!(m.drain(), ["WATCHDOG=1"]);

    // Ingest wedges: still within 10 s at t = 15 and 20, stalled from t = 25.
    run_for(25, &[&scheduler]).await; // t = 37
    assert_eq!(m.drain(), ["WATCHDOG=1", "WATCHDOG=1"]);

    // It recovers: pinged again at t = 40.
    ingest.beat();
    run_for(5, &both).await; // t = 42
    assert_eq!(m.drain(), ["WATCHDOG=1"]);

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("watchdog exits on cancel")
        .unwrap();
    run_for(20, &both).await;
    assert!(m.drain().is_empty());

    let logs = logs.text();
    let stalls: Vec<&str> = logs.lines().filter(|l| l.contains("no progress")).collect();
    assert_eq!(stalls.len(), 1, "warned once: {logs}");
    assert!(stalls[0].starts_with("<4>"), "{logs}");
    assert!(stalls[0].contains("loop_name=ingest"), "{logs}");
    let recoveries: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("progress again"))
        .collect();
    assert_eq!(recoveries.len(), 1, "{logs}");
    assert!(recoveries[0].starts_with("<6>") && recoveries[0].contains("loop_name=ingest"));
    assert!(!logs.contains("scheduler"), "{logs}");
}

#[tokio::test(start_paused = true)]
async fn retired_and_dropped_loops() {
    let m = Manager::new();
    let registry = HeartbeatRegistry::new();
    let finished = registry.register("import");
    let crashed = registry.register("mailer");
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_watchdog(
        m.notifier(Some(Duration::from_secs(10))),
        registry.clone(),
        Duration::from_secs(10),
        cancel.clone(),
    ));
    finished.retire();
    // A panicking task drops its handle; that must not count as retirement.
    drop(crashed);
    run_for(30, &[]).await;
    // t = 0, 5, 10 pinged; from t = 15 "mailer" is stalled.
    assert_eq!(m.drain().len(), 3);
    assert_eq!(
        registry.stalled(tokio::time::Instant::now(), Duration::from_secs(10)),
        BTreeSet::from(["mailer".to_string()])
    );
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_a_watchdog_the_task_just_waits_for_cancel() {
    let m = Manager::new();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_watchdog(
        m.notifier(None),
        HeartbeatRegistry::new(),
        Duration::from_secs(1),
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!task.is_finished());
    cancel.cancel();
    task.await.unwrap();
    assert!(m.drain().is_empty());
}
