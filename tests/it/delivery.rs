//! The delivery pipeline of a Telegram alert: queued when handed to the
//! outbound queue, sent only when Telegram confirmed, failed at once (no
//! retry, one error line, one count) when Telegram refuses for good.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buhbot::bot::TelegramSink;
use buhbot::core::clock::Clock;
use buhbot::core::delivery::{AlertSink, Channel, DeliveryStatus, Outgoing, SentReceipt};
use buhbot::metrics::recorder_for_tests;
use buhbot::store::{Store, deliveries};
use buhbot::telegram::outbound::fake::RecordingApi;
use buhbot::telegram::outbound::{
    OutboundConfig, OutboundStatus, SendError, queue, run_outbound_with,
};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

const STAFF: i64 = 123_456;

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Clock,
    sink: TelegramSink,
}

/// A store with one alert delivery (id 1) for a staff member's private
/// chat, and the Telegram sink of that configuration.
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let (store, _) = Store::open_migrated(&db).unwrap();
    let origin: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
    let clock = Clock::virtual_from(origin, 1.0);
    // The delivery alone: its alert and request do not matter here.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    deliveries::insert(
        &raw,
        1,
        Channel::Telegram,
        &STAFF.to_string(),
        origin.timestamp(),
    )
    .unwrap();
    let path = dir.path().join("buhbot.toml");
    std::fs::write(
        &path,
        format!("[[chats]]\nid = -1001234567890\naccountants = [{STAFF}]\n"),
    )
    .unwrap();
    let config = Arc::new(buhbot::config::Config::load(Some(&path)).unwrap());
    let engine = Arc::new(buhbot::core::engine::Engine::new(config));
    let sink = TelegramSink::new(
        store.clone(),
        clock,
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(move || engine.clone()),
    );
    Env {
        _dir: dir,
        store,
        clock,
        sink,
    }
}

fn alert() -> Outgoing {
    Outgoing {
        delivery_id: 1,
        recipient: STAFF.to_string(),
        subject: "SLA".into(),
        html: "<b>SLA</b>".into(),
        plain: "SLA".into(),
    }
}

fn delivery(store: &Store) -> deliveries::DeliveryRow {
    deliveries::get(&store.conn().unwrap(), 1).unwrap().unwrap()
}

/// Runs the sender for `run` of virtual time, then stops it.
async fn send_for(env: &Env, api: &Arc<RecordingApi>, run: Duration) {
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_outbound_with(
        OutboundConfig::default(),
        env.store.clone(),
        api.clone(),
        env.clock,
        cancel.clone(),
        None,
    ));
    tokio::time::sleep(run).await;
    cancel.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_telegram_alert_is_queued_and_sent_only_when_telegram_confirmed() {
    let env = env();
    let receipt = env.sink.send(&alert()).await.unwrap();
    let SentReceipt::Queued { outbound_id } = receipt else {
        panic!("{receipt:?}");
    };
    let d = delivery(&env.store);
    assert_eq!(
        (d.status, d.outbound_id, d.telegram_message_id),
        (DeliveryStatus::Queued, Some(outbound_id), None),
        "queued, not sent, before the sender ran"
    );
    let api = Arc::new(RecordingApi::new());
    send_for(&env, &api, Duration::from_secs(5)).await;
    let row = queue::state(&env.store.conn().unwrap(), "alert:1")
        .unwrap()
        .unwrap();
    assert_eq!(row.status, OutboundStatus::Sent);
    let d = delivery(&env.store);
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert!(row.telegram_message_id.is_some());
    assert_eq!(d.telegram_message_id, row.telegram_message_id);
}

