//! The outbound queue against the recording fake, on tokio's paused clock:
//! pacing measured from the recorded instants, FLOOD_WAIT isolation,
//! retries, give-up, enqueue idempotency, the alert sink's group refusal.
//! Crash recovery is in `outbound/crash.rs`.

mod crash;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use buhbot::bot::TelegramSink;
use buhbot::core::clock::Clock;
use buhbot::core::delivery::RetryPolicy;
use buhbot::sinks::{AlertSink, Channel, Outgoing};
use buhbot::store::Store;
use buhbot::telegram::outbound::fake::{Record, RecordingApi};
use buhbot::telegram::outbound::queue::{self, EnqueueError, Enqueued, NewOutbound};
use buhbot::telegram::outbound::{
    Button, Kind, OutboundConfig, OutboundError, OutboundStatus, SendError, run_outbound_with,
};
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn origin() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-12T06:00:00Z")
        .unwrap()
        .into()
}

/// A migrated store in a temporary folder, and a clock on tokio's time.
fn setup() -> (tempfile::TempDir, Store, Clock) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("q.db")).unwrap();
    (dir, store, Clock::virtual_from(origin(), 1.0))
}

fn enqueue(store: &Store, clock: &Clock, msgs: &[NewOutbound]) {
    let c = store.conn().unwrap();
    let now = clock.now().timestamp();
    for m in msgs {
        queue::enqueue(&c, m, now).unwrap();
    }
}

/// Runs a sender until `done(api)` (checked every 50 ms of virtual time)
/// or `limit` of virtual time, then stops it; returns how it ended.
async fn drive(
    store: &Store,
    clock: Clock,
    api: &Arc<RecordingApi>,
    config: OutboundConfig,
    limit: Duration,
    done: impl Fn(&RecordingApi) -> bool,
) -> Result<Result<(), OutboundError>, tokio::task::JoinError> {
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_outbound_with(
        config,
        store.clone(),
        api.clone(),
        clock,
        cancel.clone(),
        None,
    ));
    let deadline = Instant::now() + limit;
    while !done(api) && !task.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    task.await
}

fn by_chat(records: &[Record]) -> BTreeMap<i64, Vec<&Record>> {
    let mut out: BTreeMap<i64, Vec<&Record>> = BTreeMap::new();
    for r in records {
        out.entry(r.chat_id).or_default().push(r);
    }
    out
}

/// The most records in any half-open window `[t, t + window)`.
fn max_in_window(records: &[&Record], window: Duration) -> usize {
    let mut at: Vec<Instant> = records.iter().map(|r| r.at).collect();
    at.sort();
    let mut best = 0;
    let mut end = 0;
    for start in 0..at.len() {
        while end < at.len() && at[end] < at[start] + window {
            end += 1;
        }
        best = best.max(end - start);
    }
    best
}

