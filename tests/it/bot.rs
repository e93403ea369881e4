//! The bot's commands: parsing, authorisation by role against the store,
//! the settings they change (through `store::chats`, seen by the engine),
//! the reports, and the per-user rate limit.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use buhbot::bot::parse::{Command, Hours, ParseError, Sla, Target, parse};
use buhbot::bot::{CommandContext, RateLimit, Reply, Verdict, handle, ratelimit, respond};
use buhbot::domain::calendar::Interval;
use buhbot::store::chats::ChatRole;
use buhbot::store::{chats, settings, write_tx};
use buhbot::telegram::outbound::{Enqueued, Kind, queue};
use chrono::{DateTime, Utc};
use governor::clock::FakeRelativeClock;

const CHAT: i64 = -1001987654321;
const ADMIN: i64 = 7000100;
const MANAGER: i64 = 7000101;
const ACCOUNTANT: i64 = 7000001;
const OBSERVER: i64 = 7000103;
/// A manager of CHAT in the configuration only (not in `users`).
const CHAT_MANAGER: i64 = 7000009;
const NEW_ACCOUNTANT: i64 = 7000104;
const CLIENT: i64 = 5000001;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

struct Env(crate::StaffEnv);

impl std::ops::Deref for Env {
    type Target = crate::StaffEnv;
    fn deref(&self) -> &crate::StaffEnv {
        &self.0
    }
}

impl Env {
    fn new() -> Env {
        Env(crate::StaffEnv::new(
            &format!(
                "[[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACCOUNTANT}]\n\
                 managers = [{CHAT_MANAGER}]\n"
            ),
            &[
                (ADMIN, "admin", "Сотрудник 1", Some("boss")),
                (MANAGER, "manager", "Сотрудник 2", Some("manager1")),
                (ACCOUNTANT, "accountant", "Сотрудник 3", Some("ivanova")),
                (OBSERVER, "observer", "Сотрудник 4", Some("watcher")),
                (NEW_ACCOUNTANT, "accountant", "Сотрудник 5", Some("Petrova")),
            ],
        ))
    }

    fn run(&self, ctx: CommandContext, cmd: Command) -> Reply {
        let engine = self.engine();
        let mut conn = self.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let reply = handle(&tx, &engine, ctx, cmd).unwrap();
        tx.commit().unwrap();
        reply
    }

    fn revision(&self) -> i64 {
        settings::revision(&self.store.conn().unwrap()).unwrap()
    }

    fn staff(&self) -> Vec<(i64, ChatRole)> {
        chats::staff(&self.store.conn().unwrap(), CHAT).unwrap()
    }

    fn ingest(&self, id: i64, from: i64, at: &str, text: &str) {
        let ev = crate::user_message(CHAT, id, from, t(at), text);
        crate::ingest_one(&self.store, &self.engine(), &ev);
    }
}

fn ctx(from: i64, private: bool) -> CommandContext {
    CommandContext {
        chat_id: if private { from } else { CHAT },
        chat_is_private: private,
        from,
        message_id: 42,
        reply_to: None,
        reply_to_author: None,
        mention_ids: Vec::new(),
        bot_reads_all: None,
        sender_is_chat_admin: None,
        now: t("2025-01-13T12:00:00+03:00"),
    }
}

fn hours(days: &[usize], spans: &[&str]) -> Hours {
    let mut week: [Vec<Interval>; 7] = Default::default();
    for &d in days {
        week[d] = spans.iter().map(|s| Interval::parse(s).unwrap()).collect();
    }
    Hours { week }
}

