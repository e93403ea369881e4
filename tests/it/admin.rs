//! Administration from the shell (`buhbot users|chats|requests`), the store
//! overlaying the configuration's chat settings, and chat settings taking
//! effect in a running daemon without SIGHUP.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::config::Config;
use buhbot::core::engine::Engine;
use buhbot::core::event::MessageEvent;
use buhbot::store::chats::{self, ChatChange, ChatRole, Override};
use buhbot::store::{Store, settings, write_tx};

use crate::daemon::{log_tail, read_only, setup, start, stop};

const CHAT: i64 = -1001987654321;

fn cli(config: &Path, args: &[&str]) -> Output {
    crate::buhbot()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn ok(config: &Path, args: &[&str]) -> String {
    let o = cli(config, args);
    assert!(
        o.status.success(),
        "buhbot {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Fails with exit 1; returns stderr.
fn fails(config: &Path, args: &[&str]) -> String {
    let o = cli(config, args);
    assert_eq!(o.status.code(), Some(1), "buhbot {args:?} should fail");
    String::from_utf8(o.stderr).unwrap()
}

fn msg(id: i64, from: i64, at: &str, text: &str) -> MessageEvent {
    crate::user_message(CHAT, id, from, crate::t(at), text)
}

fn ingest(store: &Store, e: &Engine, m: &MessageEvent) -> buhbot::core::engine::Ingested {
    crate::ingest_one(store, e, m)
}

#[test]
fn users_round_trip_through_the_cli() {
    let s = setup("");
    let c = &s.config;
    ok(
        c,
        &[
            "users",
            "add",
            "7000001",
            "--name",
            "Анна",
            "--role",
            "accountant",
            "--username",
            "anna",
        ],
    );
    ok(
        c,
        &[
            "users",
            "add",
            "7000009",
            "--name",
            "Борис",
            "--role",
            "manager",
            "--email",
            "b@firm.ru",
        ],
    );
    let list = ok(c, &["users", "list"]);
    assert!(
        list.contains("7000001") && list.contains("Анна") && list.contains("@anna"),
        "{list}"
    );
    assert!(
        list.contains("b@firm.ru") && list.contains("manager"),
        "{list}"
    );

    let err = fails(
        c,
        &["users", "add", "7000002", "--name", "X", "--role", "boss"],
    );
    assert!(err.contains("\"boss\""), "the bad role is named: {err}");
    let err = fails(
        c,
        &["users", "add", "7000001", "--name", "X", "--role", "admin"],
    );
    assert!(err.contains("7000001 already exists"), "{err}");

    ok(
        c,
        &[
            "users",
            "set",
            "7000001",
            "--role",
            "admin",
            "--email",
            "a@firm.ru",
            "--by",
            "7000009",
        ],
    );
    let list = ok(c, &["users", "list"]);
    let anna = list.lines().find(|l| l.contains("Анна")).unwrap();
    assert!(
        anna.contains("admin") && anna.contains("a@firm.ru"),
        "{anna}"
    );

    assert!(fails(c, &["users", "set", "123", "--name", "X"]).contains("no user 123"));
    assert!(fails(c, &["users", "remove", "123"]).contains("no user 123"));
    ok(c, &["users", "remove", "7000009"]);
    assert!(!ok(c, &["users", "list"]).contains("Борис"));

    // Every change is audited and bumps the revision.
    let db = read_only(&s.db);
    let audited: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE entity = 'users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 4);
    let by: String = db
        .query_row(
            "SELECT json_object('by', by, 'old', json(old), 'new', json(new)) FROM audit_log
             WHERE entity = 'users' AND old || new LIKE '%admin%' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        by.contains("\"by\":\"7000009\"") && by.contains("accountant"),
        "{by}"
    );
    assert_eq!(settings::revision(&db).unwrap(), 4);
}

#[test]
fn chats_set_validates_and_show_prints_the_effective_settings_with_sources() {
    let s = setup("");
    let c = &s.config;
    let id = CHAT.to_string();
    let show = ok(c, &["chats", "show", &id]);
    assert!(
        show.contains("threshold_minutes            60 (configuration)"),
        "{show}"
    );
    assert!(show.contains("7000001, 7000002 (configuration)"), "{show}");

    let err = fails(c, &["chats", "set", &id, "--threshold", "500"]);
    assert!(err.contains("threshold") && err.contains("500"), "{err}");
    let err = fails(c, &["chats", "set", &id, "--warning-percent", "100"]);
    assert!(err.contains("100"), "{err}");
    let err = fails(c, &["chats", "set", &id, "--escalation-interval", "4"]);
    assert!(
        err.contains("escalation interval") && err.contains('4'),
        "{err}"
    );
    let err = fails(c, &["chats", "set", &id, "--max-escalations", "11"]);
    assert!(err.contains("11"), "{err}");
    assert!(fails(c, &["chats", "show", "-100555"]).contains("no chat -100555"));
    let err = fails(
        c,
        &[
            "chats",
            "set",
            &id,
            "--invite-link",
            "http://evil.example/x",
        ],
    );
    assert!(err.contains("invalid invite link"), "{err}");
    assert!(fails(c, &["chats", "set", "-100555", "--sla", "off"]).contains("no chat -100555"));
    // A rejected change wrote nothing: the chat has no row yet.
    assert!(chats::get(&read_only(&s.db), CHAT).unwrap().is_none());

    ok(
        c,
        &[
            "chats",
            "set",
            &id,
            "--threshold",
            "30",
            "--sla",
            "off",
            "--add-accountant",
            "7000003",
            "--remove-accountant",
            "7000001",
            "--title",
            "Ромашка",
        ],
    );
    let show = ok(c, &["chats", "show", &id]);
    assert!(
        show.contains("threshold_minutes            30 (store)"),
        "{show}"
    );
    assert!(
        show.contains("warning_percent              80 (configuration)"),
        "{show}"
    );
    assert!(
        show.contains("sla                          off (store)"),
        "{show}"
    );
    assert!(
        show.contains("accountants                  7000002, 7000003 (store)"),
        "{show}"
    );
    assert!(
        show.contains("managers                     7000009 (store)"),
        "seeded: {show}"
    );
    assert!(
        show.contains("Ромашка (store)") && show.contains("paused"),
        "{show}"
    );

    // A calendar snippet is validated with the configuration's reader.
    let bad = s.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "timezone = \"Mars/Olympus\"\n[week]\nmon = [\"09:00-25:00\"]\n",
    )
    .unwrap();
    let err = fails(
        c,
        &[
            "chats",
            "set",
            &id,
            "--calendar-file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("Mars/Olympus") && err.contains("calendar.week.mon"),
        "{err}"
    );
    let good = s.dir.path().join("good.toml");
    std::fs::write(&good, "[calendar]\ntimezone = \"Asia/Yekaterinburg\"\n").unwrap();
    ok(
        c,
        &[
            "chats",
            "set",
            &id,
            "--calendar-file",
            good.to_str().unwrap(),
        ],
    );
    assert!(ok(c, &["chats", "show", &id]).contains("Asia/Yekaterinburg (store)"));
    assert!(ok(c, &["chats", "list"]).contains("Asia/Yekaterinburg*"));
    ok(
        c,
        &[
            "chats",
            "set",
            &id,
            "--clear-calendar",
            "--threshold",
            "default",
            "--sla",
            "on",
        ],
    );
    let show = ok(c, &["chats", "show", &id]);
    assert!(show.contains("Europe/Moscow (configuration)"), "{show}");
    assert!(
        show.contains("threshold_minutes            60 (configuration)"),
        "{show}"
    );
    assert!(!show.contains("paused"), "{show}");
    ok(
        c,
        &[
            "chats",
            "set",
            &id,
            "--invite-link",
            "https://t.me/+AbCdEf123",
        ],
    );
    let show = ok(c, &["chats", "show", &id]);
    assert!(
        show.contains("invite_link                  https://t.me/+AbCdEf123"),
        "{show}"
    );
    ok(c, &["chats", "set", &id, "--invite-link", "none"]);
    assert!(ok(c, &["chats", "show", &id]).contains("invite_link                  -"));
}

#[test]
fn the_store_overrides_the_configuration_in_the_engine() {
    let s = setup("");
    let config = Arc::new(Config::load(Some(&s.config)).unwrap());
    let (store, _) = Store::open_migrated(&s.db).unwrap();
    let change = |f: &dyn Fn(&rusqlite::Connection)| {
        let mut conn = store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        f(&tx);
        tx.commit().unwrap();
    };
    let engine = |conn: &Store| {
        Engine::from_config_and_store(config.clone(), &conn.conn().unwrap()).unwrap()
    };
    assert_eq!(engine(&store).policy(CHAT).threshold_minutes, 60);

    change(&|tx| {
        chats::ensure(tx, CHAT, "", "cli", 0).unwrap();
        let threshold = Some(Override::Value(30));
        chats::update(
            tx,
            CHAT,
            ChatChange {
                threshold_minutes: threshold,
                ..Default::default()
            },
            "cli",
            0,
        )
        .unwrap();
        chats::set_staff(tx, CHAT, 7000005, ChatRole::Accountant, true, "cli", 0).unwrap();
    });
    let e = engine(&store);
    assert_eq!(e.policy(CHAT).threshold_minutes, 30);
    assert_eq!(
        e.policy(CHAT).warning_percent,
        80,
        "NULL keeps the configuration's"
    );
    let accountants: Vec<i64> = e.context(CHAT).accountants.into_iter().collect();
    assert_eq!(
        accountants,
        [7000005],
        "store staff replace the configuration's"
    );
    let r = ingest(
        &store,
        &e,
        &msg(1, 5000001, "2025-01-13T10:00:00+03:00", "Где акт сверки?"),
    );
    assert_eq!(r.opened, 1);
    let row = buhbot::store::requests::by_message(&store.conn().unwrap(), CHAT, 1)
        .unwrap()
        .unwrap();
    assert_eq!(row.threshold_minutes, 30);

    // SLA off: the message is logged, no request is opened.
    change(&|tx| {
        let off = ChatChange {
            sla_enabled: Some(false),
            ..Default::default()
        };
        chats::update(tx, CHAT, off, "cli", 0).unwrap();
    });
    let e = engine(&store);
    assert!(!e.tracks(CHAT));
    let r = ingest(
        &store,
        &e,
        &msg(
            2,
            5000001,
            "2025-01-13T11:00:00+03:00",
            "Пришлите счёт, пожалуйста",
        ),
    );
    assert_eq!((r.duplicate, r.opened), (false, 0));
    let conn = store.conn().unwrap();
    let logged: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE message_id = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(logged, 1);
    assert!(
        buhbot::store::requests::by_message(&conn, CHAT, 2)
            .unwrap()
            .is_none()
    );
    // An accountant's answer closes nothing while paused.
    let r = ingest(
        &store,
        &e,
        &msg(3, 7000005, "2025-01-13T11:05:00+03:00", "Отправила"),
    );
    assert_eq!(r.answered, 0);
    drop(conn);

    // The stored calendar replaces the chat's; `requests list` shows it.
    change(&|tx| {
        chats::set_calendar(
            tx,
            CHAT,
            Some("timezone = \"Asia/Yekaterinburg\""),
            &config.calendar,
            Path::new(""),
            None,
            "cli",
            0,
        )
        .unwrap();
    });
    let e = engine(&store);
    assert_eq!(
        e.calendar(CHAT).spec().timezone,
        chrono_tz::Asia::Yekaterinburg
    );
    let out = ok(
        &s.config,
        &["requests", "list", "--open", "--chat", &CHAT.to_string()],
    );
    assert!(
        out.contains("2025-01-13 12:00") && out.contains("Asia/Yekaterinburg"),
        "{out}"
    );
    assert!(
        out.contains("open") && out.contains(" min") && out.contains("1 request(s)"),
        "{out}"
    );
}

#[test]
fn chat_settings_take_effect_in_the_running_daemon_without_sighup() {
    let s = setup("");
    let events = s.dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        r#"{"chat_id": -1001987654321, "message_id": 1, "date": "2025-01-13T07:00:00Z", "from": 5000001, "text": "Где акт сверки?"}
"#,
    )
    .unwrap();
    let mut child = start(&s, &format!("replay:{}", events.display()), "daemon.log");
    let breach_due = |s: &crate::daemon::Setup| -> Option<i64> {
        read_only(&s.db)
            .query_row("SELECT due_at FROM timers WHERE kind = 'breach'", [], |r| {
                r.get(0)
            })
            .ok()
    };
    let wait = |what: &str, f: &dyn Fn() -> bool, child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(
                child.try_wait().unwrap().is_none() && Instant::now() < deadline,
                "waiting for {what}: {}",
                log_tail(&s)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(
        "the request",
        &|| s.db.exists() && breach_due(&s).is_some(),
        &mut child,
    );
    assert_eq!(
        breach_due(&s),
        Some(1_736_755_200),
        "10:00 + 60 working minutes"
    );

    let set_at = Instant::now();
    ok(
        &s.config,
        &[
            "chats",
            "set",
            &CHAT.to_string(),
            "--threshold",
            "30",
            "--by",
            "7000009",
        ],
    );
    // 30 working minutes from 10:00, the time already used kept.
    wait(
        "the re-timed breach",
        &|| breach_due(&s) == Some(1_736_753_400),
        &mut child,
    );
    assert!(
        set_at.elapsed() < Duration::from_secs(10),
        "applied within seconds"
    );
    let log = std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("chat settings changed"), "{log}");
    assert!(
        !log.contains("configuration reloaded"),
        "no SIGHUP involved"
    );
    let status = stop(child);
    assert!(status.success(), "{status}");
}

#[test]
fn a_calendar_snippet_replaces_only_the_keys_it_sets() {
    let base = buhbot::domain::calendar::CalendarSpec {
        shortened_day_minutes: 30,
        ..Default::default()
    };
    let plain = "timezone = \"Asia/Novosibirsk\"\n[week]\nsat = [\"10:00-14:00\"]\n";
    let wrapped = format!("[calendar]\n{}", plain.replace("[week]", "[calendar.week]"));
    for text in [plain, wrapped.as_str()] {
        let spec = buhbot::config::parse_calendar_snippet(text, &base).unwrap();
        assert_eq!(spec.timezone, chrono_tz::Asia::Novosibirsk, "{text}");
        assert_eq!(spec.shortened_day_minutes, 30, "inherited: {text}");
        assert_eq!(spec.week[5].len(), 1);
        assert!(
            spec.week[0].is_empty(),
            "a week given replaces the whole week"
        );
    }
    let problems = buhbot::config::parse_calendar_snippet("colour = 1\n", &base).unwrap_err();
    assert_eq!(problems[0].key, "calendar.colour", "{problems:?}");
}
