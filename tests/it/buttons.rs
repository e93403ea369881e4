//! Inline buttons on alerts and their presses: the keyboard each role gets,
//! authorisation of every press against the store, idempotency (a second
//! press, a press after the answer), timers gone after "resolved", the edit
//! actually issued by the sender, and that no alert text is ever queued for
//! anyone but staff in their private chats.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use buhbot::bot::TelegramSink;
use buhbot::bot::buttons::{self, Action};
use buhbot::bot::callback::{self, CallbackOutcome, CallbackPress, on_callback};
use buhbot::core::clock::Clock;
use buhbot::domain::sla::RequestStatus;
use buhbot::sinks::{AlertSink, Channel, Outgoing};
use buhbot::store::deliveries::DeliveryStatus;
use buhbot::store::users::{self};
use buhbot::store::{requests, timers, write_tx};
use buhbot::telegram::outbound::fake::RecordingApi;
use buhbot::telegram::outbound::queue;
use buhbot::telegram::outbound::{Button, Kind, OutboundConfig, run_outbound_with};
use tokio_util::sync::CancellationToken;

use crate::t;

const CHAT: i64 = -1001987654321;
const OTHER_CHAT: i64 = -1001555000000;
const BASIC: i64 = -4001234;
const ADMIN: i64 = 7000100;
const MANAGER: i64 = 7000101;
const ACC: i64 = 7000001;
const ACC2: i64 = 7000002;
const OBSERVER: i64 = 7000103;
/// A manager of CHAT in the configuration only (not in `users`).
const CHAT_MANAGER: i64 = 7000009;
const OTHER_ACC: i64 = 7000050;
const CLIENT: i64 = 5000001;
const STRANGER: i64 = 5999999;

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
                "[alerts]\nmanagers = [{MANAGER}]\n\n\
                 [[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\naccountants = [{ACC}, {ACC2}]\n\
                 managers = [{CHAT_MANAGER}]\n\n\
                 [[chats]]\nid = {OTHER_CHAT}\ntitle = \"ИП Лютиков\"\naccountants = [{OTHER_ACC}]\n\n\
                 [[chats]]\nid = {BASIC}\ntitle = \"Старая группа\"\naccountants = [{ACC}]\n"
            ),
            &[
                (ADMIN, "admin", "Админ", None),
                (MANAGER, "manager", "Смирнова", None),
                (ACC, "accountant", "Иванова", None),
                (ACC2, "accountant", "Петрова", None),
                (OBSERVER, "observer", "Наблюдатель", None),
                (OTHER_ACC, "accountant", "Сидорова", None),
            ],
        ))
    }

    fn ingest(&self, chat: i64, id: i64, from: i64, at: &str, text: &str) {
        let ev = crate::user_message(chat, id, from, t(at), text);
        crate::ingest_one(&self.store, &self.engine(), &ev);
    }

    /// A client's question in `chat` at `at`; returns the request id.
    fn request(&self, chat: i64, message_id: i64, at: &str) -> i64 {
        self.request_from(chat, message_id, CLIENT, at)
    }

    fn request_from(&self, chat: i64, message_id: i64, client: i64, at: &str) -> i64 {
        self.ingest(chat, message_id, client, at, "Где мой счёт за январь?");
        requests::by_message(&self.store.conn().unwrap(), chat, message_id)
            .unwrap()
            .unwrap()
            .id
    }

    fn fire(&self, upto: &str) -> usize {
        let engine = self.engine();
        let mut c = self.store.conn().unwrap();
        let tx = write_tx(&mut c).unwrap();
        let fired = engine.fire_due(&tx, t(upto).timestamp(), t(upto)).unwrap();
        tx.commit().unwrap();
        fired.len()
    }

    /// Delivers every fired alert through the Telegram sink: to the
    /// recipients the engine routed it to when it fired, plus `extra`,
    /// misrouted recipients the sink must refuse.
    async fn deliver(&self, extra: &[&str]) {
        let engine = Arc::new(self.engine());
        let e2 = engine.clone();
        let sink = TelegramSink::new(
            self.store.clone(),
            Clock::virtual_from(t("2025-01-13T09:00:00+03:00"), 1.0),
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(move || e2.clone()),
        );
        let c = self.store.conn().unwrap();
        let alerts: Vec<i64> = c
            .prepare("SELECT id FROM sla_alerts ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for alert in alerts {
            for r in extra {
                buhbot::store::deliveries::insert(&c, alert, Channel::Telegram, r, 0).unwrap();
            }
        }
        let pending: Vec<(i64, String)> = c
            .prepare(
                "SELECT id, recipient FROM alert_deliveries
                 WHERE status = 'pending' AND sink = 'telegram'",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, recipient) in pending {
            let msg = Outgoing {
                delivery_id: id,
                recipient,
                subject: "SLA".into(),
                html: format!("<b>SLA</b> оповещение {id}"),
                plain: "SLA".into(),
            };
            let status = if sink.send(&msg).await.is_ok() {
                DeliveryStatus::Sent
            } else {
                DeliveryStatus::GivenUp
            };
            buhbot::store::deliveries::record_attempt(&c, id, status, None, None, 0, 0).unwrap();
        }
    }

    /// Marks every queued row sent, as the sender would (Telegram message
    /// id = 10000 + row id).
    fn mark_sent(&self) {
        let c = self.store.conn().unwrap();
        let ids: Vec<i64> = c
            .prepare("SELECT id FROM outbound_messages WHERE status = 'pending'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for id in ids {
            queue::mark_sent(&c, id, 10_000 + id, 0).unwrap();
        }
    }

    /// The sent alert messages about `request` in `user`'s private chat:
    /// (Telegram message id, buttons), oldest first.
    fn alerts_of(&self, request: i64, user: i64) -> Vec<(i64, Vec<Vec<Button>>)> {
        queue::sent_alerts_for_request(&self.store.conn().unwrap(), request)
            .unwrap()
            .into_iter()
            .filter(|a| a.chat_id == user)
            .map(|a| (a.message_id, a.buttons))
            .collect()
    }

    fn press_on(&self, user: i64, message_id: i64, data: &str) -> CallbackOutcome {
        let engine = self.engine();
        let mut c = self.store.conn().unwrap();
        let tx = write_tx(&mut c).unwrap();
        let press = CallbackPress {
            query_id: 1,
            chat_id: user,
            message_id,
            user_id: user,
            data: data.as_bytes().to_vec(),
        };
        let out = on_callback(&tx, &engine, &press, t("2025-01-13T14:05:00+03:00")).unwrap();
        out.enqueue(&tx, 0).unwrap();
        tx.commit().unwrap();
        out
    }

    /// A press by `user` on their latest alert about `request` (or on a
    /// made-up message when they got none).
    fn press(&self, user: i64, request: i64, data: &str) -> CallbackOutcome {
        let msg = self.alerts_of(request, user).last().map_or(1, |a| a.0);
        self.press_on(user, msg, data)
    }

    /// Every row of the tables a press may change, as text.
    fn snapshot(&self) -> String {
        let c = self.store.conn().unwrap();
        let mut out = String::new();
        for q in [
            "SELECT id, status, answered_at, answered_by, updated_at FROM client_requests",
            "SELECT request_id, kind, level, due_at FROM timers",
            "SELECT id, resolution, acknowledged_by, acknowledged_at FROM sla_alerts",
            "SELECT id, dedupe_key, chat_id, kind, status FROM outbound_messages",
            "SELECT id, entity, entity_key FROM outbox",
        ] {
            let mut stmt = c.prepare(&format!("{q} ORDER BY 1, 2")).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let vals: Vec<String> = (0..n)
                        .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                        .collect();
                    Ok(vals.join("|"))
                })
                .unwrap();
            for r in rows {
                out.push_str(&r.unwrap());
                out.push('\n');
            }
        }
        out
    }

    fn queued(&self, key_like: &str) -> Vec<Queued> {
        let c = self.store.conn().unwrap();
        c.prepare(
            "SELECT dedupe_key, chat_id, text, buttons, edit_of FROM outbound_messages
             WHERE dedupe_key LIKE ?1 ORDER BY id",
        )
        .unwrap()
        .query_map([key_like], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}

/// A queued row: (dedupe key, chat, text, buttons JSON, edit_of).
type Queued = (String, i64, String, Option<String>, Option<i64>);

fn has(rows: &[Vec<Button>], text: &str) -> bool {
    rows.iter().flatten().any(|b| b.text == text)
}

/// A request in CHAT (message 555, Monday 10:00) with its warning and
/// breach fired, routed and sent.
async fn breached(env: &Env) -> i64 {
    let id = env.request(CHAT, 555, "2025-01-13T10:00:00+03:00");
    assert!(env.fire("2025-01-13T11:05:00+03:00") >= 2);
    env.deliver(&[]).await;
    env.mark_sent();
    id
}

#[test]
fn callback_data_is_compact_versioned_and_strict() {
    for a in [Action::Resolve(i64::MAX), Action::Notify(i64::MAX)] {
        let data = a.encode();
        assert!(data.len() <= buhbot::telegram::outbound::MAX_CALLBACK_DATA);
        assert_eq!(Action::decode(data.as_bytes()), Some(a));
    }
    assert_eq!(Action::Resolve(7).encode(), "r:7");
    assert_eq!(Action::decode(b"n:42"), Some(Action::Notify(42)));
    for junk in [
        &b""[..],
        b"r:",
        b"r:-1",
        b"r:0",
        b"r:01",
        b"r:1 ",
        b"x:1",
        b"r:99999999999999999999",
        b"\xff\xfe",
    ] {
        assert_eq!(Action::decode(junk), None, "{junk:?}");
    }
}

#[test]
fn chat_links_for_supergroups_and_basic_groups() {
    assert_eq!(
        buttons::chat_link(CHAT, 555, None).as_deref(),
        Some("https://t.me/c/1987654321/555")
    );
    assert_eq!(buttons::chat_link(BASIC, 5, None), None);
    assert_eq!(
        buttons::chat_link(BASIC, 5, Some("https://t.me/+AbCd")).as_deref(),
        Some("https://t.me/+AbCd")
    );
    assert_eq!(buttons::chat_link(BASIC, 5, Some("javascript:x")), None);
}

#[tokio::test]
async fn keyboards_per_role() {
    let env = Env::new();
    let id = env.request(CHAT, 555, "2025-01-13T10:00:00+03:00");
    env.fire("2025-01-13T18:00:00+03:00");
    env.deliver(&[]).await;
    env.mark_sent();
    let link = "https://t.me/c/1987654321/555";
    for (user, notify) in [(ACC, false), (CHAT_MANAGER, true), (MANAGER, true)] {
        let alerts = env.alerts_of(id, user);
        assert!(!alerts.is_empty(), "{user} got alerts");
        for (_, kb) in alerts {
            assert_eq!(kb[0][0].url.as_deref(), Some(link), "{user}");
            assert!(has(&kb, buttons::RESOLVE), "{user}");
            assert_eq!(has(&kb, buttons::NOTIFY), notify, "{user}");
            for b in kb.iter().flatten() {
                let data = b.callback_data.as_deref().unwrap_or("");
                assert!(data.len() <= 64);
            }
        }
    }
    // A basic group: no link without an invite link, the stored one with.
    let basic = env.request(BASIC, 9, "2025-01-13T10:00:00+03:00");
    env.fire("2025-01-13T18:00:00+03:00");
    env.deliver(&[]).await;
    env.mark_sent();
    let (_, kb) = env.alerts_of(basic, ACC).pop().unwrap();
    assert!(kb.iter().flatten().all(|b| b.url.is_none()), "{kb:?}");
    env.store
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO chats (id, title, invite_link, created_at, updated_at)
             VALUES (?1, '', 'https://t.me/+AbCd', 0, 0)",
            [BASIC],
        )
        .unwrap();
    let c = env.store.conn().unwrap();
    let eff = env.engine().effective(&c).unwrap();
    let delivery: i64 = c
        .query_row(
            "SELECT d.id FROM alert_deliveries d JOIN sla_alerts a ON a.id = d.alert_id
             WHERE a.request_id = ?1 LIMIT 1",
            [basic],
            |r| r.get(0),
        )
        .unwrap();
    let kb =
        buttons::alert_keyboard(&c, &eff, delivery, ACC, buhbot::bot::Role::Accountant).unwrap();
    assert_eq!(kb[0][0].url.as_deref(), Some("https://t.me/+AbCd"));
}

