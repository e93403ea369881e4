//! Chat lifecycle events through the ingest pipeline: the bot added to or
//! removed from a group, title changes and a group's upgrade to a
//! supergroup, each in a batch's transaction like messages.

use std::path::Path;
use std::sync::Arc;

use crate::t;
use buhbot::config::Config;
use buhbot::core::engine::Engine;
use buhbot::core::event::{Event, EventKind};
use buhbot::daemon::ingest::{BatchOutcome, apply_batch};
use buhbot::domain::sla::RequestStatus;
use buhbot::store::chats::ChatRole;
use buhbot::store::{Store, chats, requests, settings, timers, write_tx};
use rusqlite::Connection;

/// A basic group and the supergroup it becomes.
const OLD: i64 = -4001;
const NEW: i64 = -1_000_000_004_001;
const CLIENT: i64 = 100;
const ACCOUNTANT: i64 = 7;

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    config: Arc<Config>,
    engine: Arc<Engine>,
    events: u64,
}

impl Setup {
    fn new(toml: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buhbot.toml");
        std::fs::write(&path, toml).unwrap();
        let config = Arc::new(Config::load(Some(&path)).unwrap());
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let engine = Arc::new(
            Engine::from_config_and_store(config.clone(), &store.conn().unwrap()).unwrap(),
        );
        Setup {
            _dir: dir,
            store,
            config,
            engine,
            events: 0,
        }
    }

    /// One batch through the pipeline; the engine it leaves runs on.
    fn batch(&mut self, kinds: Vec<EventKind>) -> BatchOutcome {
        let now = kinds.iter().map(EventKind::date).max().unwrap();
        let batch: Vec<Event> = kinds
            .into_iter()
            .map(|kind| {
                self.events += 1;
                Event {
                    position: format!("{}@{}", self.events, kind.date().timestamp()),
                    kind,
                }
            })
            .collect();
        let mut conn = self.store.conn().unwrap();
        let out = apply_batch(
            &mut conn,
            self.engine.clone(),
            &batch,
            "test",
            now,
            false,
            None,
        )
        .unwrap();
        if let Some(e) = &out.engine {
            self.engine = e.clone();
        }
        out
    }

