//! `buhbot run` on its default source, Telegram, with Telegram unreachable
//! (the stored session's home data center is a closed loopback port):
//! missing credentials are a configuration error; with credentials the
//! daemon keeps retrying, says so in STATUS= and the metrics, never sends
//! READY=1, never prints a secret, and stops cleanly on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::daemon::{log_tail, setup, start_with_env, stop};
use super::telegram_check::{HASH, TOKEN, seed_unreachable_dc};

#[test]
fn missing_credentials_stop_the_daemon_with_exit_78() {
    let s = setup("");
    let out = crate::buhbot()
        .args(["run", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    for key in [
        "telegram.api_id",
        "telegram.api_hash_file",
        "telegram.bot_token_file",
    ] {
        assert!(err.contains(key), "{key} not named: {err}");
    }
    assert!(
        err.contains(s.config.to_str().unwrap()),
        "file not named: {err}"
    );
}

#[test]
fn unreachable_telegram_is_not_ready_and_says_so() {
    let s = setup("");
    seed_unreachable_dc(&s.db);
    let creds = s.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("telegram_bot_token"), TOKEN).unwrap();
    std::fs::write(creds.join("telegram_api_hash"), HASH).unwrap();
    let mut toml = std::fs::read_to_string(&s.config).unwrap();
    toml = toml.replace("[telegram]\n", "[telegram]\napi_id = 12345\n");
    std::fs::write(&s.config, toml).unwrap();
    let socket_path = s.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let child = start_with_env(
        &s,
        "telegram",
        "daemon.log",
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
        ],
    );
    let mut said = Vec::new();
    let metrics = s.dir.path().join("metrics/buhbot.prom");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    // STATUS= comes every 5 s: wait for one that reports the outage.
    while Instant::now() < deadline
        && !said
            .iter()
            .any(|m: &String| m.contains("Telegram DISCONNECTED since"))
    {
        if let Ok(n) = socket.recv(&mut buf) {
            said.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    let all = said.join("\n");
    assert!(all.contains("STATUS=connecting to Telegram"), "{all}");
    assert!(all.contains("Telegram DISCONNECTED since"), "{all}");
    assert!(
        !all.contains("READY=1"),
        "READY before any connection: {all}"
    );
    let prom = std::fs::read_to_string(&metrics).unwrap_or_default();
    assert!(
        prom.lines().any(|l| l == "buhbot_telegram_connected 0"),
        "{prom}"
    );
    let status = stop(child);
    assert!(status.success(), "{status:?}");
    // STOPPING=1 after the signal.
    let mut rest = Vec::new();
    while let Ok(n) = socket.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(rest.iter().any(|m| m.contains("STOPPING=1")), "{rest:?}");
    let log = log_tail(&s);
    assert!(
        log.contains("cannot connect to telegram; retrying"),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN) && !log.contains(HASH),
        "a secret leaked"
    );
}
