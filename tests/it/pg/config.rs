//! `[postgres]` through `buhbot check-config`: what is configured, and
//! every problem with its key and file, exit 78, no password printed.

use super::cluster::TestCa;
use super::write;
use crate::buhbot;

/// Runs check-config on `toml`; (exit code, stdout + stderr, file path).
fn check(toml: &str, credentials: Option<&std::path::Path>) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca = write(
        dir.path(),
        "ca.pem",
        &TestCa::generate("check-config CA").ca_pem,
    );
    let not_pem = write(dir.path(), "not-pem.crt", "not a certificate\n");
    let toml = toml
        .replace("CA_FILE", &ca.display().to_string())
        .replace("NOT_PEM", &not_pem.display().to_string());
    let file = write(dir.path(), "buhbot.toml", &toml);
    let mut cmd = buhbot();
    cmd.arg("--config").arg(&file).arg("check-config");
    if let Some(creds) = credentials {
        cmd.env("CREDENTIALS_DIRECTORY", creds);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text, file.display().to_string())
}

#[test]
fn an_absent_section_means_not_configured() {
    let (code, text, _) = check("[sla]\nthreshold_minutes = 30\n", None);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("postgres: not configured"), "{text}");
}

#[test]
fn a_valid_section_is_described_with_its_defaults() {
    let creds = tempfile::tempdir().unwrap();
    write(creds.path(), "postgres_password", "cr3d-S3cret\n");
    let (code, text, _) = check(
        "[postgres]\nurl = \"postgresql://buhbot_daemon@db.example.ru:6543/firm\"\nca_file = \"CA_FILE\"\n",
        Some(creds.path()),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("postgres: buhbot_daemon@db.example.ru:6543/firm (sslmode verify-full, CA ")
            && text.contains("pool 4, push every 1s, pull every 5s, password set"),
        "{text}"
    );
    assert!(!text.contains("cr3d-S3cret"), "{text}");

    let (code, text, _) = check(
        "[postgres]\nhost = \"localhost\"\nsslmode = \"disable\"\npool_size = 10\n",
        None,
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("buhbot_daemon@localhost:5432/postgres (sslmode disable)")
            && text.contains("pool 10")
            && text.contains("password not set"),
        "{text}"
    );
}

#[test]
fn problems_name_key_and_file_and_exit_78() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[postgres]\nhost = \"db.example.ru\"\n",
            "postgres.ca_file",
            "missing",
        ),
        (
            "[postgres]\nhost = \"db.example.ru\"\nsslmode = \"verify-ca\"\nca_file = \"CA_FILE\"\n",
            "postgres.sslmode",
            "expected verify-full, require or disable",
        ),
        (
            "[postgres]\nhost = \"db.example.ru\"\nca_file = \"/nonexistent/ca.pem\"\n",
            "postgres.ca_file",
            "/nonexistent/ca.pem does not exist",
        ),
        (
            "[postgres]\nhost = \"db.example.ru\"\nca_file = \"NOT_PEM\"\n",
            "postgres.ca_file",
            "holds no PEM certificate",
        ),
        (
            "[postgres]\nhost = \"db.example.ru\"\nca_file = \"CA_FILE\"\npool_size = 11\n",
            "postgres.pool_size",
            "between 1 and 10, got 11",
        ),
        (
            "[postgres]\nhost = \"db.example.ru\"\nsslmode = \"disable\"\n",
            "postgres.sslmode",
            "only allowed to a loopback host",
        ),
        ("[postgres]\nport = 5432\n", "postgres.host", "missing"),
        (
            "[postgres]\nurl = \"postgres://h/db\"\nhost = \"h\"\nsslmode = \"disable\"\n",
            "postgres.url",
            "not both",
        ),
        (
            "[postgres]\nhost = \"localhost\"\nsslmode = \"disable\"\npassword_file = \"/nonexistent/pw\"\n",
            "postgres.password_file",
            "/nonexistent/pw",
        ),
        (
            "[postgres]\nhost = \"localhost\"\nsslmode = \"disable\"\npush_interval_seconds = 0\n",
            "postgres.push_interval_seconds",
            "between 1 and 3600",
        ),
    ];
    for (toml, key, message) in cases {
        let (code, text, file) = check(toml, None);
        assert_eq!(code, Some(78), "{toml}: {text}");
        assert!(
            text.contains(&format!("{file}: {key}: ")) && text.contains(message),
            "{toml}: expected {key}: {message}, got {text}"
        );
    }
}

/// The password never comes from the configuration file: refused with a
/// message saying where it goes, and never echoed.
#[test]
fn a_password_in_the_file_is_refused_and_not_printed() {
    for toml in [
        "[postgres]\nhost = \"localhost\"\nsslmode = \"disable\"\npassword = \"in-F1le-S3cret\"\n",
        "[postgres]\nurl = \"postgres://buhbot_daemon:in-F1le-S3cret@localhost/db\"\nsslmode = \"disable\"\n",
    ] {
        let (code, text, file) = check(toml, None);
        assert_eq!(code, Some(78), "{text}");
        assert!(
            !text.contains("in-F1le-S3cret"),
            "the password was printed: {text}"
        );
        let key = if toml.contains("url") {
            "postgres.url"
        } else {
            "postgres.password"
        };
        assert!(
            text.contains(&format!("{file}: {key}: ")) && text.contains("postgres_password"),
            "{text}"
        );
    }
}

#[test]
fn standby_is_described_and_a_bad_lock_name_is_refused() {
    let base = "[postgres]\nhost = \"localhost\"\nsslmode = \"disable\"\n";
    let (code, text, _) = check(&format!("{base}standby = true\n"), None);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("hot standby (lock \"buhbot\""), "{text}");
    let (code, text, _) = check(
        &format!("{base}standby = false\nstandby_lock = \"x\"\n"),
        None,
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("hot standby"), "{text}");
    let (code, text, file) = check(
        &format!("{base}standby = true\nstandby_lock = \"\"\n"),
        None,
    );
    assert_eq!(code, Some(78), "{text}");
    assert!(
        text.contains("postgres.standby_lock") && text.contains(&file),
        "{text}"
    );
    let (code, text, _) = check(&format!("{base}standby = \"yes\"\n"), None);
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("postgres.standby"), "{text}");
}