#[test]
fn parses_the_command_table() {
    let mention = |s: &str| Target::Mention(s.into());
    let table: Vec<(&str, Command)> = vec![
        ("/start", Command::Start),
        ("/help", Command::Help),
        ("/HELP please", Command::Help),
        ("/diagnose", Command::Diagnose),
        ("/mystats", Command::MyStats),
        ("/mychats", Command::MyChats),
        ("/open", Command::Open),
        ("/sla on", Command::Sla(Sla::On)),
        ("/sla OFF", Command::Sla(Sla::Off)),
        ("/sla 30", Command::Sla(Sla::Threshold(30))),
        ("/sla@buhbot_bot 30", Command::Sla(Sla::Threshold(30))),
        ("/sla@BuhBot_Bot   45 ", Command::Sla(Sla::Threshold(45))),
        (
            "/accountant add @petrova",
            Command::Accountant {
                add: true,
                target: mention("@petrova"),
            },
        ),
        (
            "/accountant remove",
            Command::Accountant {
                add: false,
                target: Target::RepliedTo,
            },
        ),
        (
            "/accountant add Мария Петрова",
            Command::Accountant {
                add: true,
                target: mention("Мария Петрова"),
            },
        ),
        (
            "/hours mon-fri 09:00-18:00",
            Command::Hours(hours(&[0, 1, 2, 3, 4], &["09:00-18:00"])),
        ),
        (
            "/hours mon,wed 09:00-13:00 14:00-18:00",
            Command::Hours(hours(&[0, 2], &["09:00-13:00", "14:00-18:00"])),
        ),
        (
            "/hours sat-sun 10:00-14:00",
            Command::Hours(hours(&[5, 6], &["10:00-14:00"])),
        ),
    ];
    for (text, want) in table {
        assert_eq!(parse(text, Some("buhbot_bot")), Ok(Some(want)), "{text}");
    }
    // Two groups of days in one command.
    let Ok(Some(Command::Hours(h))) = parse("/hours mon-fri 09:00-18:00 sat 10:00-14:00", None)
    else {
        panic!("not parsed")
    };
    assert_eq!(h.week[4].len(), 1);
    assert_eq!(h.week[5][0].to_string(), "10:00-14:00");
    assert!(h.week[6].is_empty());
    // Not ours: plain text, another bot's command.
    assert_eq!(parse("где мой счёт?", Some("buhbot_bot")), Ok(None));
    assert_eq!(parse("/sla@other_bot 30", Some("buhbot_bot")), Ok(None));
}

#[test]
fn bad_commands_get_a_russian_usage_hint() {
    for text in [
        "/sla",
        "/sla soon",
        "/accountant hire @x",
        "/hours",
        "/hours mon-fri",
        "/hours 09:00-18:00",
        "/hours funday 09:00-18:00",
        "/hours mon 09:00-13:00 12:00-18:00",
        "/hours mon 09:00-18:00 mon 10:00-11:00",
        "/hours mon 25:00-26:00",
    ] {
        let err = parse(text, None).unwrap_err();
        assert!(matches!(err, ParseError::Usage { .. }), "{text}: {err:?}");
        assert!(err.hint().contains("Формат: /"), "{text}: {}", err.hint());
    }
    let unknown = parse("/frobnicate", None).unwrap_err();
    assert_eq!(unknown, ParseError::Unknown("frobnicate".into()));
    assert!(unknown.hint().contains("/help"));
}

#[test]
fn hours_produce_a_snippet_the_calendar_reader_accepts() {
    let Ok(Some(Command::Hours(h))) = parse(
        "/hours mon-thu 09:00-13:00 14:00-18:00 fri 09:00-16:45",
        None,
    ) else {
        panic!("not parsed")
    };
    let snippet = h.snippet();
    assert!(snippet.starts_with("[calendar.week]\n"), "{snippet}");
    let base = buhbot::domain::calendar::CalendarSpec::default();
    let spec = buhbot::config::parse_calendar_snippet(&snippet, &base).unwrap();
    assert_eq!(spec.week[0], h.week[0]);
    assert_eq!(spec.week[4][0].to_string(), "09:00-16:45");
    assert!(spec.week[5].is_empty() && spec.week[6].is_empty());
    assert_eq!(spec.timezone, base.timezone, "only the week is replaced");
}

