//! Alerts by e-mail through the running daemon, against a real SMTP server
//! on loopback: a server that is down at first means retries, not loss;
//! and the SMTP password never reaches the log.

use std::time::{Duration, Instant};

use crate::daemon::{log_tail, read_only, setup, start_with_env, stop};
use crate::email::server::{SmtpServer, free_port};

/// One client request on Monday 10:00 Moscow time, as a JSON-lines replay.
fn one_request(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("events.jsonl");
    std::fs::write(
        &path,
        r#"{"chat_id": -1001987654321, "message_id": 1, "date": "2025-01-13T07:00:00Z", "from": 5000001, "from_name": "Иван Петров", "text": "Добрый день! Пришлите, пожалуйста, акт сверки <за 2024>"}
"#,
    )
    .unwrap();
    path
}

fn email_config(port: u16, extra: &str) -> String {
    format!(
        r#"
[sla]
threshold_minutes = 1
warning_percent = 0
max_escalations = 1
[alerts]
retry_initial_seconds = 1
retry_max_seconds = 2
[email]
host = "127.0.0.1"
port = {port}
tls = "none"
from = "БухБот <bot@example.ru>"
timeout_seconds = 2
accountants = ["buh@example.ru"]
managers = ["boss@example.ru"]
{extra}
"#
    )
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn failed_attempts(db: &std::path::Path) -> i64 {
    read_only(db)
        .query_row(
            "SELECT coalesce(min(attempts), 0) FROM alert_deliveries WHERE sink = 'email'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

#[test]
fn a_breach_is_mailed_to_accountants_and_managers_after_the_server_comes_up() {
    let port = free_port();
    let s = crate::daemon::setup(&email_config(port, ""));
    let events = one_request(s.dir.path());
    // Speed 60: the breach at 10:01 virtual time comes one real second in.
    let mut child = start_with_env(
        &s,
        &format!("replay:{}?speed=60", events.display()),
        "daemon.log",
        &[],
    );
    wait_for(
        "failed e-mail attempts while the server is down",
        Duration::from_secs(30),
        || {
            assert!(child.try_wait().unwrap().is_none(), "{}", log_tail(&s));
            s.db.exists() && failed_attempts(&s.db) >= 2
        },
    );
    let server = SmtpServer::start_on(port);
    let mails = server.wait_messages(2, Duration::from_secs(30));
    assert!(stop(child).success(), "{}", log_tail(&s));

    let mut to: Vec<String> = mails
        .iter()
        .map(|m| {
            let parsed = mailparse::parse_mail(m).unwrap();
            use mailparse::MailHeaderMap;
            let subject = parsed.headers.get_first_value("Subject").unwrap();
            assert!(subject.contains("Нарушен срок ответа"), "{subject}");
            assert!(subject.contains("ООО Ромашка"), "{subject}");
            let body = parsed.subparts[0].get_body().unwrap();
            assert!(
                body.contains("акт сверки <за 2024>"),
                "plain text keeps the message: {body}"
            );
            let html = parsed.subparts[1].get_body().unwrap();
            assert!(html.contains("&lt;за 2024&gt;"), "HTML escapes it: {html}");
            parsed.headers.get_first_value("To").unwrap()
        })
        .collect();
    to.sort();
    assert_eq!(to, ["boss@example.ru", "buh@example.ru"]);
    let c = read_only(&s.db);
    let (sent, alerts): (i64, i64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM alert_deliveries WHERE sink = 'email' AND status = 'sent'),
                    (SELECT count(*) FROM sla_alerts)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((sent, alerts), (2, 1), "one alert, two e-mails, none twice");
}

#[test]
fn the_smtp_password_never_appears_in_the_log() {
    let port = free_port();
    let s = setup(&email_config(port, "username = \"bot\""));
    let creds = s.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    let secret = "Sup3r-Secret-Passw0rd-42";
    std::fs::write(creds.join("smtp_password"), format!("{secret}\n")).unwrap();
    let events = one_request(s.dir.path());
    let mut child = start_with_env(
        &s,
        &format!("replay:{}?speed=60", events.display()),
        "daemon.log",
        &[
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
            ("BUHBOT_LOG", "trace"),
        ],
    );
    wait_for("failed e-mail attempts", Duration::from_secs(30), || {
        assert!(child.try_wait().unwrap().is_none(), "{}", log_tail(&s));
        s.db.exists() && failed_attempts(&s.db) >= 3
    });
    assert!(stop(child).success());
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("alert delivery failed"),
        "the failures are logged"
    );
    assert!(!log.contains(secret), "the password leaked into the log");
    let errors: Vec<String> = read_only(&s.db)
        .prepare("SELECT coalesce(last_error, '') FROM alert_deliveries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(errors.iter().all(|e| !e.contains(secret)));
}

#[test]
fn a_5xx_reply_fails_the_delivery_at_once_logged_with_its_reason() {
    let server = SmtpServer::start_rejecting();
    let s = setup(&email_config(server.port, ""));
    let events = one_request(s.dir.path());
    let mut child = start_with_env(
        &s,
        &format!("replay:{}?speed=60", events.display()),
        "daemon.log",
        &[],
    );
    let failed = |db: &std::path::Path| -> i64 {
        read_only(db)
            .query_row(
                "SELECT count(*) FROM alert_deliveries WHERE sink = 'email' AND status = 'failed'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0)
    };
    wait_for(
        "both e-mail deliveries failed",
        Duration::from_secs(30),
        || {
            assert!(child.try_wait().unwrap().is_none(), "{}", log_tail(&s));
            s.db.exists() && failed(&s.db) == 2
        },
    );
    assert!(stop(child).success(), "{}", log_tail(&s));
    let rows: Vec<(i64, String)> = read_only(&s.db)
        .prepare("SELECT attempts, failure_reason FROM alert_deliveries WHERE sink = 'email'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (attempts, reason) in &rows {
        // A failed delivery is never picked again: one attempt is final.
        assert_eq!(*attempts, 1, "{rows:?}");
        assert!(reason.starts_with("smtp_5"), "{rows:?}");
    }
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("will not be delivered"))
        .collect();
    assert_eq!(lines.len(), 2, "one error line per delivery: {log}");
    assert!(lines.iter().all(|l| l.contains("smtp_5")), "{log}");
    assert!(!log.contains("will retry"), "{log}");
}