#[tokio::test]
async fn resolve_by_the_chats_accountant_closes_edits_and_stops_timers() {
    let env = Env::new();
    let id = breached(&env).await;
    assert!(
        !timers::for_request(&env.store.conn().unwrap(), id)
            .unwrap()
            .is_empty()
    );
    let (msg, _) = env.alerts_of(id, ACC)[0].clone();
    let out = env.press_on(ACC, msg, &format!("r:{id}"));
    assert!(out.changed);
    assert_eq!(out.answer, callback::RESOLVED);
    let c = env.store.conn().unwrap();
    let row = requests::get(&c, id).unwrap().unwrap();
    assert_eq!(row.status, RequestStatus::Resolved);
    assert_eq!(row.answered_by, Some(ACC));
    assert_eq!(
        row.answered_at,
        Some(t("2025-01-13T14:05:00+03:00").timestamp())
    );
    assert!(timers::for_request(&c, id).unwrap().is_empty());
    let acked: i64 = c
        .query_row(
            "SELECT count(*) FROM sla_alerts WHERE request_id = ?1
             AND resolution = 'resolved' AND acknowledged_by = ?2",
            [id, ACC],
            |r| r.get(0),
        )
        .unwrap();
    assert!(acked >= 2);
    // Every sent alert of the request is edited: outcome line, URL only.
    let edits = env.queued("edit:%");
    let alerts = queue::sent_alerts_for_request(&c, id).unwrap();
    assert_eq!(edits.len(), alerts.len());
    let mine = edits
        .iter()
        .find(|e| e.1 == ACC && e.4 == Some(msg))
        .expect("the pressed alert is edited");
    assert!(
        mine.2
            .ends_with("✅ Отмечено решённым: Иванова, 13.01 14:05"),
        "{}",
        mine.2
    );
    let kb: Vec<Vec<Button>> = serde_json::from_str(mine.3.as_deref().unwrap()).unwrap();
    assert!(kb.iter().flatten().all(|b| b.url.is_some()), "{kb:?}");
    // Nothing more fires for the request, ever.
    assert_eq!(env.fire("2025-01-20T18:00:00+03:00"), 0);

    // A second press (on any of its alerts) says so and changes nothing.
    let before = env.snapshot();
    let again = env.press_on(ACC, msg, &format!("r:{id}"));
    assert!(!again.changed);
    assert!(
        again
            .answer
            .starts_with("Запрос уже отмечен решённым: Иванова"),
        "{}",
        again.answer
    );
    let notify = env.press(CHAT_MANAGER, id, &format!("n:{id}"));
    assert!(!notify.changed);
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn resolve_by_managers_and_admins() {
    for user in [CHAT_MANAGER, MANAGER, ADMIN, ACC2] {
        let env = Env::new();
        let id = breached(&env).await;
        let out = env.press(user, id, &format!("r:{id}"));
        assert!(out.changed, "{user}: {}", out.answer);
        let row = requests::get(&env.store.conn().unwrap(), id)
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.status, row.answered_by),
            (RequestStatus::Resolved, Some(user))
        );
    }
}

