//! File receipts and the out-of-hours reply through the ingest transaction,
//! the real store and the outbound queue's sender on the recording
//! Telegram fake; the working-hours texts over a chat's calendar with a
//! holiday; the per-chat switches through `buhbot chats set|show`.

use buhbot::bot::faq::FaqCache;
use buhbot::core::event::MessageEvent;
use buhbot::daemon::ingest::BatchOutcome;
use buhbot::domain::hours::{Hours, hours_html, status};
use buhbot::domain::receipts::{Attachment, AttachmentKind};
use buhbot::store::chat_options::{self, OptionsChange};

const CHAT: i64 = -1001666000001;
/// Receipts off in its `[[chats]]` entry.
const QUIET: i64 = -1001666000002;
/// The out-of-hours reply on.
const NIGHT: i64 = -1001666000003;
const ACCOUNTANT: i64 = 7200001;
const OTHER_ACCOUNTANT: i64 = 7200002;
const CLIENT: i64 = 5200001;
const OTHER_CLIENT: i64 = 5200002;

struct Env {
    env: crate::StaffEnv,
    cache: FaqCache,
}

impl Env {
    fn new() -> Env {
        // Monday 2025-01-13 is a working day, Tuesday 14th a holiday.
        let env = crate::StaffEnv::new(
            &format!(
                "[calendar]\ntimezone = \"Europe/Moscow\"\nholidays = [\"2025-01-14\"]\n\
                 [[chats]]\nid = {CHAT}\ntitle = \"ООО Ромашка\"\n\
                 accountants = [{ACCOUNTANT}, {OTHER_ACCOUNTANT}]\n\
                 [[chats]]\nid = {QUIET}\naccountants = [{ACCOUNTANT}]\nreceipts = false\n\
                 [[chats]]\nid = {NIGHT}\naccountants = [{ACCOUNTANT}]\nout_of_hours_reply = true\n"
            ),
            &[],
        );
        Env {
            env,
            cache: FaqCache::default(),
        }
    }

    /// One message through the ingest transaction as on a live source.
    fn feed(&self, ev: MessageEvent) -> BatchOutcome {
        crate::apply_one(&self.env, ev, Some(&self.cache))
    }

    fn file(&self, chat: i64, id: i64, from: i64, at: &str, kind: AttachmentKind) -> usize {
        let mut ev = crate::user_message(chat, id, from, crate::t(at), "");
        ev.has_media = true;
        ev.sender_name = Some("Иван Петров".into());
        ev.attachment = Some(Attachment {
            kind,
            file_name: (kind == AttachmentKind::Document).then(|| format!("скан-{id}.pdf")),
            size: Some(1_258_291),
        });
        self.feed(ev).receipts
    }

    fn ask(&self, chat: i64, id: i64, from: i64, at: &str) -> BatchOutcome {
        let ev = crate::user_message(
            chat,
            id,
            from,
            crate::t(at),
            "Подскажите, пожалуйста, когда будет готов отчёт?",
        );
        self.feed(ev)
    }

