//! The engine over the store: one event or one timer per transaction,
//! idempotent, and re-timing when a chat's calendar or policy changes.

use std::sync::Arc;

use buhbot::config::Config;
use buhbot::core::engine::{Engine, Fired};
use buhbot::core::event::MessageEvent;
use buhbot::domain::sla::{AlertKind, Closing, RequestStatus};
use buhbot::sinks::Channel;
use buhbot::store::{Store, requests, timers, write_tx};
use chrono::{DateTime, Utc};

const CHAT: i64 = -1001;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

fn engine(dir: &std::path::Path, extra: &str) -> Engine {
    let path = dir.join(format!("c{}.toml", extra.len()));
    std::fs::write(
        &path,
        format!("[[chats]]\nid = {CHAT}\naccountants = [7]\n{extra}\n"),
    )
    .unwrap();
    Engine::new(Arc::new(Config::load(Some(&path)).unwrap()))
}

fn msg(id: i64, from: i64, at: &str, text: &str) -> MessageEvent {
    crate::user_message(CHAT, id, from, t(at), text)
}

fn ingest(store: &Store, e: &Engine, m: &MessageEvent) -> buhbot::core::engine::Ingested {
    crate::ingest_one(store, e, m)
}

fn due(store: &Store, request: i64) -> Vec<(String, i64, i64)> {
    timers::for_request(&store.conn().unwrap(), request)
        .unwrap()
        .into_iter()
        .map(|t| (t.kind.to_string(), t.level, t.due_at))
        .collect()
}

#[test]
fn an_event_delivered_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let e = engine(dir.path(), "");
    let m = msg(1, 100, "2025-01-13T10:00:00+03:00", "Где мой счёт?");
    let first = ingest(&store, &e, &m);
    assert_eq!((first.duplicate, first.opened), (false, 1));
    let second = ingest(&store, &e, &m);
    assert_eq!((second.duplicate, second.opened), (true, 0));
    let c = store.conn().unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM client_requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // An edit is a new log version and opens nothing.
    let edit = MessageEvent {
        edit_version: t("2025-01-13T10:05:00+03:00").timestamp(),
        ..m
    };
    assert!(!ingest(&store, &e, &edit).duplicate);
    let versions: i64 = c
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, 2);
}

/// Closing is judged in the whole seconds the store keeps: resolved
/// within the deadline's second is in time, the next second is late.
#[test]
fn a_request_resolved_within_the_deadline_second_is_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let e = engine(dir.path(), "");
    for (id, minute) in [(1, "10:00"), (2, "10:01")] {
        let at = format!("2025-01-13T{minute}:00+03:00");
        ingest(&store, &e, &msg(id, 100 + id, &at, "Где мой счёт?"));
    }
    let mut conn = store.conn().unwrap();
    let tx = write_tx(&mut conn).unwrap();
    let close = |message: i64, when: &str| {
        let row = requests::by_message(&tx, CHAT, message).unwrap().unwrap();
        assert!(
            e.close(&tx, &row, Closing::Resolved, t(when), Some(7), None)
                .unwrap()
        );
        requests::get(&tx, row.id).unwrap().unwrap()
    };
    let on_time = close(1, "2025-01-13T11:00:00.900+03:00");
    assert_eq!(
        (on_time.breached, on_time.working_minutes),
        (false, Some(60))
    );
    let late = close(2, "2025-01-13T11:01:01.100+03:00");
    assert_eq!((late.breached, late.working_minutes), (true, Some(60)));
    assert_eq!(late.status, RequestStatus::Resolved);
}

#[test]
fn an_answer_removes_the_timers_and_records_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let e = engine(dir.path(), "");
    ingest(
        &store,
        &e,
        &msg(1, 100, "2025-01-13T10:00:00+03:00", "Где мой счёт?"),
    );
    let id = requests::by_message(&store.conn().unwrap(), CHAT, 1)
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(due(&store, id).len(), 6, "warning, breach, 4 escalations");
    ingest(
        &store,
        &e,
        &msg(2, 7, "2025-01-13T11:30:00+03:00", "Отправила"),
    );
    assert!(due(&store, id).is_empty());
    let row = requests::get(&store.conn().unwrap(), id).unwrap().unwrap();
    assert_eq!(row.status, RequestStatus::Answered);
    assert_eq!(
        (row.working_minutes, row.breached, row.excess_minutes),
        (Some(90), true, Some(30))
    );
    assert_eq!(
        row.breached_at,
        Some(t("2025-01-13T11:00:00+03:00").timestamp())
    );
}

