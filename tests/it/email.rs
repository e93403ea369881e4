//! The e-mail sink against a real SMTP server (aiosmtpd on loopback).

pub mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::config::{Secret, SecretError, credential_in};
use buhbot::domain::render::AlertText;
use buhbot::domain::sla::AlertKind;
use buhbot::sinks::{
    AlertSink, Cause, Channel, EmailConfigError, EmailSettings, EmailSink, LogSink, Outgoing,
    SentReceipt, TlsMode,
};
use chrono::DateTime;
use mailparse::{MailHeaderMap, ParsedMail};
use server::{SmtpServer, free_port};

const FROM: &str = "БухБот <bot@firm.ru>";
const WAIT: Duration = Duration::from_secs(5);

fn alert() -> AlertText<'static> {
    AlertText {
        kind: AlertKind::Breach,
        level: 1,
        chat_title: "ООО «Ромашка» & Ко",
        client_name: "Иван Петров",
        received_at: DateTime::parse_from_rfc3339("2025-01-13T07:00:00Z")
            .unwrap()
            .into(),
        timezone: chrono_tz::Europe::Moscow,
        waiting_minutes: 61,
        threshold_minutes: 60,
        message: "Добрый день! Пришлите, пожалуйста, акт сверки <за декабрь>.",
        preview_chars: 500,
    }
}

fn outgoing(delivery_id: i64, recipient: &str) -> Outgoing {
    let text = alert();
    Outgoing {
        delivery_id,
        recipient: recipient.to_string(),
        subject: text.subject(),
        html: text.html(),
        plain: text.plain(),
    }
}

fn settings(host: &str, port: u16) -> EmailSettings {
    EmailSettings {
        host: host.to_string(),
        port,
        tls: TlsMode::None,
        username: None,
        password: None,
        from: FROM.to_string(),
        timeout: Duration::from_secs(5),
    }
}

fn sink(port: u16) -> EmailSink {
    EmailSink::new(settings("127.0.0.1", port)).expect("valid settings")
}

/// Decoded body of the first part with this MIME type.
fn part_body(mail: &ParsedMail<'_>, mimetype: &str) -> Option<String> {
    if mail.ctype.mimetype == mimetype {
        return Some(mail.get_body().unwrap());
    }
    mail.subparts.iter().find_map(|p| part_body(p, mimetype))
}

