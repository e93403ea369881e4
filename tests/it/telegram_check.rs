//! `buhbot telegram check` without Telegram: missing credentials are a
//! configuration error (78); given credentials get past that check, and an
//! unreachable data center fails fast with EX_UNAVAILABLE (69) — the
//! store's session points the home DC at a loopback port nobody listens on.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, TcpListener};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use buhbot::store::Store;
use buhbot::telegram::session::StoreSession;
use grammers_client::session::Session;
use grammers_client::session::types::DcOption;

pub(crate) const TOKEN: &str = "7000000001:AAH-test-token-that-must-never-be-printed";
pub(crate) const HASH: &str = "0123456789abcdef0123456789abcdef";

fn check(cfg: &Path, envs: &[(&str, &Path)], extra: &[&str]) -> Output {
    let mut cmd = crate::buhbot();
    cmd.args(["telegram", "check", "--config"])
        .arg(cfg)
        .args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run buhbot")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn missing_credentials_are_a_configuration_error_naming_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("buhbot.toml");
    let db = dir.path().join("db.sqlite");
    std::fs::write(&cfg, format!("[store]\npath = \"{}\"\n", db.display())).unwrap();
    let empty = dir.path().join("no-credentials");
    std::fs::create_dir(&empty).unwrap();
    let o = check(&cfg, &[("CREDENTIALS_DIRECTORY", &empty)], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(78), "{err}");
    for key in [
        "telegram.api_id",
        "telegram.api_hash_file",
        "telegram.bot_token_file",
    ] {
        assert!(err.contains(key), "stderr lacks {key}: {err}");
    }
    assert!(err.contains(&cfg.display().to_string()), "{err}");
    assert!(
        !db.exists(),
        "nothing is opened before the credentials check"
    );
}

/// A loopback port that refuses connections.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub(crate) fn seed_unreachable_dc(db: &Path) {
    seed_home_dc(db, closed_port(), None);
}

/// Points the store's session's home DC at a loopback `port`, with
/// `auth_key` if given (the over-the-wire tests' hook, see tests/it/wire).
pub(crate) fn seed_home_dc(db: &Path, port: u16, auth_key: Option<[u8; 256]>) {
    let (store, _) = Store::open_migrated(db).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = StoreSession::open(store).await.unwrap();
        let home = s.home_dc_id().unwrap();
        s.set_dc_option(&DcOption {
            id: home,
            ipv4: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
            ipv6: SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0),
            auth_key,
        })
        .await
        .unwrap();
    });
}

#[test]
fn given_credentials_and_no_telegram_it_fails_fast_with_69() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    seed_unreachable_dc(&db);
    // The token as a systemd credential, the api_hash as a *_file key.
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("telegram_bot_token"), format!("{TOKEN}\n")).unwrap();
    let hash_file = dir.path().join("api_hash");
    std::fs::write(&hash_file, format!("{HASH}\n")).unwrap();
    let cfg = dir.path().join("buhbot.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\npath = \"{}\"\n[telegram]\napi_id = 12345\napi_hash_file = \"{}\"\n",
            db.display(),
            hash_file.display()
        ),
    )
    .unwrap();

    let started = Instant::now();
    let o = check(
        &cfg,
        &[("CREDENTIALS_DIRECTORY", &creds)],
        &["--timeout", "5"],
    );
    let took = started.elapsed();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(69), "stdout: {out}\nstderr: {err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        err.contains("cannot reach Telegram within 5 s"),
        "stderr: {err}"
    );
    for secret in [TOKEN, "AAH-test-token", HASH] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "a secret leaked"
        );
    }
    // Not a configuration error: no credential key is named.
    assert!(!err.contains("telegram.bot_token_file"), "{err}");
}