/// Chats 1..=40 are staff private chats with 5 alerts each; chats
/// -1001..=-1010 are groups with 30 replies each: 500 messages, enqueued
/// interleaved. Groups need 90 s at 20/min, so the minute limit binds;
/// at the start, 40 + 10 chats want more than 30/s, so the global one does.
#[tokio::test(start_paused = true)]
async fn burst_of_500_is_paced_within_telegram_limits_none_lost_none_twice() {
    let (_dir, store, clock) = setup();
    let mut msgs = Vec::new();
    for i in 0..30 {
        for chat in 1..=40i64 {
            if i < 5 {
                msgs.push(NewOutbound::new(
                    format!("alert:{chat}:{i}"),
                    chat,
                    Kind::Alert,
                    format!("{i}"),
                ));
            }
        }
        for chat in -1010..=-1001i64 {
            msgs.push(NewOutbound::new(
                format!("reply:{chat}:{i}"),
                chat,
                Kind::Reply,
                format!("{i}"),
            ));
        }
    }
    assert_eq!(msgs.len(), 500);
    enqueue(&store, &clock, &msgs);
    let api = Arc::new(RecordingApi::new());
    let start = Instant::now();
    let ended = drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(600),
        |a| a.records().len() >= 500,
    )
    .await;
    ended.unwrap().unwrap();
    let records = api.records();
    let keys: Vec<&str> = records.iter().map(|r| r.dedupe_key.as_str()).collect();
    let unique: HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(records.len(), 500, "none lost");
    assert_eq!(unique.len(), 500, "none twice");
    for (chat, rs) in by_chat(&records) {
        let texts: Vec<String> = rs.iter().map(|r| r.text.clone()).collect();
        let expected: Vec<String> = (0..rs.len()).map(|i| i.to_string()).collect();
        assert_eq!(texts, expected, "chat {chat} in enqueue order");
    }
    let all: Vec<&Record> = records.iter().collect();
    let global = max_in_window(&all, Duration::from_secs(1));
    let chats = by_chat(&records);
    let per_chat = chats
        .values()
        .map(|rs| max_in_window(rs, Duration::from_secs(1)))
        .max()
        .unwrap();
    let per_group = chats
        .iter()
        .filter(|(chat, _)| **chat < 0)
        .map(|(_, rs)| max_in_window(rs, Duration::from_secs(60)))
        .max()
        .unwrap();
    let took = records.iter().map(|r| r.at).max().unwrap() - start;
    println!(
        "burst: 500 sent in {took:?}; max global {global}/s, max per chat {per_chat}/s, \
         max per group {per_group}/min"
    );
    assert!(global <= 30, "global {global} in 1 s");
    assert_eq!(per_chat, 1, "per chat per second");
    assert!(per_group <= 20, "group {per_group} in 1 min");
    // The limits bind but are not undershot by much.
    assert!(global >= 25, "global rate only {global}/s");
    assert_eq!(per_group, 20);
    let c = store.conn().unwrap();
    assert_eq!(
        queue::counts(&c).unwrap(),
        vec![(OutboundStatus::Sent, 500)]
    );
}

/// Five chats × five messages; the global limit does not bind, so a chat's
/// timing depends only on its own limits.
async fn five_chats(flooded: Option<i64>) -> (Instant, Vec<Record>, Store, tempfile::TempDir) {
    let (dir, store, clock) = setup();
    let chats = [1i64, 2, 3, -1004, -1005];
    let mut msgs = Vec::new();
    for i in 0..5 {
        for chat in chats {
            msgs.push(NewOutbound::new(
                format!("m:{chat}:{i}"),
                chat,
                Kind::Reply,
                format!("{i}"),
            ));
        }
    }
    enqueue(&store, &clock, &msgs);
    let api = Arc::new(RecordingApi::new());
    if let Some(chat) = flooded {
        api.flood_wait(chat, 30);
    }
    let start = Instant::now();
    drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(600),
        |a| a.records().len() >= 25,
    )
    .await
    .unwrap()
    .unwrap();
    (start, api.records(), store, dir)
}