    /// Queued messages whose dedupe key starts with `prefix`: (chat,
    /// reply_to, text), in order.
    fn queued(&self, prefix: &str) -> Vec<(i64, Option<i64>, String)> {
        let conn = self.env.store.conn().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT chat_id, reply_to, text FROM outbound_messages
                 WHERE dedupe_key LIKE ?1 || '%' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

/// Several files within the burst window get one confirmation; another
/// client's files are their own burst; a file after a longer gap starts a
/// new one; a redelivery confirms nothing again.
#[tokio::test(start_paused = true)]
async fn one_confirmation_per_burst_of_files() {
    use AttachmentKind::{Document, Photo};
    let e = Env::new();
    assert_eq!(
        e.file(CHAT, 1, CLIENT, "2025-01-13T10:00:00+03:00", Document),
        1
    );
    assert_eq!(
        e.file(CHAT, 2, CLIENT, "2025-01-13T10:01:00+03:00", Photo),
        0
    );
    // 90 s after the previous file, 150 s after the first: still the burst.
    assert_eq!(
        e.file(CHAT, 3, CLIENT, "2025-01-13T10:02:30+03:00", Document),
        0
    );
    assert_eq!(
        e.file(CHAT, 4, OTHER_CLIENT, "2025-01-13T10:03:00+03:00", Photo),
        1
    );
    assert_eq!(
        e.file(CHAT, 1, CLIENT, "2025-01-13T10:00:00+03:00", Document),
        0
    );
    // Five and a half minutes later: a new burst.
    assert_eq!(
        e.file(CHAT, 5, CLIENT, "2025-01-13T10:08:00+03:00", Document),
        1
    );

    let receipts = e.queued("receipt:");
    let in_chat: Vec<_> = receipts.iter().filter(|r| r.0 == CHAT).collect();
    assert_eq!(
        in_chat.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![Some(1), Some(4), Some(5)]
    );
    assert!(
        in_chat[0]
            .2
            .contains("Файл получен: «скан-1.pdf», 1,2 МБ (13.01.2025 10:00)"),
        "{}",
        in_chat[0].2
    );
    assert!(in_chat[1].2.contains("фото, 1,2 МБ"), "{}", in_chat[1].2);
    // Both accountants are told in private, once per burst.
    let private: Vec<_> = receipts.iter().filter(|r| r.0 > 0).collect();
    assert_eq!(private.len(), 6, "{private:?}");
    assert!(
        private[0]
            .2
            .contains("Иван Петров прислал(а) файл в чат «ООО Ромашка»: «скан-1.pdf»"),
        "{}",
        private[0].2
    );

    let sent = crate::send_queued(&e.env.store, crate::t("2025-01-13T10:08:00+03:00"), 9).await;
    assert_eq!(sent.len(), 9, "{sent:?}");
    assert!(
        sent.iter()
            .any(|s| s.chat_id == CHAT && s.reply_to == Some(1) && s.text == in_chat[0].2)
    );
    assert_eq!(sent.iter().filter(|s| s.chat_id == ACCOUNTANT).count(), 3);
}

/// Staff files get no confirmation, nor files in a chat whose receipts are
/// off (in the configuration, or from the shell), nor text messages.
#[test]
fn staff_and_switched_off_chats_get_none() {
    use AttachmentKind::Document;
    let e = Env::new();
    assert_eq!(
        e.file(CHAT, 10, ACCOUNTANT, "2025-01-13T10:00:00+03:00", Document),
        0
    );
    assert_eq!(
        e.file(QUIET, 11, CLIENT, "2025-01-13T10:00:00+03:00", Document),
        0
    );
    assert_eq!(
        e.ask(CHAT, 12, CLIENT, "2025-01-13T10:00:00+03:00")
            .receipts,
        0
    );
    let conn = e.env.store.conn().unwrap();
    chat_options::set(
        &conn,
        CHAT,
        OptionsChange {
            receipts: Some(Some(false)),
            ..OptionsChange::default()
        },
        "test",
        0,
    )
    .unwrap();
    assert_eq!(
        e.file(CHAT, 13, CLIENT, "2025-01-13T11:00:00+03:00", Document),
        0
    );
    assert!(e.queued("receipt:").is_empty());
    // Back to the configuration's (on): confirmed again.
    chat_options::set(
        &conn,
        CHAT,
        OptionsChange {
            receipts: Some(None),
            ..OptionsChange::default()
        },
        "test",
        1,
    )
    .unwrap();
    assert_eq!(
        e.file(CHAT, 14, CLIENT, "2025-01-13T12:00:00+03:00", Document),
        1
    );
}

/// A request opened outside working time gets one reply with the next
/// opening, once per client per closure: Monday evening to Wednesday
/// morning is one closure (Tuesday is a holiday), Wednesday evening the
/// next.
#[test]
fn the_out_of_hours_reply_comes_once_per_client_per_closure() {
    let e = Env::new();
    // Each request is answered right away (an accountant's message), so
    // the client's next message opens a new one.
    let ooh = |id: i64, who, at: &str| {
        let out = e.ask(NIGHT, id, who, at);
        assert_eq!(out.opened, 1, "message {id} opened no request");
        let t = crate::t(at) + chrono::Duration::seconds(30);
        let answer = crate::user_message(
            NIGHT,
            id + 100,
            ACCOUNTANT,
            t,
            "Добрый день, отчёт будет завтра.",
        );
        assert_eq!(e.feed(answer).answered, 1);
        out.out_of_hours
    };
    assert_eq!(
        ooh(20, CLIENT, "2025-01-13T10:00:00+03:00"),
        0,
        "working time"
    );
    assert_eq!(ooh(21, CLIENT, "2025-01-13T19:00:00+03:00"), 1);
    assert_eq!(
        ooh(22, CLIENT, "2025-01-13T22:00:00+03:00"),
        0,
        "same closure"
    );
    assert_eq!(ooh(23, OTHER_CLIENT, "2025-01-13T22:30:00+03:00"), 1);
    assert_eq!(
        ooh(24, CLIENT, "2025-01-14T10:00:00+03:00"),
        0,
        "holiday: same closure"
    );
    assert_eq!(
        ooh(25, CLIENT, "2025-01-15T10:00:00+03:00"),
        0,
        "working time"
    );
    assert_eq!(
        ooh(26, CLIENT, "2025-01-15T19:00:00+03:00"),
        1,
        "the next closure"
    );
    // The switch is off by default: another chat's evening request gets none.
    assert_eq!(
        e.ask(CHAT, 27, CLIENT, "2025-01-13T19:00:00+03:00")
            .out_of_hours,
        0
    );

    let replies = e.queued("ooh:");
    assert_eq!(
        replies.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        vec![(NIGHT, Some(21)), (NIGHT, Some(23)), (NIGHT, Some(26))]
    );
    assert!(
        replies[0].2.contains("в среду, 15.01, в 09:00"),
        "{}",
        replies[0].2
    );
    assert!(replies[2].2.contains("завтра в 09:00"), "{}", replies[2].2);
}

/// The "working hours" text: today's hours and the next opening, on a
/// working day, after hours before a holiday, and on the holiday.
#[test]
fn working_hours_text_names_today_and_the_next_opening() {
    let e = Env::new();
    let engine = e.env.engine();
    let cal = engine.calendar(CHAT);
    let at = |s| crate::t(s);
    let open = hours_html(cal, at("2025-01-13T10:00:00+03:00"));
    assert!(open.contains("Сегодня: 09:00–18:00."), "{open}");
    assert!(open.contains("Сейчас мы работаем, до 18:00."), "{open}");
    assert_eq!(
        status(cal, at("2025-01-13T10:00:00+03:00")),
        Hours::Open {
            until: at("2025-01-13T18:00:00+03:00")
        }
    );
    let evening = hours_html(cal, at("2025-01-13T20:00:00+03:00"));
    assert!(
        evening.contains("Ближайшее начало работы: в среду, 15.01, в 09:00."),
        "{evening}"
    );
    let holiday = hours_html(cal, at("2025-01-14T12:00:00+03:00"));
    assert!(holiday.contains("Сегодня выходной день."), "{holiday}");
    assert!(holiday.contains("завтра в 09:00"), "{holiday}");
    let early = hours_html(cal, at("2025-01-15T07:30:00+03:00"));
    assert!(early.contains("сегодня в 09:00"), "{early}");
    assert_eq!(
        status(cal, at("2025-01-15T07:30:00+03:00")),
        Hours::Closed {
            next_opening: Some(at("2025-01-15T09:00:00+03:00"))
        }
    );
}

/// `buhbot chats set --receipts/--out-of-hours-reply` and `chats show`.
#[test]
fn the_switches_are_set_and_shown_from_the_shell() {
    let s = crate::daemon::setup("");
    let id = "-1001987654321";
    let run = |args: &[&str]| {
        let o = crate::buhbot()
            .arg("--config")
            .arg(&s.config)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (_, show) = run(&["chats", "show", id]);
    assert!(
        show.contains("receipts                     on (configuration)"),
        "{show}"
    );
    assert!(
        show.contains("out_of_hours_reply           off (configuration)"),
        "{show}"
    );
    let (code, out) = run(&[
        "chats",
        "set",
        id,
        "--receipts",
        "off",
        "--out-of-hours-reply",
        "on",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let (_, show) = run(&["chats", "show", id]);
    assert!(
        show.contains("receipts                     off (store)"),
        "{show}"
    );
    assert!(
        show.contains("out_of_hours_reply           on (store)"),
        "{show}"
    );
    let (code, out) = run(&["chats", "set", id, "--receipts", "default"]);
    assert_eq!(code, Some(0), "{out}");
    let (_, show) = run(&["chats", "show", id]);
    assert!(
        show.contains("receipts                     on (configuration)"),
        "{show}"
    );
    let (code, out) = run(&["chats", "set", id, "--receipts", "maybe"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("expected on, off or default"), "{out}");
}

/// Bad values of the new keys are configuration errors naming the key and
/// the file (exit 78).
#[test]
fn bad_values_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buhbot.toml");
    std::fs::write(
        &path,
        "[receipts]\nburst_seconds = 1\n[menu]\nout_of_hours_reply = \"yes\"\n\
         [[chats]]\nid = -1001\nreceipts = 3\n",
    )
    .unwrap();
    let o = crate::buhbot()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    let err = String::from_utf8_lossy(&o.stderr);
    let file = path.display().to_string();
    for key in [
        "receipts.burst_seconds",
        "menu.out_of_hours_reply",
        "chats[0].receipts",
    ] {
        assert!(err.contains(&format!("{file}: {key}")), "{key}: {err}");
    }
}