#[test]
fn firing_is_idempotent_and_skips_closed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let e = engine(dir.path(), "");
    ingest(
        &store,
        &e,
        &msg(1, 100, "2025-01-13T10:00:00+03:00", "Где мой счёт?"),
    );
    let mut c = store.conn().unwrap();
    let t0 = timers::due(&c, i64::MAX, 1).unwrap()[0];
    let tx = write_tx(&mut c).unwrap();
    // The warning: to the log and to the accountant's private chat.
    assert!(matches!(
        e.fire(&tx, &t0, t("2025-01-13T10:48:00+03:00")).unwrap(),
        Fired::Alert { deliveries: 2, .. }
    ));
    // The same timer again (a crash before the timer row went away).
    assert_eq!(
        e.fire(&tx, &t0, t("2025-01-13T10:48:01+03:00")).unwrap(),
        Fired::Nothing
    );
    tx.commit().unwrap();
}

/// Warnings to the chat's accountants, breaches to its accountants and
/// managers and the global managers, escalations to managers only; on
/// Telegram always a staff member's private chat (a positive id), never
/// the group.
#[test]
fn alert_recipients_by_kind_never_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(
        dir.path(),
        "managers = [8]\n[alerts]\nmanagers = [9, -100123]\n",
    );
    let tg = |e: &Engine, kind: &str| -> Vec<String> {
        e.recipients(CHAT, kind.parse().unwrap())
            .into_iter()
            .filter(|(channel, _)| *channel == Channel::Telegram)
            .map(|(_, r)| r)
            .collect()
    };
    assert_eq!(tg(&e, "warning"), ["7"]);
    assert_eq!(tg(&e, "breach"), ["7", "8", "9"]);
    assert_eq!(tg(&e, "escalation"), ["8", "9"]);
    // An unregistered chat: only the global managers (and the log).
    assert_eq!(e.recipients(-42, AlertKind::Breach).len(), 2);
    let off = engine(dir.path(), "[alerts]\ntelegram = false\n");
    assert!(tg(&off, "breach").is_empty());
    // The firm's managers from `buhbot users` count like [alerts] managers.
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let conn = store.conn().unwrap();
    let user = |id: i64, role: &str| buhbot::store::users::UserRow {
        id,
        name: format!("u{id}"),
        username: None,
        role: role.parse().unwrap(),
        email: None,
    };
    buhbot::store::users::add(&conn, &user(10, "manager"), "test", 0).unwrap();
    buhbot::store::users::add(&conn, &user(11, "accountant"), "test", 0).unwrap();
    let base = engine(dir.path(), "managers = [8]\n");
    let e = Engine::from_config_and_store(base.base_config().clone(), &conn).unwrap();
    assert_eq!(tg(&e, "escalation"), ["8", "10"]);
    assert_eq!(tg(&e, "warning"), ["7"]);
}

#[test]
fn retiming_keeps_used_time_and_counts_the_rest_on_the_new_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let old = engine(dir.path(), "");
    ingest(
        &store,
        &old,
        &msg(1, 100, "2025-01-13T10:00:00+03:00", "Где мой счёт?"),
    );
    let id = requests::by_message(&store.conn().unwrap(), CHAT, 1)
        .unwrap()
        .unwrap()
        .id;
    // At 10:40 the chat's threshold becomes 90 minutes and its hours
    // shrink to 09:00-11:00 on Mondays, 09:00-18:00 on Tuesdays: 40 minutes
    // are used, 50 remain: 20 today (until 11:00), 30 on Tuesday.
    let new = engine(
        dir.path(),
        "threshold_minutes = 90\nwarning_percent = 0\nmax_escalations = 2\n[chats.calendar.week]\nmon = [\"09:00-11:00\"]\ntue = [\"09:00-18:00\"]",
    );
    let mut c = store.conn().unwrap();
    let tx = write_tx(&mut c).unwrap();
    assert_eq!(
        new.retime(&tx, &old, t("2025-01-13T10:40:00+03:00"))
            .unwrap(),
        1
    );
    tx.commit().unwrap();
    assert_eq!(
        due(&store, id),
        vec![
            (
                "breach".into(),
                1,
                t("2025-01-14T09:30:00+03:00").timestamp()
            ),
            (
                "escalation".into(),
                2,
                t("2025-01-14T10:00:00+03:00").timestamp()
            ),
        ]
    );
    let row = requests::get(&store.conn().unwrap(), id).unwrap().unwrap();
    assert_eq!(
        (row.anchor_used_seconds, row.threshold_minutes),
        (40 * 60, 90)
    );
    // Re-timing with the same configuration changes nothing.
    let tx = write_tx(&mut c).unwrap();
    assert_eq!(
        new.retime(&tx, &new, t("2025-01-13T10:50:00+03:00"))
            .unwrap(),
        0
    );
}