#[tokio::test(start_paused = true)]
async fn flood_wait_on_one_chat_does_not_delay_the_others() {
    let (base_start, base, _, _d1) = five_chats(None).await;
    let (start, flood, store, _d2) = five_chats(Some(3)).await;
    assert_eq!(flood.len(), 25);
    let last = |records: &[Record], start: Instant| -> HashMap<i64, Duration> {
        by_chat(records)
            .into_iter()
            .map(|(chat, rs)| (chat, rs.last().unwrap().at - start))
            .collect()
    };
    let (base_last, flood_last) = (last(&base, base_start), last(&flood, start));
    for chat in [1i64, 2, -1004, -1005] {
        assert_eq!(
            flood_last[&chat], base_last[&chat],
            "chat {chat} not delayed"
        );
    }
    let chat3 = &by_chat(&flood)[&3];
    let texts: Vec<&str> = chat3.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["0", "1", "2", "3", "4"], "in order after the wait");
    // After the wait, promptly: the stored retry time is rounded up to the
    // second, so the first send comes within 30–32 s of the start.
    let first = chat3[0].at - start;
    assert!(
        first >= Duration::from_secs(30) && first <= Duration::from_secs(32),
        "first send {first:?}"
    );
    assert!(max_in_window(chat3, Duration::from_secs(1)) == 1);
    let row = queue::state(&store.conn().unwrap(), "m:3:0")
        .unwrap()
        .unwrap();
    assert_eq!((row.status, row.attempts), (OutboundStatus::Sent, 2));
    println!("flood: chat 3 first send after {first:?}; others' last sends {flood_last:?}");
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_backoff_until_sent() {
    let (_dir, store, clock) = setup();
    let mut edit = NewOutbound::new("edit:5:77", 5, Kind::Edit, "new text");
    edit.edit_of = Some(77);
    enqueue(
        &store,
        &clock,
        &[NewOutbound::new("alert:1", 5, Kind::Alert, "alert"), edit],
    );
    let api = Arc::new(RecordingApi::new());
    api.fail_next(3, SendError::Network("connection reset".into()));
    let start = Instant::now();
    drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(600),
        |a| a.records().len() >= 2,
    )
    .await
    .unwrap()
    .unwrap();
    let records = api.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].dedupe_key, "alert:1");
    // Backoff 5 + 10 + 20 s before the fourth attempt.
    assert!(records[0].at - start >= Duration::from_secs(35));
    assert_eq!((records[1].kind, records[1].message_id), (Kind::Edit, 77));
    assert_eq!(api.calls(), 5);
    let c = store.conn().unwrap();
    let row = queue::state(&c, "alert:1").unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (OutboundStatus::Sent, 4));
    assert_eq!(row.telegram_message_id, Some(records[0].message_id));
    assert_eq!(row.last_error, None);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_given_up_at_the_configured_deadline() {
    let (_dir, store, clock) = setup();
    enqueue(
        &store,
        &clock,
        &[NewOutbound::new("alert:9", 9, Kind::Alert, "x")],
    );
    let api = Arc::new(RecordingApi::new());
    api.fail_next(100, SendError::Network("connection reset".into()));
    let config = OutboundConfig {
        policy: RetryPolicy {
            initial: Duration::from_secs(30),
            cap: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
            jitter: 0.0,
        },
        ..OutboundConfig::default()
    };
    let s = store.clone();
    drive(
        &store,
        clock,
        &api,
        config,
        Duration::from_secs(300),
        move |_| {
            let row = queue::state(&s.conn().unwrap(), "alert:9")
                .unwrap()
                .unwrap();
            row.status == OutboundStatus::GivenUp
        },
    )
    .await
    .unwrap()
    .unwrap();
    let row = queue::state(&store.conn().unwrap(), "alert:9")
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.attempts),
        (OutboundStatus::GivenUp, 3),
        "at 0, 30 and 60 s"
    );
    assert!(row.last_error.unwrap().contains("reset"));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_stops_at_once_and_the_chat_moves_on() {
    let (_dir, store, clock) = setup();
    enqueue(
        &store,
        &clock,
        &[
            NewOutbound::new("alert:9", 9, Kind::Alert, "x"),
            NewOutbound::new("reply:9:2", 9, Kind::Reply, "y"),
        ],
    );
    let api = Arc::new(RecordingApi::new());
    api.fail_next(
        1,
        SendError::TelegramRpc {
            code: 403,
            name: "USER_IS_BLOCKED".into(),
            value: None,
        },
    );
    drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(3600),
        |api| api.records().len() == 1,
    )
    .await
    .unwrap()
    .unwrap();
    // Give a retry (30 s by the policy) every chance to happen.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let c = store.conn().unwrap();
    let row = queue::state(&c, "alert:9").unwrap().unwrap();
    assert_eq!(
        (row.status, row.attempts),
        (OutboundStatus::Failed, 1),
        "no retry"
    );
    assert!(row.last_error.unwrap().contains("USER_IS_BLOCKED"));
    // The next message of the chat did not wait behind it.
    let next = queue::state(&c, "reply:9:2").unwrap().unwrap();
    assert_eq!(next.status, OutboundStatus::Sent);
    assert_eq!(api.calls(), 2);
}