fn header(mail: &ParsedMail<'_>, name: &str) -> String {
    mail.headers
        .get_first_value(name)
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn sent_alert_arrives_decoded() {
    let server = SmtpServer::start();
    let receipt = sink(server.port)
        .send(&outgoing(42, "buh@firm.ru"))
        .await
        .unwrap();
    assert_eq!(
        receipt,
        SentReceipt::Sent {
            id: Some("<buhbot.delivery-42@firm.ru>".into())
        }
    );

    let raw = server.wait_messages(1, WAIT);
    assert_eq!(raw.len(), 1);
    let mail = mailparse::parse_mail(&raw[0]).unwrap();
    assert_eq!(header(&mail, "To"), "buh@firm.ru");
    assert_eq!(header(&mail, "From"), FROM);
    assert_eq!(header(&mail, "Subject"), alert().subject());
    assert_eq!(header(&mail, "Message-ID"), "<buhbot.delivery-42@firm.ru>");
    assert_eq!(mail.ctype.mimetype, "multipart/alternative");

    let plain = part_body(&mail, "text/plain").expect("plain part");
    assert_eq!(plain.replace("\r\n", "\n"), alert().plain());
    let html = part_body(&mail, "text/html").expect("html part");
    assert!(html.contains("Нарушен срок ответа клиенту"), "{html}");
    assert!(
        html.contains("&lt;за декабрь&gt;"),
        "user text stays escaped: {html}"
    );
    assert!(html.contains("<b>Клиент:</b> Иван Петров"), "{html}");
}

#[tokio::test]
async fn each_recipient_gets_its_own_message() {
    let server = SmtpServer::start();
    let sink: Arc<dyn AlertSink> = Arc::new(sink(server.port));
    let recipients = ["a@firm.ru", "b@firm.ru", "Главбух <c@firm.ru>"];
    for (i, to) in recipients.iter().enumerate() {
        sink.send(&outgoing(i as i64, to)).await.unwrap();
    }

    let raw = server.wait_messages(recipients.len(), WAIT);
    let mut to: Vec<String> = raw
        .iter()
        .map(|m| header(&mailparse::parse_mail(m).unwrap(), "To"))
        .collect();
    to.sort();
    assert_eq!(to, ["a@firm.ru", "b@firm.ru", "Главбух <c@firm.ru>"]);
}

#[tokio::test]
async fn server_down_is_transient_and_a_later_attempt_succeeds() {
    let port = free_port();
    let sink = sink(port);
    let msg = outgoing(7, "buh@firm.ru");

    let started = Instant::now();
    let err = sink.send(&msg).await.unwrap_err();
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    assert!(
        err.is_transient() && err.channel == Channel::Email && err.recipient == "buh@firm.ru",
        "{err:?}"
    );
    assert!(
        err.to_string().contains("refused"),
        "names the cause: {err}"
    );

    let server = SmtpServer::start_on(port);
    sink.send(&msg).await.expect("send once the server is up");
    assert_eq!(server.wait_messages(1, WAIT).len(), 1);
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let server = SmtpServer::start_rejecting();
    let err = sink(server.port)
        .send(&outgoing(3, "buh@firm.ru"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        matches!(
            err.cause,
            Cause::SmtpReply {
                code: 500..=599,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("500"), "{err}");
}

#[tokio::test]
async fn invalid_recipient_is_permanent() {
    let err = sink(free_port())
        .send(&outgoing(1, "not an address"))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn log_sink_is_an_alert_sink_too() {
    let sink: Arc<dyn AlertSink> = Arc::new(LogSink);
    assert_eq!(sink.channel(), Channel::Log);
    assert_eq!(
        sink.send(&outgoing(1, "ops")).await.unwrap(),
        SentReceipt::Sent { id: None }
    );
}

#[test]
fn plaintext_to_a_remote_host_is_rejected() {
    let err = EmailSink::new(settings("smtp.firm.ru", 25)).unwrap_err();
    assert!(
        matches!(&err, EmailConfigError::PlaintextToRemote { host } if host == "smtp.firm.ru"),
        "{err:?}"
    );
    let err = EmailSink::new(settings("192.168.1.10", 25)).unwrap_err();
    assert!(
        matches!(err, EmailConfigError::PlaintextToRemote { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_sender_and_half_credentials_are_rejected() {
    let mut bad_from = settings("localhost", 25);
    bad_from.from = "БухБот".to_string();
    assert!(matches!(
        EmailSink::new(bad_from),
        Err(EmailConfigError::InvalidFrom { .. })
    ));

    let mut half = settings("localhost", 25);
    half.username = Some("bot".to_string());
    assert!(matches!(
        EmailSink::new(half),
        Err(EmailConfigError::HalfCredentials { .. })
    ));
}

#[tokio::test]
async fn debug_never_prints_the_password() {
    let mut s = settings("smtp.firm.ru", 587);
    s.tls = TlsMode::StartTls;
    s.username = Some("bot@firm.ru".to_string());
    s.password = Some(Secret::new("s3cr3t-пароль"));
    let shown = format!("{s:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    let sink = EmailSink::new(s).unwrap();
    assert!(!format!("{sink:?}").contains("s3cr3t"));
}

#[test]
fn credential_prefers_the_credentials_directory() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("smtp-password"), "from-systemd\n").unwrap();
    let explicit = creds.path().join("explicit");
    std::fs::write(&explicit, "from-config\n").unwrap();

    let got = credential_in(Some(creds.path()), "smtp-password", Some(&explicit)).unwrap();
    assert_eq!(got.unwrap().expose(), "from-systemd");
    // Directory set but without that credential: the explicit file.
    let got = credential_in(Some(creds.path()), "telegram-token", Some(&explicit)).unwrap();
    assert_eq!(got.unwrap().expose(), "from-config");
    let got = credential_in(None, "smtp-password", Some(&explicit)).unwrap();
    assert_eq!(got.unwrap().expose(), "from-config");
    assert!(
        credential_in(None, "smtp-password", None)
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        credential_in(Some(creds.path()), "../etc/passwd", None),
        Err(SecretError::BadName { .. })
    ));
}

#[test]
fn secret_file_errors_name_the_path_only() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-password");
    let err = credential_in(None, "smtp-password", Some(&missing)).unwrap_err();
    assert!(err.to_string().contains("missing-password"), "{err}");

    let binary = dir.path().join("binary");
    std::fs::write(&binary, b"top\xffsecret").unwrap();
    let err = buhbot::config::read_secret_file(&binary)
        .unwrap_err()
        .to_string();
    assert!(err.contains("binary") && !err.contains("secret\""), "{err}");
    assert!(!err.contains("top"), "{err}");
}