/// Every settings command, as each role, in the group and in private.
#[test]
fn settings_commands_are_for_managers_and_admins_in_groups() {
    let commands = || {
        vec![
            Command::Sla(Sla::Threshold(30)),
            Command::Sla(Sla::Off),
            Command::Accountant {
                add: true,
                target: Target::RepliedTo,
            },
            Command::Hours(hours(&[0, 1, 2, 3, 4], &["10:00-19:00"])),
        ]
    };
    let roles = [
        (CLIENT, false),
        (OBSERVER, false),
        (ACCOUNTANT, false),
        (CHAT_MANAGER, true),
        (MANAGER, true),
        (ADMIN, true),
    ];
    for (who, allowed) in roles {
        for private in [false, true] {
            for cmd in commands() {
                let env = Env::new();
                let before = (env.revision(), env.staff());
                let mut c = ctx(who, private);
                c.reply_to_author = Some(NEW_ACCOUNTANT);
                let reply = env.run(c, cmd.clone());
                assert_eq!(reply.to_chat, if private { who } else { CHAT });
                let changed = (env.revision(), env.staff()) != before;
                assert_eq!(
                    changed,
                    allowed && !private,
                    "user {who}, private {private}, {cmd:?}: {}",
                    reply.text_html
                );
                if !changed {
                    assert!(
                        reply.text_html.starts_with("Извините")
                            || reply.text_html.contains("групповом"),
                        "{}",
                        reply.text_html
                    );
                }
            }
        }
    }
}

#[test]
fn read_commands_are_for_staff_where_they_belong() {
    let env = Env::new();
    let rev = env.revision();
    for who in [CLIENT, OBSERVER, ACCOUNTANT, CHAT_MANAGER, MANAGER, ADMIN] {
        let staff = who != CLIENT;
        let d = env.run(ctx(who, false), Command::Diagnose).text_html;
        assert_eq!(d.contains("Диагностика"), staff, "{who}: {d}");
        let d = env.run(ctx(who, true), Command::Diagnose).text_html;
        assert!(!d.contains("Диагностика"), "{who}: {d}");
        // The group's own administrators may diagnose it, staff or not.
        let admin_of_group = CommandContext {
            sender_is_chat_admin: Some(true),
            ..ctx(who, false)
        };
        let d = env.run(admin_of_group, Command::Diagnose).text_html;
        assert!(d.contains("Диагностика"), "{who}: {d}");
        for cmd in [Command::MyStats, Command::MyChats, Command::Open] {
            let r = env.run(ctx(who, true), cmd.clone()).text_html;
            assert_eq!(!r.starts_with("Извините"), staff, "{who} {cmd:?}: {r}");
            let r = env.run(ctx(who, false), cmd.clone()).text_html;
            if staff {
                assert!(r.contains("личном чате"), "{who} {cmd:?}: {r}");
            } else {
                assert!(r.starts_with("Извините"), "{r}");
            }
        }
        let help = env.run(ctx(who, true), Command::Help).text_html;
        assert_eq!(help.contains("/mystats"), staff, "{help}");
        let manager = matches!(who, MANAGER | ADMIN | CHAT_MANAGER);
        assert_eq!(help.contains("/sla 30"), manager, "{who}: {help}");
    }
    assert_eq!(env.revision(), rev, "reading changes nothing");
}

#[test]
fn sla_30_moves_the_chat_threshold_and_bad_values_change_nothing() {
    let env = Env::new();
    assert_eq!(env.engine().policy(CHAT).threshold_minutes, 60);
    let r = env.run(ctx(MANAGER, false), Command::Sla(Sla::Threshold(30)));
    assert!(
        r.text_html.contains("30 рабочих минут (было 60)"),
        "{}",
        r.text_html
    );
    // The reply goes back to the group, through the outbound queue, once.
    let out = r.outbound(42);
    assert_eq!(
        (out.chat_id, out.kind, out.reply_to),
        (CHAT, Kind::Reply, Some(42))
    );
    let conn = env.store.conn().unwrap();
    let first = queue::enqueue(&conn, &out, 0).unwrap();
    assert_eq!(
        queue::enqueue(&conn, &out, 1).unwrap(),
        Enqueued::Duplicate(first.id())
    );
    drop(conn);
    assert_eq!(env.engine().policy(CHAT).threshold_minutes, 30);
    let row = chats::get(&env.store.conn().unwrap(), CHAT)
        .unwrap()
        .unwrap();
    assert_eq!(row.threshold_minutes, Some(30));
    let d = env.run(ctx(ACCOUNTANT, false), Command::Diagnose).text_html;
    assert!(d.contains("Порог ответа: 30 рабочих минут"), "{d}");

    let rev = env.revision();
    let r = env.run(ctx(ADMIN, false), Command::Sla(Sla::Threshold(999)));
    assert!(r.text_html.contains("от 1 до 480"), "{}", r.text_html);
    assert_eq!(env.revision(), rev);
    assert_eq!(env.engine().policy(CHAT).threshold_minutes, 30);

    env.run(ctx(ADMIN, false), Command::Sla(Sla::Off));
    assert!(!env.engine().tracks(CHAT));
    let d = env.run(ctx(ADMIN, false), Command::Diagnose).text_html;
    assert!(d.contains("Контроль сроков (SLA): выключен"), "{d}");
}