#[test]
fn enqueue_is_idempotent_on_the_dedupe_key() {
    let (_dir, store, _) = setup();
    let c = store.conn().unwrap();
    let first = queue::enqueue(
        &c,
        &NewOutbound::new("reply:-100:7", -100, Kind::Reply, "a"),
        10,
    )
    .unwrap();
    let again = queue::enqueue(
        &c,
        &NewOutbound::new("reply:-100:7", -100, Kind::Reply, "b"),
        20,
    )
    .unwrap();
    assert!(matches!(first, Enqueued::New(_)));
    assert_eq!(again, Enqueued::Duplicate(first.id()));
    let text: String = c
        .query_row("SELECT text FROM outbound_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, "a", "the first enqueue wins");
    assert_eq!(
        queue::counts(&c).unwrap(),
        vec![(OutboundStatus::Pending, 1)]
    );

    let mut long = NewOutbound::new("reply:-100:8", -100, Kind::Reply, "a");
    long.buttons = vec![vec![Button {
        text: "ok".into(),
        callback_data: Some("x".repeat(65)),
        url: None,
    }]];
    let err = queue::enqueue(&c, &long, 10).unwrap_err();
    assert!(
        matches!(err, EnqueueError::CallbackTooLong { len: 65, .. }),
        "{err}"
    );
    long.buttons[0][0].callback_data = Some("x".repeat(64));
    queue::enqueue(&c, &long, 10).unwrap();
}

fn outgoing(delivery_id: i64, recipient: &str) -> Outgoing {
    Outgoing {
        delivery_id,
        recipient: recipient.to_string(),
        subject: "SLA".into(),
        html: "<b>SLA</b>".into(),
        plain: "SLA".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn telegram_sink_enqueues_alerts_and_refuses_group_chats() {
    let (dir, store, clock) = setup();
    let path = dir.path().join("buhbot.toml");
    std::fs::write(
        &path,
        "[[chats]]\nid = -1001234567890\naccountants = [123456]\n",
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
    assert_eq!(sink.channel(), Channel::Telegram);
    for group in ["-1001234567890", "-42", "0"] {
        let err = sink.send(&outgoing(1, group)).await.unwrap_err();
        assert!(!err.is_transient(), "{group}: {err}");
        assert!(err.to_string().contains("group chats"), "{err}");
    }
    assert!(
        !sink
            .send(&outgoing(1, "@someone"))
            .await
            .unwrap_err()
            .is_transient()
    );
    // A private chat of someone who is not staff (a client) is refused too.
    let err = sink.send(&outgoing(1, "654321")).await.unwrap_err();
    assert!(err.to_string().contains("staff"), "{err}");
    let c = store.conn().unwrap();
    assert!(
        queue::counts(&c).unwrap().is_empty(),
        "nothing queued for a group or a client"
    );

    sink.send(&outgoing(7, "123456")).await.unwrap();
    sink.send(&outgoing(7, "123456")).await.unwrap();
    let row = queue::state(&c, "alert:7").unwrap().unwrap();
    assert_eq!(row.status, OutboundStatus::Pending);
    let (chat, kind, text): (i64, String, String) = c
        .query_row(
            "SELECT chat_id, kind, text FROM outbound_messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (chat, kind.as_str(), text.as_str()),
        (123456, "alert", "<b>SLA</b>")
    );
    assert_eq!(
        queue::counts(&c).unwrap(),
        vec![(OutboundStatus::Pending, 1)]
    );
}
