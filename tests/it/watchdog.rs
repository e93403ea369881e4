//! The progress-gated watchdog on the real binary: while every loop beats,
//! `WATCHDOG=1` reaches the notify socket; once the test signal has wedged
//! the ingest loop (here while a replay waits for its virtual clock, the
//! state the e2e check catches it in) the pings stop, the stalled loop is
//! named in the log, and the process stays up for systemd to kill.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::daemon::{log_tail, setup, start_with_args, stop};

/// Notify messages received until `until`.
fn collect(socket: &UnixDatagram, until: Instant) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    got
}

fn pings(messages: &[String]) -> usize {
    messages
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count()
}

#[test]
fn a_wedged_ingest_loop_stops_the_watchdog_pings() {
    let s = setup("");
    let export = format!(
        "{}/data/examples/chat-export.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let socket_path = s.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // WatchdogSec=4s: a ping every 2 s, a loop stalled after 2 s.
    let mut child = start_with_args(
        &s,
        // Slow enough that the replay still waits for its clock when wedged.
        &format!("replay:{export}?speed=20000"),
        &["--wedge-on-usr1"],
        "daemon.log",
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "4000000"),
        ],
    );
    let mut start = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !start.iter().any(|m: &String| m.contains("READY=1")) {
        start.extend(collect(
            &socket,
            Instant::now() + Duration::from_millis(200),
        ));
    }
    assert!(
        start.iter().any(|m| m.contains("READY=1")),
        "no READY=1: {start:?}\n{}",
        log_tail(&s)
    );
    // Healthy: a ping every 2 s.
    let before = collect(&socket, Instant::now() + Duration::from_secs(5));
    assert!(pings(&before) >= 2, "healthy but no pings: {before:?}");

    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    // The stall is seen within two ping periods; after that, silence.
    let settling = collect(&socket, Instant::now() + Duration::from_secs(5));
    let after = collect(&socket, Instant::now() + Duration::from_secs(6));
    assert_eq!(
        pings(&after),
        0,
        "pings went on after the wedge: {after:?} (settling: {settling:?})"
    );
    assert!(child.try_wait().unwrap().is_none(), "the daemon exited");
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("ingest loop wedged on request"),
        "{}",
        log_tail(&s)
    );
    assert!(
        log.lines()
            .any(|l| l.contains("withholding the systemd watchdog ping") && l.contains("ingest")),
        "the stalled loop is not named: {}",
        log_tail(&s)
    );
    // A wedged daemon still stops on SIGTERM within the drain deadline.
    let status = stop(child);
    assert!(status.success(), "{status:?}");
}