/// A `Write` the log goes to, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_blocked_bot_fails_the_alert_at_once_logged_and_counted() {
    let env = env();
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    // The current-thread runtime runs the sender on this thread.
    let (recorder, metrics) = recorder_for_tests().unwrap();
    let _metrics = ::metrics::set_default_local_recorder(&recorder);

    env.sink.send(&alert()).await.unwrap();
    let api = Arc::new(RecordingApi::new());
    api.fail_next(
        10,
        SendError::TelegramRpc {
            code: 403,
            name: "USER_IS_BLOCKED".into(),
            value: None,
        },
    );
    // Long enough for several retries of a transient failure (30 s, 60 s…).
    send_for(&env, &api, Duration::from_secs(600)).await;

    assert_eq!(api.calls(), 1, "a permanent failure is not retried");
    let row = queue::state(&env.store.conn().unwrap(), "alert:1")
        .unwrap()
        .unwrap();
    assert_eq!((row.status, row.attempts), (OutboundStatus::Failed, 1));
    let d = delivery(&env.store);
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.failure_reason.as_deref(), Some("USER_IS_BLOCKED"));
    assert!(d.last_error.unwrap().contains("USER_IS_BLOCKED"));

    let text = metrics.render();
    assert!(
        text.contains(
            r#"buhbot_deliveries_failed_total{channel="telegram",reason="USER_IS_BLOCKED"} 1"#
        ),
        "{text}"
    );
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains("USER_IS_BLOCKED"), "{log}");
}

/// Migration 4 keeps every delivery: a "failed" row of before (which meant
/// "will retry") is retrying, and a Telegram delivery counted sent while
/// its message was only queued is queued again, linked to its message.
#[test]
fn migration_4_retypes_old_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for (_, _, sql) in &buhbot::store::MIGRATIONS[..3] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'init', 0), (2, 'outbound', 0), (3, 'telegram', 0);
             INSERT INTO sla_alerts (id, request_id, kind, level, due_at, fired_at)
                 VALUES (1, 1, 'breach', 1, 0, 0);
             INSERT INTO alert_deliveries (id, alert_id, sink, recipient, status, next_attempt_at, created_at)
                 VALUES (1, 1, 'email', 'a@b.ru', 'failed', 0, 0),
                        (2, 1, 'telegram', '7', 'sent', 0, 0),
                        (3, 1, 'telegram', '8', 'sent', 0, 0);
             INSERT INTO outbound_messages (dedupe_key, chat_id, text, kind, status, next_attempt_at,
                     created_at, telegram_message_id)
                 VALUES ('alert:2', 7, 'x', 'alert', 'pending', 0, 0, NULL),
                        ('alert:3', 8, 'x', 'alert', 'sent', 0, 0, 55);",
        )
        .unwrap();
    }
    let (store, report) = Store::open_migrated(&db).unwrap();
    // Every migration after the third, whatever later ones there are.
    assert_eq!(
        report.applied,
        buhbot::store::MIGRATIONS[3..]
            .iter()
            .map(|(v, name, _)| (*v, *name))
            .collect::<Vec<_>>()
    );
    assert_eq!(report.applied[0], (4, "deliveries"));

    let get = |id| delivery_by(&store, id);
    assert_eq!(get(1).status, DeliveryStatus::Retrying);
    let queued = get(2);
    assert_eq!(queued.status, DeliveryStatus::Queued);
    assert!(queued.outbound_id.is_some());
    let sent = get(3);
    assert_eq!(
        (sent.status, sent.telegram_message_id),
        (DeliveryStatus::Sent, Some(55))
    );
    // An unknown stored value names its place.
    let c = store.conn().unwrap();
    c.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE alert_deliveries SET status = 'lost' WHERE id = 1")
        .unwrap();
    let err = deliveries::get(&c, 1).unwrap_err().to_string();
    assert!(
        err.contains(r#"unknown delivery status "lost" in alert_deliveries.status"#),
        "{err}"
    );
}

fn delivery_by(store: &Store, id: i64) -> deliveries::DeliveryRow {
    deliveries::get(&store.conn().unwrap(), id)
        .unwrap()
        .unwrap()
}

/// A delivery handed over again (say its first attempt's answer was lost)
/// whose message Telegram already confirmed is sent, not queued forever.
#[tokio::test(start_paused = true)]
async fn a_repeated_hand_over_of_a_confirmed_message_is_sent() {
    let env = env();
    env.sink.send(&alert()).await.unwrap();
    let api = Arc::new(RecordingApi::new());
    send_for(&env, &api, Duration::from_secs(5)).await;
    let c = env.store.conn().unwrap();
    c.execute(
        "UPDATE alert_deliveries SET status = 'retrying' WHERE id = 1",
        [],
    )
    .unwrap();
    env.sink.send(&alert()).await.unwrap();
    let d = delivery(&env.store);
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert!(d.telegram_message_id.is_some());
    assert_eq!(api.records().len(), 1, "not sent twice");
}