#[test]
fn a_refused_change_leaves_no_trace() {
    // The very first change of a configuration-only chat also creates its
    // store row: a refusal must undo that too.
    let env = Env::new();
    let rev = env.revision();
    let r = env.run(ctx(ADMIN, false), Command::Sla(Sla::Threshold(0)));
    assert!(
        r.text_html.contains("Настройки не изменены"),
        "{}",
        r.text_html
    );
    assert_eq!(env.revision(), rev);
    assert!(
        chats::get(&env.store.conn().unwrap(), CHAT)
            .unwrap()
            .is_none()
    );
}

#[test]
fn hours_are_stored_as_the_chats_calendar() {
    let env = Env::new();
    let Ok(Some(cmd)) = parse("/hours mon-fri 10:00-13:00 14:00-19:00", None) else {
        panic!()
    };
    let r = env.run(ctx(CHAT_MANAGER, false), cmd);
    assert!(
        r.text_html.contains("пн–пт 10:00-13:00, 14:00-19:00"),
        "{}",
        r.text_html
    );
    let snippet = chats::calendar(&env.store.conn().unwrap(), CHAT)
        .unwrap()
        .unwrap();
    assert!(
        snippet.contains("mon = [\"10:00-13:00\", \"14:00-19:00\"]"),
        "{snippet}"
    );
    let e = env.engine();
    assert_eq!(
        e.calendar(CHAT).spec().week[0][0].to_string(),
        "10:00-13:00"
    );
    assert!(e.calendar(CHAT).spec().week[5].is_empty());
}

#[test]
fn accountant_add_by_reply_and_by_mention_is_stored_by_user_id() {
    let env = Env::new();
    let mut c = ctx(MANAGER, false);
    c.reply_to_author = Some(NEW_ACCOUNTANT);
    let r = env.run(
        c,
        Command::Accountant {
            add: true,
            target: Target::RepliedTo,
        },
    );
    assert!(r.text_html.contains("теперь бухгалтер"), "{}", r.text_html);
    let acc = |env: &Env| -> Vec<i64> {
        env.staff()
            .into_iter()
            .filter(|&(_, r)| r == ChatRole::Accountant)
            .map(|(u, _)| u)
            .collect()
    };
    // The configuration's accountant was kept when the store took over.
    assert_eq!(acc(&env), [ACCOUNTANT, NEW_ACCOUNTANT]);
    assert!(
        env.engine()
            .context(CHAT)
            .accountants
            .contains(&NEW_ACCOUNTANT)
    );

    // By @username (case-insensitive), resolved through `users`.
    let remove = |who: &str| Command::Accountant {
        add: false,
        target: Target::Mention(who.into()),
    };
    let mut c = ctx(ADMIN, false);
    c.mention_ids = vec![("@petrova".into(), None)];
    env.run(c, remove("@petrova"));
    assert_eq!(acc(&env), [ACCOUNTANT]);

    // By a text mention: Telegram gave the id.
    let mut c = ctx(ADMIN, false);
    c.mention_ids = vec![("Мария".into(), Some(NEW_ACCOUNTANT))];
    env.run(
        c,
        Command::Accountant {
            add: true,
            target: Target::Mention("Мария".into()),
        },
    );
    assert_eq!(acc(&env), [ACCOUNTANT, NEW_ACCOUNTANT]);

    // A client cannot be made an accountant; an unknown name is refused.
    let rev = env.revision();
    let mut c = ctx(ADMIN, false);
    c.reply_to_author = Some(CLIENT);
    let r = env.run(
        c,
        Command::Accountant {
            add: true,
            target: Target::RepliedTo,
        },
    );
    assert!(
        r.text_html.contains("не числится сотрудником"),
        "{}",
        r.text_html
    );
    let r = env.run(ctx(ADMIN, false), remove("@nobody"));
    assert!(
        r.text_html.contains("Не удалось определить"),
        "{}",
        r.text_html
    );
    assert_eq!(env.revision(), rev);
}