#[tokio::test]
async fn resolve_refused_for_clients_strangers_observers_and_other_chats_accountants() {
    let env = Env::new();
    let id = breached(&env).await;
    let before = env.snapshot();
    for user in [CLIENT, STRANGER, OBSERVER, OTHER_ACC] {
        let out = env.press(user, id, &format!("r:{id}"));
        assert!(!out.changed, "{user}");
        assert!(out.alert, "{user}");
        assert_eq!(out.answer, callback::REFUSED_RESOLVE);
        assert!(out.queue.is_empty(), "{user}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn notify_is_for_managers_and_reminds_accountants_privately_once() {
    let env = Env::new();
    let id = breached(&env).await;
    let before = env.snapshot();
    for user in [ACC, ACC2, OTHER_ACC, CLIENT, OBSERVER] {
        let out = env.press(user, id, &format!("n:{id}"));
        assert!(!out.changed, "{user}");
        assert_eq!(out.answer, callback::REFUSED_NOTIFY, "{user}");
    }
    assert_eq!(env.snapshot(), before);

    let (msg, _) = env.alerts_of(id, CHAT_MANAGER)[0].clone();
    let out = env.press_on(CHAT_MANAGER, msg, &format!("n:{id}"));
    assert!(out.changed, "{}", out.answer);
    assert_eq!(out.answer, callback::REMINDED);
    let reminders = env.queued("remind:%");
    let to: BTreeSet<i64> = reminders.iter().map(|r| r.1).collect();
    assert_eq!(to, BTreeSet::from([ACC, ACC2]));
    for r in &reminders {
        assert!(r.2.contains("ООО Ромашка"), "{}", r.2);
        assert!(
            !r.2.contains("счёт"),
            "no client text in a reminder: {}",
            r.2
        );
        assert_eq!(r.0, format!("remind:{id}:{}:{CHAT_MANAGER}", r.1));
    }
    let edit = env.queued("edit:%");
    assert_eq!(edit.len(), 1);
    assert_eq!((edit[0].1, edit[0].4), (CHAT_MANAGER, Some(msg)));
    assert!(
        edit[0]
            .2
            .contains("🔔 Бухгалтеры уведомлены: Иванова, Петрова, 13.01 14:05")
    );
    let kb: Vec<Vec<Button>> = serde_json::from_str(edit[0].3.as_deref().unwrap()).unwrap();
    assert!(!has(&kb, buttons::NOTIFY) && has(&kb, buttons::RESOLVE));
    // The request stays open: a reminder is not a resolution.
    let row = requests::get(&env.store.conn().unwrap(), id)
        .unwrap()
        .unwrap();
    assert_eq!(row.status, RequestStatus::Open);

    let before = env.snapshot();
    let again = env.press_on(CHAT_MANAGER, msg, &format!("n:{id}"));
    assert!(!again.changed);
    assert_eq!(again.answer, callback::ALREADY_REMINDED);
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn a_press_after_the_answer_changes_nothing() {
    let env = Env::new();
    let id = breached(&env).await;
    env.ingest(
        CHAT,
        556,
        ACC,
        "2025-01-13T13:00:00+03:00",
        "Счёт отправила на почту.",
    );
    let c = env.store.conn().unwrap();
    let answered = requests::get(&c, id).unwrap().unwrap();
    assert_eq!(answered.status, RequestStatus::Answered);
    let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    let outbound = count("SELECT count(*) FROM outbound_messages");
    let outbox = count("SELECT count(*) FROM outbox");
    let out = env.press(CHAT_MANAGER, id, &format!("r:{id}"));
    assert!(!out.changed);
    assert_eq!(out.answer, "Запрос уже закрыт: ответ получен 13.01 13:00.");
    assert_eq!(requests::get(&c, id).unwrap().unwrap(), answered);
    assert_eq!(count("SELECT count(*) FROM outbox"), outbox);
    // At most the pressed alert is brought to its final state, once.
    let edits = env.queued("edit:%");
    assert_eq!(edits.len(), 1);
    assert!(edits[0].2.ends_with("✅ Ответ получен: 13.01 13:00"));
    assert_eq!(
        count("SELECT count(*) FROM outbound_messages"),
        outbound + 1
    );
    let before = env.snapshot();
    env.press(CHAT_MANAGER, id, &format!("r:{id}"));
    env.press(CHAT_MANAGER, id, &format!("n:{id}"));
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn garbled_or_stale_data_changes_nothing() {
    let env = Env::new();
    let id = breached(&env).await;
    let before = env.snapshot();
    for data in ["", "r", "zz:1", "r:abc", "r:999999"] {
        let out = env.press(ACC, id, data);
        assert!(!out.changed && out.queue.is_empty(), "{data:?}");
    }
    assert_eq!(env.press(ACC, id, "x").answer, callback::STALE);
    assert_eq!(env.press(ACC, id, "r:999999").answer, callback::NOT_FOUND);
    assert_eq!(env.snapshot(), before);
}

/// Runs the real sender on the recording fake until `n` calls were made.
async fn send_all(env: &Env, api: &Arc<RecordingApi>, n: usize) {
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_outbound_with(
        OutboundConfig::default(),
        env.store.clone(),
        api.clone(),
        Clock::virtual_from(t("2025-01-13T20:00:00+03:00"), 1.0),
        cancel.clone(),
        None,
    ));
    for _ in 0..2000 {
        if api.records().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_sender_issues_the_edit_of_the_pressed_alert() {
    let env = Env::new();
    let id = env.request(CHAT, 555, "2025-01-13T10:00:00+03:00");
    env.fire("2025-01-13T10:50:00+03:00"); // the warning only: accountants
    env.deliver(&[]).await;
    let api = Arc::new(RecordingApi::new());
    send_all(&env, &api, 2).await;
    let sent = api.records();
    let alert = sent.iter().find(|r| r.chat_id == ACC).unwrap().clone();
    assert_eq!(alert.kind, Kind::Alert);
    assert!(has(&alert.buttons, buttons::RESOLVE) && !has(&alert.buttons, buttons::NOTIFY));

    let out = env.press_on(ACC, alert.message_id, &format!("r:{id}"));
    assert!(out.changed);
    send_all(&env, &api, 4).await;
    let edits: Vec<_> = api
        .records()
        .into_iter()
        .filter(|r| r.kind == Kind::Edit)
        .collect();
    let mine = edits.iter().find(|r| r.chat_id == ACC).expect("edit sent");
    assert_eq!(mine.message_id, alert.message_id);
    assert!(mine.text.starts_with(&alert.text));
    assert!(mine.text.contains("Отмечено решённым: Иванова"));
    assert!(mine.buttons.iter().flatten().all(|b| b.url.is_some()));
}

#[tokio::test]
async fn no_alert_text_is_ever_queued_for_a_client_or_a_group() {
    let env = Env::new();
    let a = env.request(CHAT, 1, "2025-01-13T10:00:00+03:00");
    let b = env.request_from(CHAT, 2, CLIENT + 1, "2025-01-13T10:30:00+03:00");
    let c = env.request(OTHER_CHAT, 3, "2025-01-13T10:00:00+03:00");
    let d = env.request(BASIC, 4, "2025-01-13T11:00:00+03:00");
    // Misrouted recipients: the client, a stranger, the groups themselves.
    let misrouted = [
        CLIENT.to_string(),
        STRANGER.to_string(),
        CHAT.to_string(),
        BASIC.to_string(),
    ];
    let extra: Vec<&str> = misrouted.iter().map(String::as_str).collect();
    for (upto, presses) in [
        (
            "2025-01-13T11:00:00+03:00",
            vec![(CLIENT, format!("r:{a}"))],
        ),
        (
            "2025-01-13T12:00:00+03:00",
            vec![(CHAT_MANAGER, format!("n:{a}")), (ACC, format!("r:{b}"))],
        ),
        (
            "2025-01-13T16:00:00+03:00",
            vec![(MANAGER, format!("n:{c}")), (OTHER_ACC, format!("r:{c}"))],
        ),
        ("2025-01-14T18:00:00+03:00", vec![(ADMIN, format!("r:{a}"))]),
    ] {
        env.fire(upto);
        env.deliver(&extra).await;
        env.mark_sent();
        for (user, data) in presses {
            let req: i64 = data[2..].parse().unwrap();
            env.press(user, req, &data);
        }
        env.mark_sent();
    }
    let conn = env.store.conn().unwrap();
    let escalations: i64 = conn
        .query_row(
            "SELECT count(*) FROM sla_alerts WHERE kind = 'escalation'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(escalations > 0, "the scenario reached escalations");
    assert!(!env.queued("remind:%").is_empty());
    assert!(!env.queued("edit:%").is_empty());
    assert_eq!(
        requests::get(&conn, d).unwrap().unwrap().status,
        RequestStatus::Open
    );
    let engine = env.engine();
    let mut staff = engine.config.staff();
    staff.extend(users::list(&conn).unwrap().into_iter().map(|u| u.id));
    staff.remove(&OBSERVER); // staff, but never routed anything here
    let rows = env.queued("%");
    assert!(rows.len() > 10, "{}", rows.len());
    for (key, chat, _, _, _) in &rows {
        assert!(*chat > 0, "{key} queued for group {chat}");
        assert!(staff.contains(chat), "{key} queued for non-staff {chat}");
    }
    let refused: i64 = conn
        .query_row(
            "SELECT count(*) FROM alert_deliveries WHERE status = 'given_up'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(refused > 0, "the misrouted deliveries were refused");
}
