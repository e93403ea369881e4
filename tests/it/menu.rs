//! The client menu through the bot's command path, the button presses
//! (`on_callback` in a write transaction, as the Telegram bridge runs it),
//! the real store and the outbound queue (and its sender on the recording
//! Telegram fake): `/menu` posts the three buttons; the hours over a
//! calendar with a holiday; the FAQ list and its answers; the contact
//! escalation chain accountant → chat manager → the firm's managers with
//! time as a parameter, stopped by a staff answer or «Беру», a level with
//! nobody skipped, a repeated press not re-notifying, and a restart (or a
//! crash mid-step) between steps losing and repeating nothing.

use buhbot::bot::buttons::MenuAction;
use buhbot::bot::callback::{CallbackOutcome, CallbackPress, on_callback};
use buhbot::bot::contact::{self, Escalated};
use buhbot::bot::menu;
use buhbot::bot::{Command, CommandContext, handle, parse};
use buhbot::store::{contacts, faq, write_tx};
use buhbot::telegram::outbound::queue;
use chrono::{DateTime, Duration, Utc};

use crate::t;

const CHAT: i64 = -1001777000001;
/// No managers of its own: level 2 is skipped.
const NO_MANAGER: i64 = -1001777000002;
/// No accountants: the chat's manager is told first.
const NO_ACCOUNTANT: i64 = -1001777000003;
const ACC: i64 = 7300001;
const CHAT_MGR: i64 = 7300002;
const GLOBAL: i64 = 7300003;
const CLIENT: i64 = 5300001;
const OTHER_CLIENT: i64 = 5300002;
/// The menu message the buttons are on.
const MENU_MSG: i64 = 900;

struct Env(crate::StaffEnv);

impl Env {
    fn new() -> Env {
        // Monday 2025-01-13 is a working day, Tuesday 14th a holiday.
        Env(crate::StaffEnv::new(
            &format!(
                "[calendar]\ntimezone = \"Europe/Moscow\"\nholidays = [\"2025-01-14\"]\n\
                 [alerts]\nmanagers = [{GLOBAL}]\n\
                 [menu]\ncontact_escalate_minutes = 30\n\
                 [[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACC}]\n\
                 managers = [{CHAT_MGR}]\n\
                 [[chats]]\nid = {NO_MANAGER}\ntitle = \"ИП Лютиков\"\naccountants = [{ACC}]\n\
                 [[chats]]\nid = {NO_ACCOUNTANT}\ntitle = \"ООО Василёк\"\n\
                 managers = [{CHAT_MGR}]\n"
            ),
            &[
                (ACC, "accountant", "Иванова", None),
                (GLOBAL, "manager", "Смирнова", None),
            ],
        ))
    }

    /// A client's (or staff member's) message through the ingest batch as
    /// on a live source.
    fn say(&self, chat: i64, id: i64, from: i64, at: DateTime<Utc>, text: &str) {
        let mut ev = crate::user_message(chat, id, from, at, text);
        ev.sender_name = Some(
            if from == CLIENT {
                "Анна Смирнова"
            } else {
                "Кто-то"
            }
            .into(),
        );
        crate::apply_one(&self.0, ev, Some(&buhbot::bot::faq::FaqCache::default()));
    }

    /// A press of `data` in `chat` by `user`, decided and queued in one
    /// transaction as the bridge does.
    fn press(&self, chat: i64, user: i64, data: &str, now: DateTime<Utc>) -> CallbackOutcome {
        let engine = self.0.engine();
        let mut conn = self.0.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let press = CallbackPress {
            query_id: now.timestamp() * 10 + user % 10,
            chat_id: chat,
            message_id: MENU_MSG,
            user_id: user,
            data: data.as_bytes().to_vec(),
        };
        let out = on_callback(&tx, &engine, &press, now).unwrap();
        out.enqueue(&tx, now.timestamp()).unwrap();
        tx.commit().unwrap();
        out
    }

    /// The contact steps due at `now`, committed.
    fn step(&self, now: DateTime<Utc>) -> Escalated {
        let engine = self.0.engine();
        let mut conn = self.0.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let out = contact::escalate_due(&tx, &engine, now.timestamp(), now).unwrap();
        tx.commit().unwrap();
        out
    }