#[test]
fn open_lists_the_oldest_first_with_working_minutes() {
    let env = Env::new();
    env.ingest(
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где акт сверки за декабрь?",
    );
    env.ingest(
        2,
        CLIENT + 1,
        "2025-01-13T11:00:00+03:00",
        "Пришлите счёт на оплату",
    );
    env.ingest(
        3,
        CLIENT + 2,
        "2025-01-10T17:30:00+03:00",
        "Когда будет отчёт по НДС?",
    );
    let r = env.run(ctx(ACCOUNTANT, true), Command::Open).text_html;
    let pos = |s: &str| r.find(s).unwrap_or_else(|| panic!("{s} not in {r}"));
    // Friday 17:30 → Monday 12:00: 30 + 180 working minutes.
    assert!(
        pos("НДС") < pos("акт сверки") && pos("акт сверки") < pos("счёт"),
        "{r}"
    );
    assert!(r.contains("ждёт 210 рабочих минут"), "{r}");
    assert!(r.contains("ждёт 120 рабочих минут"), "{r}");
    assert!(r.contains("ждёт 60 рабочих минут"), "{r}");
    assert!(r.contains("Ожидают ответа: 3"), "{r}");

    let chats = env.run(ctx(ACCOUNTANT, true), Command::MyChats).text_html;
    assert!(
        chats.contains("ООО Ромашка") && chats.contains("открытых запросов: 3"),
        "{chats}"
    );
    // An observer is listed in no chat.
    let none = env.run(ctx(OBSERVER, true), Command::Open).text_html;
    assert!(none.contains("Открытых запросов нет"), "{none}");
}

/// `/open` counts waiting time as the alerts do: the time used under the
/// calendar in force before a `/hours` change stays used, and only the
/// working time of the new calendar is added.
#[test]
fn open_keeps_the_time_used_before_a_calendar_change() {
    let env = Env::new();
    let old = env.engine();
    env.ingest(
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где акт сверки за декабрь?",
    );
    let noon = t("2025-01-13T12:00:00+03:00");
    let afternoon_only = Command::Hours(hours(&[0, 1, 2, 3, 4], &["15:00-18:00"]));
    let manager = CommandContext {
        now: noon,
        ..ctx(CHAT_MANAGER, false)
    };
    env.run(manager, afternoon_only);
    // What the daemon does when the settings revision moves.
    let new = env.engine();
    let mut conn = env.store.conn().unwrap();
    let tx = write_tx(&mut conn).unwrap();
    assert_eq!(new.retime(&tx, &old, noon).unwrap(), 1);
    tx.commit().unwrap();
    // 10:00–12:00 used on the old hours; 12:00–13:00 is outside the new.
    let at_one = CommandContext {
        now: t("2025-01-13T13:00:00+03:00"),
        ..ctx(ACCOUNTANT, true)
    };
    let r = env.run(at_one, Command::Open).text_html;
    assert!(r.contains("ждёт 120 рабочих минут"), "{r}");
}

/// Commands and buttons decide on the settings in the store now, not on
/// the running engine's snapshot (which the daemon refreshes a moment
/// later); an engine that is current answers from its own copy.
#[test]
fn decisions_use_the_settings_in_force() {
    let env = Env::new();
    let snapshot = env.engine();
    let conn = env.store.conn().unwrap();
    let before = snapshot.effective(&conn).unwrap();
    assert!(Arc::ptr_eq(&before, &snapshot.effective(&conn).unwrap()));
    env.run(ctx(CHAT_MANAGER, false), Command::Sla(Sla::Threshold(30)));
    let after = snapshot.effective(&conn).unwrap();
    assert_eq!(before.config.chats[&CHAT].policy.threshold_minutes, 60);
    assert_eq!(after.config.chats[&CHAT].policy.threshold_minutes, 30);
    assert!(after.revision > before.revision);
}