    fn conn(&self) -> impl std::ops::Deref<Target = Connection> {
        self.store.conn().unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn revision(&self) -> i64 {
        settings::revision(&self.conn()).unwrap()
    }

    /// Row counts of every table a chat's data lives in.
    fn counts(&self) -> Vec<i64> {
        [
            "chats",
            "chat_staff",
            "working_schedules",
            "holidays",
            "messages",
            "client_requests",
            "timers",
            "sla_alerts",
            "audit_log",
        ]
        .iter()
        .map(|table| self.count(&format!("SELECT count(*) FROM {table}")))
        .collect()
    }
}

fn msg(chat: i64, id: i64, from: i64, at: &str, text: &str) -> EventKind {
    EventKind::Message(crate::user_message(chat, id, from, t(at), text))
}

fn added(chat: i64, at: &str) -> EventKind {
    EventKind::ChatAdded {
        chat_id: chat,
        title: Some("ООО Ромашка".into()),
        by: Some(42),
        date: t(at),
    }
}

fn migrated(at: &str) -> EventKind {
    EventKind::ChatMigrated {
        old_chat_id: OLD,
        new_chat_id: NEW,
        date: t(at),
    }
}

#[test]
fn a_group_the_bot_is_added_to_is_monitored_with_sla_off() {
    let mut s = Setup::new("");
    let before = s.revision();
    // The message right after the addition, in the same batch, already
    // sees the new chat's settings.
    let out = s.batch(vec![
        added(OLD, "2025-01-13T10:00:00+03:00"),
        msg(OLD, 1, CLIENT, "2025-01-13T10:01:00+03:00", "Где мой счёт?"),
    ]);
    assert_eq!((out.chat_changes, out.opened), (1, 0));
    let row = chats::get(&s.conn(), OLD).unwrap().unwrap();
    assert_eq!(row.title, "ООО Ромашка");
    assert!(row.monitored && !row.sla_enabled);
    assert_eq!(
        (row.threshold_minutes, row.max_escalations, row.migrated_to),
        (None, None, None),
        "the default policy"
    );
    assert!(chats::calendar(&s.conn(), OLD).unwrap().is_none());
    assert_eq!(s.count("SELECT count(*) FROM messages"), 1, "logged");
    assert_eq!(s.count("SELECT count(*) FROM client_requests"), 0);
    assert!(!s.engine.tracks(OLD));
    assert!(
        s.revision() > before,
        "a running daemon rebuilds its engine"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM audit_log WHERE entity = 'chats' AND by = '42'"),
        1,
        "audited as the user who added the bot"
    );

    // The same announcement again changes nothing.
    let rev = s.revision();
    assert_eq!(
        s.batch(vec![added(OLD, "2025-01-13T10:02:00+03:00")])
            .chat_changes,
        0
    );
    assert_eq!(s.revision(), rev);
}

#[test]
fn with_sla_enabled_for_new_chats_a_new_group_is_tracked_at_once() {
    let mut s = Setup::new("[sla]\nenabled_for_new_chats = true\n");
    assert!(s.config.sla_enabled_for_new_chats);
    let out = s.batch(vec![
        added(OLD, "2025-01-13T10:00:00+03:00"),
        msg(OLD, 1, CLIENT, "2025-01-13T10:01:00+03:00", "Где мой счёт?"),
    ]);
    assert_eq!(out.opened, 1);
    assert!(chats::get(&s.conn(), OLD).unwrap().unwrap().sla_enabled);
}

#[test]
fn removal_stops_monitoring_and_keeps_the_history() {
    let mut s = Setup::new(&format!(
        "[[chats]]\nid = {OLD}\naccountants = [{ACCOUNTANT}]\n"
    ));
    let out = s.batch(vec![msg(
        OLD,
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где мой счёт?",
    )]);
    assert_eq!(out.opened, 1);
    let out = s.batch(vec![
        EventKind::ChatRemoved {
            chat_id: OLD,
            date: t("2025-01-13T10:05:00+03:00"),
        },
        msg(
            OLD,
            2,
            CLIENT,
            "2025-01-13T10:06:00+03:00",
            "Пришлите акт сверки",
        ),
    ]);
    assert_eq!((out.chat_changes, out.opened), (1, 0));
    let row = chats::get(&s.conn(), OLD).unwrap().unwrap();
    assert!(!row.monitored);
    assert!(!s.engine.tracks(OLD));
    assert_eq!(s.count("SELECT count(*) FROM messages"), 2, "history kept");
    assert_eq!(s.count("SELECT count(*) FROM client_requests"), 1);

    // Added back: monitored again, and a configured chat is tracked.
    let out = s.batch(vec![
        added(OLD, "2025-01-13T11:00:00+03:00"),
        msg(
            OLD,
            3,
            CLIENT + 1,
            "2025-01-13T11:01:00+03:00",
            "Где платёжка?",
        ),
    ]);
    assert_eq!(out.opened, 1);
    let row = chats::get(&s.conn(), OLD).unwrap().unwrap();
    assert!(row.monitored && row.sla_enabled);
}

#[test]
fn a_title_change_updates_the_title() {
    let mut s = Setup::new(&format!("[[chats]]\nid = {OLD}\ntitle = \"Старое\"\n"));
    let title = |at: &str| EventKind::ChatTitle {
        chat_id: OLD,
        title: "ООО Ромашка и партнёры".into(),
        date: t(at),
    };
    assert_eq!(
        s.batch(vec![title("2025-01-13T10:00:00+03:00")])
            .chat_changes,
        1
    );
    let row = chats::get(&s.conn(), OLD).unwrap().unwrap();
    assert_eq!(row.title, "ООО Ромашка и партнёры");
    assert!(
        row.monitored && row.sla_enabled,
        "a title change pauses nothing"
    );
    assert_eq!(s.engine.chat_title(OLD), Some("ООО Ромашка и партнёры"));
    assert_eq!(
        s.batch(vec![title("2025-01-13T10:01:00+03:00")])
            .chat_changes,
        0
    );
}

/// A configured basic group with store settings (staff, calendar, a
/// policy override, a holiday) and an open request with its timers.
fn group_with_an_open_request() -> (Setup, i64) {
    let mut s = Setup::new(&format!(
        "[[chats]]\nid = {OLD}\naccountants = [{ACCOUNTANT}]\nthreshold_minutes = 60\n"
    ));
    {
        let mut conn = s.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        chats::ensure(&tx, OLD, "ООО Ромашка", "cli", 0).unwrap();
        chats::update(
            &tx,
            OLD,
            chats::ChatChange {
                max_escalations: Some(chats::Override::Value(2)),
                ..Default::default()
            },
            "cli",
            0,
        )
        .unwrap();
        chats::set_staff(&tx, OLD, ACCOUNTANT, ChatRole::Accountant, true, "cli", 0).unwrap();
        chats::set_staff(&tx, OLD, 9, ChatRole::Manager, true, "cli", 0).unwrap();
        chats::set_calendar(
            &tx,
            OLD,
            Some("[week]\nsat = [\"10:00-14:00\"]\n"),
            &s.config.calendar,
            Path::new(""),
            None,
            "cli",
            0,
        )
        .unwrap();
        tx.execute(
            "INSERT INTO holidays (chat_id, date, title) VALUES (?1, '2025-01-20', 'Юбилей')",
            [OLD],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    s.engine = Arc::new(
        Engine::from_config_and_store(s.config.clone(), &s.store.conn().unwrap()).unwrap(),
    );
    let out = s.batch(vec![msg(
        OLD,
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где мой счёт?",
    )]);
    assert_eq!(out.opened, 1);
    let id = requests::by_message(&s.conn(), OLD, 1).unwrap().unwrap().id;
    (s, id)
}

#[test]
fn a_supergroup_upgrade_moves_everything_once() {
    let (mut s, id) = group_with_an_open_request();
    let due_before = timers::for_request(&s.conn(), id).unwrap();
    assert_eq!(due_before.len(), 3, "warning, breach, 1 escalation");
    let counts_before = s.counts();

    let out = s.batch(vec![migrated("2025-01-13T10:10:00+03:00")]);
    assert_eq!(out.chat_changes, 1);

    // Everything is under the new id.
    let conn = s.conn();
    let one = |sql: &str, chat: i64| -> i64 { conn.query_row(sql, [chat], |r| r.get(0)).unwrap() };
    for table in [
        "chat_staff",
        "working_schedules",
        "holidays",
        "messages",
        "client_requests",
    ] {
        let sql = format!("SELECT count(*) FROM {table} WHERE chat_id = ?1");
        assert_eq!(one(&sql, OLD), 0, "{table} left under the old id");
        assert!(one(&sql, NEW) > 0, "{table} not under the new id");
    }
    assert_eq!(requests::get(&conn, id).unwrap().unwrap().chat_id, NEW);
    let due_after = timers::for_request(&conn, id).unwrap();
    assert_eq!(
        due_after.iter().map(|t| t.due_at).collect::<Vec<_>>(),
        due_before.iter().map(|t| t.due_at).collect::<Vec<_>>(),
        "the same calendar and policy: the same timers"
    );
    let new_row = chats::get(&conn, NEW).unwrap().unwrap();
    assert_eq!(new_row.title, "ООО Ромашка");
    assert!(new_row.monitored && new_row.sla_enabled);
    assert_eq!(new_row.max_escalations, Some(2), "the override moved");
    let old_row = chats::get(&conn, OLD).unwrap().unwrap();
    assert_eq!((old_row.monitored, old_row.migrated_to), (false, Some(NEW)));
    assert_eq!(
        chats::staff(&conn, NEW).unwrap(),
        vec![(ACCOUNTANT, ChatRole::Accountant), (9, ChatRole::Manager)]
    );
    drop(conn);
    // The engine runs the new id on the old group's settings: its calendar
    // and the configuration's entry (threshold) for the old id.
    assert!(s.engine.tracks(NEW) && !s.engine.tracks(OLD));
    assert_eq!(s.engine.calendar(NEW).spec().week[5].len(), 1);
    assert_eq!(s.engine.policy(NEW).threshold_minutes, 60);
    assert_eq!(s.engine.policy(NEW).max_escalations, 2);

    // Nothing duplicated: the chat rows and the audit trail grew, nothing
    // else did.
    let after = s.counts();
    assert_eq!(after[0], counts_before[0] + 1, "one new chats row");
    assert_eq!(&after[1..8], &counts_before[1..8]);

    // Announced again (the other group's service message, a redelivery):
    // nothing changes, not even the revision.
    let rev = s.revision();
    for _ in 0..2 {
        let out = s.batch(vec![migrated("2025-01-13T10:10:01+03:00")]);
        assert_eq!((out.chat_changes, out.engine.is_none()), (0, true));
    }
    assert_eq!(s.revision(), rev);
    assert_eq!(s.counts(), after);

    // A late redelivery of the old group's message is the same message.
    let out = s.batch(vec![msg(
        OLD,
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где мой счёт?",
    )]);
    assert_eq!((out.duplicates, out.opened), (1, 0));

    // The accountant answers in the supergroup: the request closes.
    let out = s.batch(vec![msg(
        NEW,
        2,
        ACCOUNTANT,
        "2025-01-13T10:30:00+03:00",
        "Отправила",
    )]);
    assert_eq!(out.answered, 1);
    let conn = s.conn();
    assert_eq!(
        requests::get(&conn, id).unwrap().unwrap().status,
        RequestStatus::Answered
    );
    assert!(timers::for_request(&conn, id).unwrap().is_empty());
    assert_eq!(
        one_count(&conn, "SELECT count(*) FROM client_requests"),
        1,
        "still one request"
    );
}

fn one_count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn supergroup_messages_before_the_upgrade_event_are_merged() {
    let (mut s, old_request) = group_with_an_open_request();
    // The supergroup's first message arrives before the announcement (an
    // unknown chat is tracked on the defaults).
    let out = s.batch(vec![
        EventKind::ChatTitle {
            chat_id: NEW,
            title: "ООО Ромашка (супергруппа)".into(),
            date: t("2025-01-13T10:04:00+03:00"),
        },
        msg(NEW, 5, 101, "2025-01-13T10:05:00+03:00", "А когда акт?"),
    ]);
    assert_eq!(out.opened, 1);
    let out = s.batch(vec![migrated("2025-01-13T10:10:00+03:00")]);
    assert_eq!(out.chat_changes, 1);
    let conn = s.conn();
    assert_eq!(
        one_count(
            &conn,
            "SELECT count(*) FROM client_requests WHERE chat_id = -1000000004001"
        ),
        2
    );
    assert_eq!(
        one_count(
            &conn,
            "SELECT count(*) FROM messages WHERE chat_id = -1000000004001"
        ),
        2
    );
    assert_eq!(
        requests::get(&conn, old_request).unwrap().unwrap().chat_id,
        NEW
    );
    let row = chats::get(&conn, NEW).unwrap().unwrap();
    assert_eq!(
        row.title, "ООО Ромашка (супергруппа)",
        "the supergroup's own title"
    );
    assert_eq!(row.max_escalations, Some(2), "the group's settings win");
    drop(conn);
    // One answer in the supergroup answers both.
    let out = s.batch(vec![msg(
        NEW,
        6,
        ACCOUNTANT,
        "2025-01-13T10:30:00+03:00",
        "Всё отправила",
    )]);
    let rows = requests::list(&s.conn(), false, None, 10).unwrap();
    assert_eq!(out.answered, 2, "{rows:#?}");
}

#[test]
fn telegram_chat_updates_map_to_pipeline_events() {
    use buhbot::telegram::inbound::InboundEvent;
    let date = t("2025-01-13T10:10:00+03:00");
    let both_sides = InboundEvent::MigratedToSupergroup {
        old_chat_id: OLD,
        new_chat_id: NEW,
    };
    assert_eq!(
        both_sides.into_event_kind(date),
        Some(migrated("2025-01-13T10:10:00+03:00"))
    );
    let removed = InboundEvent::BotRemoved { chat_id: OLD }.into_event_kind(date);
    assert_eq!(removed, Some(EventKind::ChatRemoved { chat_id: OLD, date }));
}

#[test]
fn the_groups_message_and_the_supergroups_of_the_same_number_are_both_kept() {
    // Telegram numbers a supergroup's messages from 1, apart from its basic
    // group's: the group's message 1 and the supergroup's message 1 are two
    // messages, and both requests live on (the group's under -1).
    let (mut s, old_request) = group_with_an_open_request();
    let out = s.batch(vec![msg(
        NEW,
        1,
        101,
        "2025-01-13T10:05:00+03:00",
        "А когда акт?",
    )]);
    assert_eq!(out.opened, 1);
    let counts = s.counts();
    assert_eq!(
        s.batch(vec![migrated("2025-01-13T10:10:00+03:00")])
            .chat_changes,
        1
    );
    let conn = s.conn();
    let kept = requests::by_message(&conn, NEW, 1).unwrap().unwrap();
    assert_eq!(kept.client_id, 101, "the supergroup's row is kept");
    let moved = requests::get(&conn, old_request).unwrap().unwrap();
    assert_eq!((moved.chat_id, moved.message_id), (NEW, -1));
    drop(conn);
    assert_eq!(
        &s.counts()[4..6],
        &counts[4..6],
        "no message or request lost or duplicated"
    );
    // The supergroup's request now runs on the group's policy (two
    // escalation levels: warning, breach, one escalation).
    assert_eq!(timers::for_request(&s.conn(), kept.id).unwrap().len(), 3);
}

/// A batch is judged on the settings in the store, even when the engine it
/// was handed predates a change (made from the shell or by a command): the
/// engine is rebuilt inside the batch's own transaction.
#[test]
fn a_batch_sees_settings_changed_since_its_engine_was_built() {
    let mut s = Setup::new(&format!(
        "[[chats]]\nid = {OLD}\naccountants = [{ACCOUNTANT}]\n"
    ));
    {
        let c = s.conn();
        chats::ensure(&c, OLD, "", "test", 0).unwrap();
        let change = chats::ChatChange {
            threshold_minutes: Some(chats::Override::Value(30)),
            ..Default::default()
        };
        chats::update(&c, OLD, change, "test", 0).unwrap();
    }
    let out = s.batch(vec![msg(
        OLD,
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Пришлите, пожалуйста, акт сверки",
    )]);
    assert!(out.engine.is_some(), "the stale engine was replaced");
    let row = requests::by_message(&s.conn(), OLD, 1).unwrap().unwrap();
    assert_eq!(row.threshold_minutes, 30);
}