    /// Queued messages whose dedupe key starts with `prefix`: (chat,
    /// text), in order.
    fn queued(&self, prefix: &str) -> Vec<(i64, String)> {
        let conn = self.0.store.conn().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT chat_id, text FROM outbound_messages
                 WHERE dedupe_key LIKE ?1 || '%' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Who got a private contact notice, in order.
    fn notified(&self) -> Vec<i64> {
        self.queued("contact:")
            .into_iter()
            .filter(|(chat, _)| *chat > 0)
            .map(|(chat, _)| chat)
            .collect()
    }

    fn command(&self, from: i64, chat: i64, text: &str) -> buhbot::bot::Reply {
        let Ok(Some(cmd)) = parse(text, Some("buhbot_bot")) else {
            panic!("{text} does not parse");
        };
        let engine = self.0.engine();
        let conn = self.0.store.conn().unwrap();
        let ctx = CommandContext {
            chat_id: chat,
            chat_is_private: chat > 0,
            from,
            message_id: 42,
            reply_to: None,
            reply_to_author: None,
            mention_ids: Vec::new(),
            bot_reads_all: None,
            sender_is_chat_admin: None,
            now: t("2025-01-13T10:00:00+03:00"),
        };
        handle(&conn, &engine, ctx, cmd).unwrap()
    }
}

fn labels(buttons: &[Vec<buhbot::telegram::outbound::Button>]) -> Vec<(String, String)> {
    buttons
        .iter()
        .flatten()
        .map(|b| (b.text.clone(), b.callback_data.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn menu_posts_the_three_buttons() {
    assert_eq!(parse("/menu", None).unwrap(), Some(Command::Menu));
    assert_eq!(
        parse("/menu@buhbot_bot", Some("buhbot_bot")).unwrap(),
        Some(Command::Menu)
    );
    assert_eq!(parse("/menu@other_bot", Some("buhbot_bot")).unwrap(), None);
    let e = Env::new();
    let reply = e.command(CLIENT, CHAT, "/menu@buhbot_bot");
    assert_eq!(reply.text_html, menu::MENU_HTML);
    let want = vec![
        (contact::CONTACT.to_string(), "mc".to_string()),
        (menu::HOURS.to_string(), "mh".to_string()),
        (menu::FAQ.to_string(), "mf".to_string()),
    ];
    assert_eq!(labels(&reply.buttons), want);
    // Through the queue to Telegram: a reply to the command, with buttons.
    {
        let conn = e.0.store.conn().unwrap();
        queue::enqueue(&conn, &reply.outbound(42), 0).unwrap();
    }
    let sent = crate::send_queued(&e.0.store, t("2025-01-13T10:00:00+03:00"), 1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].chat_id, sent[0].reply_to), (CHAT, Some(42)));
    assert_eq!(labels(&sent[0].buttons), want);

    // Staff get the same menu (to show a client where it is); in private
    // or an unmonitored group there is no menu.
    assert_eq!(labels(&e.command(ACC, CHAT, "/menu").buttons), want);
    let private = e.command(CLIENT, CLIENT, "/menu");
    assert!(private.buttons.is_empty());
    let stranger = e.command(CLIENT, -1001999999999, "/menu");
    assert_eq!(stranger.text_html, menu::NOT_MONITORED);
    assert!(stranger.buttons.is_empty());
    // The callback data round-trips; foreign data is not the menu's.
    for a in [
        MenuAction::Contact,
        MenuAction::Hours,
        MenuAction::Faq,
        MenuAction::Answer(7),
        MenuAction::Take(12),
    ] {
        assert_eq!(MenuAction::decode(a.encode().as_bytes()), Some(a));
    }
    for bad in ["ma:07", "ma:-1", "mt:", "r:5", "mx", "ma:1 "] {
        assert_eq!(MenuAction::decode(bad.as_bytes()), None, "{bad}");
    }
}

#[test]
fn the_hours_button_posts_today_and_the_next_opening() {
    let e = Env::new();
    let out = e.press(CHAT, CLIENT, "mh", t("2025-01-13T10:00:00+03:00"));
    assert!(out.changed);
    let posted = e.queued("menu:hours:");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].0, CHAT);
    assert!(
        posted[0].1.contains("Сегодня: 09:00–18:00."),
        "{}",
        posted[0].1
    );
    assert!(posted[0].1.contains("Сейчас мы работаем, до 18:00."));
    // On the holiday: a day off, and the next opening is Wednesday's.
    e.press(CHAT, CLIENT, "mh", t("2025-01-14T12:00:00+03:00"));
    let holiday = &e.queued("menu:hours:")[1].1;
    assert!(holiday.contains("Сегодня выходной день."), "{holiday}");
    assert!(holiday.contains("завтра в 09:00"), "{holiday}");
    // Pressed again within the minute: no second post.
    e.press(CHAT, CLIENT, "mh", t("2025-01-14T12:00:30+03:00"));
    assert_eq!(e.queued("menu:hours:").len(), 2);
}