#[test]
fn mystats_counts_answers_median_and_compliance() {
    let env = Env::new();
    env.ingest(
        1,
        CLIENT,
        "2025-01-13T10:00:00+03:00",
        "Где акт сверки за декабрь?",
    );
    env.ingest(
        2,
        ACCOUNTANT,
        "2025-01-13T10:20:00+03:00",
        "Добрый день, отправила акт.",
    );
    env.ingest(
        3,
        CLIENT,
        "2025-01-13T10:40:00+03:00",
        "Пришлите счёт на оплату",
    );
    let r = env.run(ctx(ACCOUNTANT, true), Command::MyStats).text_html;
    assert!(r.contains("Запросов клиентов: 2"), "{r}");
    assert!(r.contains("Отвечено: 1"), "{r}");
    assert!(
        r.contains("Медиана времени ответа: 20 рабочих минут"),
        "{r}"
    );
    assert!(r.contains("Соблюдение срока: 100% (1 из 1)"), "{r}");
}

fn limiter() -> (RateLimit<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (
        RateLimit::with_clock(NonZeroU32::new(10).unwrap(), clock.clone()),
        clock,
    )
}

#[test]
fn the_rate_limit_notifies_once_per_window_and_exempts_staff() {
    let (limit, clock) = limiter();
    let verdicts: Vec<Verdict> = (0..15).map(|_| limit.check(CLIENT, false)).collect();
    assert!(verdicts[..10].iter().all(|v| *v == Verdict::Allowed));
    assert_eq!(verdicts[10], Verdict::Limited { notify: true });
    assert!(
        verdicts[11..]
            .iter()
            .all(|v| *v == Verdict::Limited { notify: false })
    );
    assert!((0..15).all(|_| limit.check(ACCOUNTANT, true) == Verdict::Allowed));
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        limit.check(CLIENT, false),
        Verdict::Limited { notify: false }
    );
    assert_eq!(limit.check(CLIENT + 1, false), Verdict::Allowed, "per user");
    clock.advance(Duration::from_secs(2));
    assert_eq!(limit.check(CLIENT, false), Verdict::Allowed);
    // Pruning forgets users whose quota refilled (not those still counted).
    assert_eq!(limit.tracked(), 2);
    clock.advance(Duration::from_secs(61));
    limit.prune();
    assert_eq!(limit.tracked(), 0, "the maps must not grow with every user");
}

#[test]
fn fifteen_commands_in_a_minute_get_one_polite_reply() {
    let env = Env::new();
    let engine = env.engine();
    let (limit, clock) = limiter();
    let send = |from: i64, text: &str| -> Option<Reply> {
        let mut conn = env.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let r = respond(
            &tx,
            &engine,
            &limit,
            ctx(from, true),
            text,
            Some("buhbot_bot"),
        )
        .unwrap();
        tx.commit().unwrap();
        r
    };
    let replies: Vec<Option<Reply>> = (0..15).map(|_| send(CLIENT, "/help")).collect();
    let notices = replies
        .iter()
        .flatten()
        .filter(|r| r.text_html == ratelimit::NOTICE_HTML)
        .count();
    assert_eq!(notices, 1);
    assert_eq!(
        replies.iter().flatten().count(),
        11,
        "10 answers and the notice"
    );
    assert!(replies[11..].iter().all(Option::is_none));
    // Commands are not executed during the window; staff are exempt.
    clock.advance(Duration::from_secs(30));
    assert_eq!(send(CLIENT, "/start"), None);
    for _ in 0..15 {
        let r = send(MANAGER, "/mychats").unwrap();
        assert!(r.text_html.contains("Ваши чаты"), "{}", r.text_html);
    }
    // After the window the client is answered again.
    clock.advance(Duration::from_secs(31));
    let r = send(CLIENT, "/help").unwrap();
    assert!(r.text_html.contains("Здравствуйте"), "{}", r.text_html);
    // Group chatter is never counted nor answered.
    let mut conn = env.store.conn().unwrap();
    let tx = write_tx(&mut conn).unwrap();
    for _ in 0..30 {
        let r = respond(
            &tx,
            &engine,
            &limit,
            ctx(CLIENT + 5, false),
            "спасибо!",
            None,
        )
        .unwrap();
        assert_eq!(r, None);
    }
    assert_eq!(limit.check(CLIENT + 5, false), Verdict::Allowed);
}
