//! No double send across a crash: the fake "dies" after Telegram accepted
//! a message but before the sender could commit `sent`, and a new sender
//! starts on the same database file and the same fake "Telegram".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use buhbot::store::Store;
use buhbot::telegram::outbound::fake::RecordingApi;
use buhbot::telegram::outbound::queue::{self, NewOutbound};
use buhbot::telegram::outbound::{Kind, OutboundConfig, OutboundStatus, run_outbound_with};
use tokio_util::sync::CancellationToken;

use super::{drive, enqueue, setup};

/// 20 alerts over 4 staff chats.
fn twenty() -> Vec<NewOutbound> {
    (0..5)
        .flat_map(|i| (1..=4i64).map(move |chat| (chat, i)))
        .map(|(chat, i)| NewOutbound::new(format!("alert:{chat}:{i}"), chat, Kind::Alert, "x"))
        .collect()
}

fn all_sent(store: &Store) -> bool {
    queue::counts(&store.conn().unwrap()).unwrap() == vec![(OutboundStatus::Sent, 20)]
}

fn sends_per_key(api: &RecordingApi) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in api.records() {
        *out.entry(r.dedupe_key).or_default() += 1;
    }
    out
}

/// Crashes the sender on the 7th accepted message, restarts it on a fresh
/// pool over the same file; returns the sends per key and the crashed key.
/// `like_telegram`: the transport recognises a resent `random_id`.
async fn crash_and_restart(
    confirms: bool,
    like_telegram: bool,
) -> (HashMap<String, usize>, String, Store) {
    let (dir, store, clock) = setup();
    enqueue(&store, &clock, &twenty());
    let api = Arc::new(RecordingApi::new());
    api.set_confirms(confirms);
    if like_telegram {
        api.dedupe_random_ids();
    }
    api.crash_after(7);
    let ended = drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(600),
        |a| a.records().len() >= 20,
    )
    .await;
    assert!(
        ended.unwrap_err().is_panic(),
        "the sender died in the crash hook"
    );
    let crashed = api.records()[6].dedupe_key.clone();
    assert_eq!(api.records().len(), 7);
    let row = queue::state(&store.conn().unwrap(), &crashed)
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status,
        OutboundStatus::Sending,
        "the in-flight row says: outcome unknown"
    );
    drop(store);

    let (store, _) = Store::open_migrated(&dir.path().join("q.db")).unwrap();
    let s = store.clone();
    drive(
        &store,
        clock,
        &api,
        OutboundConfig::default(),
        Duration::from_secs(600),
        move |_| all_sent(&s),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(all_sent(&store));
    // Keep the folder alive while the caller inspects the store.
    std::mem::forget(dir);
    (sends_per_key(&api), crashed, store)
}

#[tokio::test(start_paused = true)]
async fn crash_between_accept_and_commit_sends_once_when_telegram_can_confirm() {
    let (sends, crashed, store) = crash_and_restart(true, false).await;
    assert_eq!(sends.len(), 20);
    assert!(
        sends.values().all(|n| *n == 1),
        "each key exactly once: {sends:?}"
    );
    // The recovered row carries the id Telegram gave the first (only) send.
    let row = queue::state(&store.conn().unwrap(), &crashed)
        .unwrap()
        .unwrap();
    assert!(row.telegram_message_id.is_some());
}

#[tokio::test(start_paused = true)]
async fn crash_without_confirmation_duplicates_at_most_the_one_in_flight_message() {
    let (sends, crashed, _store) = crash_and_restart(false, false).await;
    assert_eq!(sends.len(), 20, "none lost");
    let twice: Vec<&String> = sends
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(twice, [&crashed], "only the in-flight message, once more");
    assert_eq!(sends[&crashed], 2);
}

/// Production's path: the grammers transport cannot look a message up (bots
/// cannot read history), so the in-flight message is sent again — with the
/// same `random_id`, which Telegram refuses as a duplicate. Each message is
/// posted once; the recovered row has no usable message id.
#[tokio::test(start_paused = true)]
async fn crash_with_the_grammers_transport_posts_each_message_once() {
    let (sends, crashed, store) = crash_and_restart(false, true).await;
    assert_eq!(sends.len(), 20, "none lost");
    assert!(
        sends.values().all(|n| *n == 1),
        "each key posted once: {sends:?}"
    );
    let row = queue::state(&store.conn().unwrap(), &crashed)
        .unwrap()
        .unwrap();
    assert_eq!(
        row.telegram_message_id,
        Some(buhbot::telegram::api::UNKNOWN_MESSAGE_ID)
    );
}

/// Killing the sender task at arbitrary await points (the pacing sleep, a
/// store call before or after the API call) never duplicates, even with a
/// transport that cannot confirm: a store write that started still commits,
/// and a `sending` row whose call never happened is simply sent later.
#[tokio::test(start_paused = true)]
async fn aborting_the_sender_anywhere_and_restarting_sends_each_message_once() {
    let (dir, store, clock) = setup();
    enqueue(&store, &clock, &twenty());
    let api = Arc::new(RecordingApi::new());
    api.set_confirms(false);
    let mut restarts = 0u64;
    // Aborts that left a row `sending` (killed around the API call).
    let mut left_sending = 0u64;
    while !all_sent(&store) {
        assert!(restarts < 300, "not done after {restarts} restarts");
        // A fresh pool per run, as a restarted process would open.
        let (fresh, _) = Store::open_migrated(&dir.path().join("q.db")).unwrap();
        let task = tokio::spawn(run_outbound_with(
            OutboundConfig::default(),
            fresh,
            api.clone(),
            clock,
            CancellationToken::new(),
            None,
        ));
        // Uneven run lengths so that aborts land at different points: a
        // number of yields ends the run during the first sends (store calls
        // run in real time on the blocking pool meanwhile); from the 100th
        // run on, a virtual second guarantees progress.
        for _ in 0..(restarts * 13) % 400 {
            tokio::task::yield_now().await;
        }
        if restarts >= 100 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        task.abort();
        let _ = task.await;
        // A store write the aborted task started still runs to its end on
        // the blocking pool (as a real crash would have killed it, either
        // way). Paused time does not advance while blocking tasks exist, so
        // this sleep waits for them: the next sender sees settled rows.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let c = store.conn().unwrap();
        let counts = queue::counts(&c).unwrap();
        left_sending += counts.iter().any(|(s, _)| *s == OutboundStatus::Sending) as u64;
        restarts += 1;
    }
    let sends = sends_per_key(&api);
    assert_eq!(sends.len(), 20);
    assert!(
        sends.values().all(|n| *n == 1),
        "each key exactly once: {sends:?}"
    );
    println!(
        "abort/restart: 20 messages sent exactly once over {restarts} restarts \
         ({left_sending} aborts left a row in flight)"
    );
}