#[test]
fn the_faq_button_lists_questions_and_posts_an_answer() {
    let e = Env::new();
    let now = t("2025-01-13T10:00:00+03:00");
    assert_eq!(e.press(CHAT, CLIENT, "mf", now).answer, menu::NO_FAQ);
    assert!(e.queued("menu:").is_empty());
    let (first, second) = {
        let conn = e.0.store.conn().unwrap();
        let a = faq::add(
            &conn,
            "Когда сдавать отчёт по НДС?",
            "До 25-го числа месяца после квартала.",
            &["ндс".into()],
            0,
        )
        .unwrap();
        let b = faq::add(
            &conn,
            "Как прислать документы?",
            "Сюда, в чат.",
            &["документы".into()],
            0,
        )
        .unwrap();
        (a.id, b.id)
    };
    e.press(CHAT, CLIENT, "mf", now);
    let list = e.queued("menu:faq:");
    assert_eq!(list.len(), 1);
    assert!(
        list[0].1.contains("1. Когда сдавать отчёт по НДС?"),
        "{}",
        list[0].1
    );
    assert!(list[0].1.contains("2. Как прислать документы?"));
    let conn = e.0.store.conn().unwrap();
    let row = conn
        .query_row(
            "SELECT buttons FROM outbound_messages WHERE dedupe_key LIKE 'menu:faq:%'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    assert!(row.contains(&format!("ma:{first}")) && row.contains(&format!("ma:{second}")));
    let out = e.press(CHAT, CLIENT, &format!("ma:{second}"), now);
    assert_eq!(out.answer, menu::POSTED);
    let answer = e.queued("menu:answer:");
    assert_eq!(answer.len(), 1);
    assert!(answer[0].1.contains("Сюда, в чат."));
    // A removed entry's button says so.
    faq::remove(&conn, first).unwrap();
    assert_eq!(
        e.press(CHAT, CLIENT, &format!("ma:{first}"), now).answer,
        menu::FAQ_GONE
    );
}

#[test]
fn a_long_faq_list_stays_within_telegrams_limits() {
    let rows: Vec<faq::FaqRow> = (1..=400)
        .map(|id| faq::FaqRow {
            id,
            question: format!("Вопрос номер {id}: как правильно оформить документы & счета?"),
            answer: String::new(),
            keywords: String::new(),
            enabled: true,
            usage_count: 0,
            pg_id: None,
        })
        .collect();
    let (text, keyboard) = menu::faq_list(&rows);
    assert!(text.chars().count() <= 4096, "{}", text.chars().count());
    assert!(text.contains("&amp;") && text.contains("и ещё"));
    assert_eq!(keyboard.len(), 10);
    assert!(
        keyboard
            .iter()
            .flatten()
            .all(|b| b.text.chars().count() <= 48)
    );
}

#[test]
fn contact_escalates_accountant_then_chat_manager_then_managers() {
    let e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    let min = |m: i64| t0 + Duration::minutes(m);
    e.say(
        CHAT,
        1,
        CLIENT,
        t0 - Duration::minutes(5),
        "Нужна справка о доходах",
    );
    let out = e.press(CHAT, CLIENT, "mc", t0);
    assert_eq!(out.answer, contact::CONTACTED);
    assert_eq!(e.notified(), vec![ACC]);
    let notice = &e.queued(&format!("contact:1:1:{ACC}"))[0].1;
    assert!(
        notice.contains("Анна Смирнова") && notice.contains("ООО Ромашка"),
        "{notice}"
    );
    assert!(notice.contains("Нужна справка о доходах"), "{notice}");
    let ack = e.queued("contact:1:ack");
    assert_eq!(ack[0].0, CHAT);
    assert!(
        ack[0]
            .1
            .starts_with("Анна Смирнова, бухгалтер получил уведомление")
    );

    // A repeated press while open: told, nobody notified again.
    assert_eq!(e.press(CHAT, CLIENT, "mc", min(5)).answer, contact::ALREADY);
    assert_eq!(e.notified(), vec![ACC]);
    // Another client's press is their own contact.
    e.press(CHAT, OTHER_CLIENT, "mc", min(6));
    assert_eq!(e.notified(), vec![ACC, ACC]);

    assert_eq!(e.step(min(29)), Escalated::default());
    let s = e.step(min(30));
    assert_eq!((s.steps, s.notices), (1, 1));
    assert_eq!(e.notified(), vec![ACC, ACC, CHAT_MGR]);
    assert!(
        e.queued(&format!("contact:1:2:{CHAT_MGR}"))[0]
            .1
            .contains("уже 30 минут")
    );
    e.step(min(36)); // the other client's contact reaches the chat manager
    assert_eq!(e.notified(), vec![ACC, ACC, CHAT_MGR, CHAT_MGR]);
    e.step(min(60));
    assert_eq!(e.notified(), vec![ACC, ACC, CHAT_MGR, CHAT_MGR, GLOBAL]);
    // Staff answer in the chat: the other contact stops before its third level.
    e.say(CHAT, 2, ACC, min(61), "Анна, справку пришлю сегодня.");
    assert_eq!(e.step(min(66)), Escalated::default());
    // The first, with every level told, expires after the last wait.
    let s = e.step(min(90));
    assert_eq!(s.expired, 0, "answered by the staff message too");
    assert_eq!(e.notified(), vec![ACC, ACC, CHAT_MGR, CHAT_MGR, GLOBAL]);
    let conn = e.0.store.conn().unwrap();
    let c = contacts::get(&conn, 2).unwrap().unwrap();
    assert_eq!((c.closed_by, c.level), (Some(ACC), 2));
    // Closed: a new press opens a new contact and notifies again.
    e.press(CHAT, CLIENT, "mc", min(120));
    assert_eq!(e.notified().len(), 6);
}

#[test]
fn an_unanswered_contact_expires_after_the_last_level() {
    let e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    e.press(CHAT, CLIENT, "mc", t0);
    e.step(t0 + Duration::minutes(30));
    e.step(t0 + Duration::minutes(60));
    let s = e.step(t0 + Duration::minutes(90));
    assert_eq!((s.steps, s.expired), (0, 1));
    assert_eq!(e.notified(), vec![ACC, CHAT_MGR, GLOBAL]);
    // Every step is done: nothing is pending any more.
    let conn = e.0.store.conn().unwrap();
    assert_eq!(contacts::next_due(&conn).unwrap(), None);
}

#[test]
fn a_level_with_nobody_on_it_is_skipped() {
    let e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    e.press(NO_MANAGER, CLIENT, "mc", t0);
    // The chat has no managers: after the wait, the firm's managers.
    e.step(t0 + Duration::minutes(30));
    assert_eq!(e.notified(), vec![ACC, GLOBAL]);
    // No accountants: the chat's manager is told at once.
    e.press(NO_ACCOUNTANT, OTHER_CLIENT, "mc", t0);
    assert_eq!(e.notified(), vec![ACC, GLOBAL, CHAT_MGR]);
}

#[test]
fn take_stops_the_chain_and_tells_the_client() {
    let e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    e.press(CHAT, CLIENT, "mc", t0);
    // A client cannot take it; the accountant can, from the notice.
    let refused = e.press(CLIENT, CLIENT, "mt:1", t0 + Duration::minutes(1));
    assert_eq!(refused.answer, contact::REFUSED_TAKE);
    let out = e.press(ACC, ACC, "mt:1", t0 + Duration::minutes(2));
    assert_eq!(out.answer, contact::TAKEN);
    let taken = e.queued("contact:1:taken");
    assert_eq!(taken[0].0, CHAT);
    assert!(taken[0].1.contains("Иванова занимается вашим вопросом"));
    assert_eq!(
        e.press(ACC, ACC, "mt:1", t0 + Duration::minutes(3)).answer,
        contact::CLOSED
    );
    assert_eq!(e.step(t0 + Duration::minutes(30)), Escalated::default());
    assert_eq!(e.notified(), vec![ACC]);
}

#[test]
fn staff_pressing_contact_get_a_note_not_a_contact() {
    let e = Env::new();
    let out = e.press(CHAT, ACC, "mc", t("2025-01-13T10:00:00+03:00"));
    assert_eq!(out.answer, contact::STAFF_CONTACT);
    assert!(out.alert && !out.changed);
    assert!(e.notified().is_empty());
}

#[test]
fn a_restart_between_steps_loses_and_repeats_nothing() {
    let mut e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    e.press(CHAT, CLIENT, "mc", t0);
    // A crash in the middle of a step: its transaction never commits.
    {
        let engine = e.0.engine();
        let mut conn = e.0.store.conn().unwrap();
        let tx = write_tx(&mut conn).unwrap();
        let s = contact::escalate_due(&tx, &engine, t0.timestamp() + 1800, t0).unwrap();
        assert_eq!(s.notices, 1);
        drop(tx);
    }
    e.0.reopen();
    assert_eq!(e.notified(), vec![ACC]);
    // Started again (late): the step runs once, a second pass finds nothing.
    let late = t0 + Duration::minutes(45);
    assert_eq!(e.step(late).notices, 1);
    assert_eq!(e.step(late), Escalated::default());
    e.0.reopen();
    assert_eq!(e.step(late), Escalated::default());
    assert_eq!(e.notified(), vec![ACC, CHAT_MGR]);
    // The next level's wait counts from the step that ran.
    assert_eq!(e.step(late + Duration::minutes(29)), Escalated::default());
    e.step(late + Duration::minutes(30));
    assert_eq!(e.notified(), vec![ACC, CHAT_MGR, GLOBAL]);
}

/// `[menu]` keys out of range or of the wrong type are configuration
/// errors naming the key and the file (exit 78); the defaults hold
/// without the section.
#[test]
fn bad_menu_values_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buhbot.toml");
    for (toml, key) in [
        (
            "[menu]\ncontact_escalate_minutes = 0\n",
            "menu.contact_escalate_minutes",
        ),
        (
            "[menu]\ncontact_escalate_minutes = 1441\n",
            "menu.contact_escalate_minutes",
        ),
        ("[menu]\nenabled = \"yes\"\n", "menu.enabled"),
    ] {
        std::fs::write(&path, toml).unwrap();
        let o = crate::buhbot()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(78), "{toml}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{}: {key}", path.display())),
            "{key}: {err}"
        );
    }
    let d = buhbot::config::MenuSettings::default();
    assert!(d.enabled && !d.out_of_hours_reply);
    assert_eq!(d.contact_escalate_minutes, 30);
}

/// A staff member's template (`/t NAME`) answers the contact like a
/// message; other commands do not. Out of hours, the client's confirmation
/// names the next opening.
#[test]
fn a_template_answers_and_out_of_hours_the_client_is_told_when() {
    let e = Env::new();
    let t0 = t("2025-01-14T12:00:00+03:00"); // the holiday
    e.press(CHAT, CLIENT, "mc", t0);
    let ack = &e.queued("contact:1:ack")[0].1;
    assert!(
        ack.contains("Сейчас нерабочее время, ближайшее начало работы: завтра в 09:00."),
        "{ack}"
    );
    e.say(CHAT, 5, ACC, t0 + Duration::minutes(1), "/diagnose");
    let conn = e.0.store.conn().unwrap();
    assert!(contacts::open_of(&conn, CHAT, CLIENT).unwrap().is_some());
    e.say(CHAT, 6, ACC, t0 + Duration::minutes(2), "/t Готово");
    assert!(contacts::open_of(&conn, CHAT, CLIENT).unwrap().is_none());
    assert_eq!(e.step(t0 + Duration::minutes(30)), Escalated::default());
}

/// `[menu] enabled = false`: `/menu` says the menu is off, and a button of
/// an old menu does nothing.
#[test]
fn a_disabled_menu_posts_nothing() {
    let e = Env(crate::StaffEnv::new(
        &format!("[menu]\nenabled = false\n[[chats]]\nid = {CHAT}\naccountants = [{ACC}]\n"),
        &[],
    ));
    let reply = e.command(CLIENT, CHAT, "/menu");
    assert_eq!(reply.text_html, menu::DISABLED);
    assert!(reply.buttons.is_empty());
    let out = e.press(CHAT, CLIENT, "mc", t("2025-01-13T10:00:00+03:00"));
    assert_eq!(out.answer, menu::DISABLED);
    assert!(out.queue.is_empty() && e.notified().is_empty());
}

/// A group that becomes a supergroup takes its open contact along: it is
/// open under the new id (a staff answer there closes it), none is left
/// under the old one.
#[test]
fn an_open_contact_follows_the_group_to_its_supergroup() {
    let e = Env::new();
    let t0 = t("2025-01-13T10:00:00+03:00");
    e.press(CHAT, CLIENT, "mc", t0);
    const NEW: i64 = -1001777000099;
    let mut conn = e.0.store.conn().unwrap();
    let tx = write_tx(&mut conn).unwrap();
    let moved = buhbot::store::chats::move_rows(&tx, CHAT, NEW).unwrap();
    assert_eq!(moved.menu_contacts, 1);
    assert!(contacts::open_of(&tx, CHAT, CLIENT).unwrap().is_none());
    assert!(contacts::open_of(&tx, NEW, CLIENT).unwrap().is_some());
    let at = t0.timestamp() + 60;
    assert_eq!(contacts::answer_chat(&tx, NEW, ACC, at, at).unwrap(), 1);
    assert!(!contacts::any_open(&tx, NEW).unwrap());
    tx.commit().unwrap();
}
