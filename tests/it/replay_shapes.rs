//! `buhbot replay` over every shape of export Telegram Desktop writes:
//! chat types, full-account exports, old exports, migrations, topics,
//! forwards, media and scrubbed files. Each export is built here from the
//! format, and each shape is judged by the requests it yields.

use buhbot::config::Config;
use buhbot::replay::{ChatReport, ReplayError, ReplayOptions, ReplayOutcome, replay};
use chrono::{DateTime, Utc};
use figment::Figment;

const CLIENT: i64 = 100;
const CLIENT2: i64 = 200;
const ACCOUNTANT: i64 = 7;
const MANAGER: i64 = 9;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A plain message of the current format, at `at` (Moscow time), with
/// `extra` JSON members (replies, media, …) spliced in.
fn msg(id: i64, at: &str, from: i64, text: &str, extra: &str) -> String {
    let at = format!("2025-01-13T{at}:00+03:00");
    let unix = t(&at).timestamp();
    let local = &at[..19];
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("{extra}, ")
    };
    format!(
        r#"{{"id": {id}, "type": "message", "date": "{local}", "date_unixtime": "{unix}", "from": "U{from}", "from_id": "user{from}", {extra}"text": {text:?}, "text_entities": [{{"type": "plain", "text": {text:?}}}]}}"#
    )
}

fn service(id: i64, at: &str, actor: i64, action: &str, extra: &str) -> String {
    let at = format!("2025-01-13T{at}:00+03:00");
    let unix = t(&at).timestamp();
    format!(
        r#"{{"id": {id}, "type": "service", "date": "{}", "date_unixtime": "{unix}", "actor": "U{actor}", "actor_id": "user{actor}", "action": "{action}"{extra}, "text": "", "text_entities": []}}"#,
        &at[..19]
    )
}

fn chat(name: &str, kind: &str, id: i64, messages: &[String]) -> String {
    format!(
        r#"{{"name": {name:?}, "type": "{kind}", "id": {id}, "messages": [{}]}}"#,
        messages.join(",\n")
    )
}

fn full_export(chats: &[String], left: &[String]) -> String {
    format!(
        r#"{{"about": "Here is the data you requested.",
 "personal_information": {{"user_id": 7, "first_name": "Ольга"}},
 "chats": {{"about": "…", "list": [{}]}},
 "left_chats": {{"about": "…", "list": [{}]}}}}"#,
        chats.join(",\n"),
        left.join(",\n")
    )
}

fn staff() -> ReplayOptions {
    ReplayOptions {
        accountants: vec![ACCOUNTANT],
        managers: vec![MANAGER],
        ..ReplayOptions::default()
    }
}

fn run_opts(
    json: &str,
    opts: &ReplayOptions,
) -> Result<(Vec<ChatReport>, ReplayOutcome), ReplayError> {
    let config = Config::from_figment(&Figment::new(), None).unwrap();
    let mut out = Vec::new();
    let outcome = replay(json.as_bytes(), "shape.json", &config, opts, &mut |r| {
        out.push(r)
    })?;
    assert_eq!(outcome.reports, out.len());
    Ok((out, outcome))
}

fn run(json: &str) -> Vec<ChatReport> {
    run_opts(json, &staff()).unwrap_or_else(|e| panic!("{e}")).0
}

/// (message id, client, answered by) of each request, in order.
fn requests(r: &ChatReport) -> Vec<(i64, i64, Option<i64>)> {
    r.requests()
        .map(|q| (q.message_id, q.client_id, q.answered_by))
        .collect()
}

/// A request at 10:00 answered at 10:20: the smallest conversation.
fn asked_and_answered(first_id: i64) -> Vec<String> {
    vec![
        msg(
            first_id,
            "10:00",
            CLIENT,
            "Пришлите, пожалуйста, акт сверки",
            "",
        ),
        msg(first_id + 1, "10:20", ACCOUNTANT, "Отправила на почту", ""),
    ]
}

#[test]
fn every_group_type_is_replayed_and_other_chats_are_skipped() {
    for (kind, raw, id) in [
        ("private_group", 4001, -4001),
        ("private_supergroup", 1987654321, -1001987654321),
        ("public_supergroup", 1987654322, -1001987654322),
    ] {
        let reports = run(&chat("Группа", kind, raw, &asked_and_answered(1)));
        assert_eq!(reports.len(), 1, "{kind}");
        assert_eq!(reports[0].chat.id, id, "{kind}");
        assert_eq!(
            requests(&reports[0]),
            [(1, CLIENT, Some(ACCOUNTANT))],
            "{kind}"
        );
    }
    for kind in [
        "personal_chat",
        "bot_chat",
        "saved_messages",
        "private_channel",
        "public_channel",
    ] {
        let err = run_opts(
            &chat("Анна", kind, 5000001, &asked_and_answered(1)),
            &staff(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 65, "{kind}");
        let text = err.to_string();
        assert!(
            text.starts_with("shape.json: no group chat to replay")
                && text.contains("the export has no group chat")
                && text.contains("skipped: \"Анна\""),
            "{kind}: {text}"
        );
    }
}

#[test]
fn a_full_export_gives_one_report_per_group_chat() {
    let json = full_export(
        &[
            chat("Анна", "personal_chat", 5000001, &asked_and_answered(1)),
            chat(
                "ООО Ромашка",
                "private_supergroup",
                1987654321,
                &asked_and_answered(10),
            ),
            chat(
                "Новости",
                "public_channel",
                1111,
                &[msg(1, "09:00", ACCOUNTANT, "Новость", "")],
            ),
            chat(
                "ИП Орлов",
                "private_group",
                4001,
                &[msg(
                    5,
                    "11:00",
                    CLIENT2,
                    "Когда будет готова декларация?",
                    "",
                )],
            ),
        ],
        &[chat(
            "Старая",
            "private_supergroup",
            1987654000,
            &asked_and_answered(3),
        )],
    );
    let (reports, outcome) = run_opts(&json, &staff()).unwrap();
    type Got = Vec<(i64, Vec<(i64, i64, Option<i64>)>)>;
    let got: Got = reports.iter().map(|r| (r.chat.id, requests(r))).collect();
    assert_eq!(
        got,
        [
            (-1001987654321, vec![(10, CLIENT, Some(ACCOUNTANT))]),
            (-4001, vec![(5, CLIENT2, None)]),
            (-1001987654000, vec![(3, CLIENT, Some(ACCOUNTANT))]),
        ]
    );
    let skipped: Vec<(i64, &str)> = outcome
        .skipped
        .iter()
        .map(|s| (s.chat.id, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (5000001, "a personal chat"),
            (-1000000001111, "a channel (no client writes there)")
        ]
    );
    assert_eq!(outcome.groups.len(), 3);

    // --chat by Bot-API id, by the export's own id, by name (any case).
    for pick in ["-4001", "4001", "ип орлов"] {
        let opts = ReplayOptions {
            chat: Some(pick.parse().unwrap()),
            ..staff()
        };
        let (reports, _) = run_opts(&json, &opts).unwrap();
        assert_eq!(reports.len(), 1, "{pick}");
        assert_eq!(reports[0].chat.id, -4001, "{pick}");
    }
    // No match: the error lists the group chats to choose from.
    let opts = ReplayOptions {
        chat: Some("ООО Лютик".parse().unwrap()),
        ..staff()
    };
    let err = run_opts(&json, &opts).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert_eq!(
        err.to_string(),
        "shape.json: no group chat matches --chat \"ООО Лютик\"; group chats in the export: \
         \"ООО Ромашка\" (-1001987654321), \"ИП Орлов\" (-4001), \"Старая\" (-1001987654000)"
    );
    // Picking a channel says why it is not replayed.
    let opts = ReplayOptions {
        chat: Some("Новости".parse().unwrap()),
        ..staff()
    };
    let text = run_opts(&json, &opts).unwrap_err().to_string();
    assert!(
        text.ends_with(
            "skipped: \"Новости\" (-1000000001111) (a channel (no client writes there))"
        ),
        "{text}"
    );
}

#[test]
fn old_exports_without_unixtime_string_ids_or_entities() {
    // 2018-style: `from_id` a bare number, no `date_unixtime`, no
    // `text_entities`, `text` an array of strings and entity objects.
    let json = r#"{"name": "Старый чат", "type": "private_supergroup", "id": 77, "messages": [
      {"id": 1, "type": "message", "date": "2018-03-05T10:00:00", "from": "Клиент", "from_id": 100,
       "text": ["Пришлите, пожалуйста, ", {"type": "bold", "text": "акт сверки"}]},
      {"id": 2, "type": "message", "date": "2018-03-05T10:30:00", "from": "Бухгалтер", "from_id": 7,
       "text": "Отправила"},
      {"id": 3, "type": "message", "date": "2018-03-05T11:00:00", "from": "Клиент",
       "text": "Пришлите счёт"}
    ]}"#;
    let reports = run(json);
    let r = &reports[0];
    assert_eq!(
        requests(r),
        [(1, CLIENT, Some(ACCOUNTANT))],
        "no from_id: no sender"
    );
    let q = r.requests().next().unwrap();
    // Local dates read in the calendar's zone (Moscow by default).
    assert_eq!(q.received_at, t("2018-03-05T10:00:00+03:00"));
    assert_eq!(q.working_minutes, 30);
}

#[test]
fn deleted_accounts_null_senders_unsupported_and_service_entries() {
    let json = chat(
        "Группа",
        "private_supergroup",
        42,
        &[
            // A deleted account keeps its id: still a client.
            r#"{"id": 1, "type": "message", "date_unixtime": "1736751600", "from": "Deleted Account", "from_id": "user300", "text": "Пришлите акт сверки"}"#.into(),
            // `from: null` and no id at all: nobody to attribute.
            r#"{"id": 2, "type": "message", "date_unixtime": "1736751660", "from": null, "from_id": null, "text": "Пришлите счёт"}"#.into(),
            r#"{"id": 3, "type": "unsupported"}"#.into(),
            // Service entries: with an action, and a custom one without.
            service(4, "10:02", CLIENT, "invite_members", r#", "members": ["U100"]"#),
            r#"{"id": 5, "type": "service", "date_unixtime": "1736751780", "actor": "U100", "actor_id": "user100", "information_text": "Пришлите акт", "text": "Пришлите акт сверки"}"#.into(),
            msg(6, "10:30", ACCOUNTANT, "Готово", ""),
        ],
    );
    let r = &run(&json)[0];
    assert_eq!(requests(r), [(1, 300, Some(ACCOUNTANT))]);
    assert_eq!(r.unsupported, 1);
    assert_eq!(r.messages, 5);
}

#[test]
fn forwarded_media_polls_stickers_and_edits_open_nothing() {
    let json = chat(
        "Группа",
        "private_supergroup",
        42,
        &[
            // A client forwards someone else's request: not theirs.
            msg(
                1,
                "10:00",
                CLIENT,
                "Пришлите, пожалуйста, акт сверки",
                r#""forwarded_from": "ООО Вектор""#,
            ),
            msg(
                2,
                "10:01",
                CLIENT,
                "Выставьте счёт",
                r#""forwarded_from": null"#,
            ),
            // Media without a caption, a poll, a sticker.
            msg(
                3,
                "10:02",
                CLIENT,
                "",
                r#""photo": "photos/p.jpg", "width": 1, "height": 1"#,
            ),
            msg(
                4,
                "10:03",
                CLIENT,
                "",
                r#""poll": {"question": "Когда пришлёте акт?", "closed": false, "total_voters": 0, "answers": []}"#,
            ),
            msg(
                5,
                "10:04",
                CLIENT,
                "",
                r#""file": "stickers/s.webp", "media_type": "sticker", "sticker_emoji": "🙏""#,
            ),
            // An edited request counts from its first sending.
            msg(
                6,
                "10:10",
                CLIENT2,
                "Пришлите счёт на оплату",
                r#""edited": "2025-01-13T10:40:00", "edited_unixtime": "1736754000""#,
            ),
            // A captioned document is a request like any text.
            msg(
                7,
                "10:15",
                CLIENT,
                "Пришлите акт сверки, скан прикладываю",
                r#""file": "files/a.pdf", "mime_type": "application/pdf""#,
            ),
            msg(8, "10:45", ACCOUNTANT, "Готово", ""),
        ],
    );
    let r = &run(&json)[0];
    assert_eq!(
        requests(r),
        [
            (6, CLIENT2, Some(ACCOUNTANT)),
            (7, CLIENT, Some(ACCOUNTANT))
        ]
    );
    let first = r.requests().next().unwrap();
    assert_eq!(first.received_at, t("2025-01-13T10:10:00+03:00"));
    assert_eq!(first.working_minutes, 35);
}

#[test]
fn a_migrated_group_in_one_list_is_one_chat() {
    // Telegram Desktop's export of a supergroup made from a group: the
    // group's messages (their own numbering), `migrate_to_supergroup`,
    // then the supergroup's from `migrate_from_group`, ids restarting.
    let json = chat(
        "ООО Ромашка",
        "private_supergroup",
        1987654321,
        &[
            msg(501, "10:00", CLIENT, "Пришлите, пожалуйста, акт сверки", ""),
            msg(502, "10:05", CLIENT2, "Выставьте счёт", ""),
            service(503, "10:10", ACCOUNTANT, "migrate_to_supergroup", ""),
            service(
                1,
                "10:10",
                ACCOUNTANT,
                "migrate_from_group",
                r#", "title": "ООО Ромашка""#,
            ),
            // The client writes again: still the same request.
            msg(2, "10:20", CLIENT, "Ещё нужна справка, пришлите", ""),
            msg(
                3,
                "10:30",
                ACCOUNTANT,
                "Счёт выставила",
                r#""reply_to_message_id": 502"#,
            ),
            msg(4, "10:40", ACCOUNTANT, "Акт отправила", ""),
        ],
    );
    let reports = run(&json);
    assert_eq!(reports.len(), 1);
    // 502's id means nothing in the supergroup: the reply answers no one
    // in particular, so it answers both group requests.
    assert_eq!(
        requests(&reports[0]),
        [
            (501, CLIENT, Some(ACCOUNTANT)),
            (502, CLIENT2, Some(ACCOUNTANT))
        ]
    );
    let answered: Vec<_> = reports[0].requests().map(|q| q.answered_at).collect();
    assert_eq!(answered, [Some(t("2025-01-13T10:30:00+03:00")); 2]);
}

fn migrated_pair() -> (String, String) {
    let group = chat(
        "ИП Орлов",
        "private_group",
        4001,
        &[
            msg(900, "10:00", CLIENT, "Пришлите, пожалуйста, акт сверки", ""),
            service(901, "10:10", ACCOUNTANT, "migrate_to_supergroup", ""),
        ],
    );
    let sup = chat(
        "ИП Орлов",
        "private_supergroup",
        1987654999,
        &[
            service(
                1,
                "10:10",
                ACCOUNTANT,
                "migrate_from_group",
                r#", "title": "ИП Орлов""#,
            ),
            msg(2, "10:30", ACCOUNTANT, "Акт отправила", ""),
            msg(3, "11:00", CLIENT2, "Выставьте счёт", ""),
        ],
    );
    (group, sup)
}

#[test]
fn a_group_and_its_supergroup_listed_apart_are_one_chat_in_either_order() {
    let (group, sup) = migrated_pair();
    let other = chat("Другая", "private_supergroup", 555, &asked_and_answered(1));
    for (order, list) in [
        (
            "group first",
            vec![group.clone(), other.clone(), sup.clone()],
        ),
        (
            "supergroup first",
            vec![sup.clone(), other.clone(), group.clone()],
        ),
    ] {
        let json = full_export(&list, &[]);
        let reports = run(&json);
        let ids: Vec<i64> = reports.iter().map(|r| r.chat.id).collect();
        assert_eq!(ids.len(), 2, "{order}: {ids:?}");
        let merged = reports
            .iter()
            .find(|r| r.chat.id == -1001987654999)
            .unwrap();
        assert_eq!(
            merged.merged_from.iter().map(|c| c.id).collect::<Vec<_>>(),
            [-4001],
            "{order}"
        );
        assert_eq!(
            requests(merged),
            [(900, CLIENT, Some(ACCOUNTANT)), (3, CLIENT2, None)],
            "{order}: the group's request is answered in the supergroup"
        );
        assert_eq!(merged.messages, 5, "{order}");
        // --chat by the group's id finds the merged chat.
        let opts = ReplayOptions {
            chat: Some("-4001".parse().unwrap()),
            ..staff()
        };
        let (picked, _) = run_opts(&json, &opts).unwrap();
        assert_eq!(picked.len(), 1, "{order}");
        assert_eq!(picked[0].chat.id, -1001987654999, "{order}");
    }
    // A group whose supergroup never shows up is reported on its own.
    let reports = run(&full_export(&[group], &[]));
    assert_eq!(requests(&reports[0]), [(900, CLIENT, None)]);
}

#[test]
fn forum_topics_replies_inside_a_topic() {
    let json = chat(
        "Форум",
        "private_supergroup",
        42,
        &[
            service(
                1,
                "09:00",
                ACCOUNTANT,
                "topic_created",
                r#", "title": "Зарплата""#,
            ),
            service(
                2,
                "09:01",
                ACCOUNTANT,
                "topic_created",
                r#", "title": "Налоги""#,
            ),
            // In a topic without quoting: a reply to the topic's entry.
            msg(
                3,
                "10:00",
                CLIENT,
                "Пришлите расчётные листки",
                r#""reply_to_message_id": 1"#,
            ),
            msg(
                4,
                "10:05",
                CLIENT2,
                "Когда платить НДС?",
                r#""reply_to_message_id": 2"#,
            ),
            // A reply to the client's message in the topic answers them only.
            msg(
                5,
                "10:10",
                ACCOUNTANT,
                "До 28-го",
                r#""reply_to_message_id": 4"#,
            ),
            // Writing in a topic without quoting answers who is waiting.
            msg(
                6,
                "10:30",
                ACCOUNTANT,
                "Листки отправила",
                r#""reply_to_message_id": 1"#,
            ),
        ],
    );
    let r = &run(&json)[0];
    let answered: Vec<_> = r
        .requests()
        .map(|q| {
            (
                q.message_id,
                q.answered_at.map(|a| a.format("%H:%M").to_string()),
            )
        })
        .collect();
    assert_eq!(
        answered,
        [(3, Some("07:30".into())), (4, Some("07:10".into()))]
    );
}

#[test]
fn scrubbed_files_repeated_and_zero_ids_zero_dates_and_disorder() {
    let json = chat(
        "Группа",
        "private_supergroup",
        42,
        &[
            msg(0, "10:00", CLIENT, "Пришлите акт сверки", ""),
            msg(0, "10:05", CLIENT2, "Выставьте счёт", ""),
            // A zeroed unix time: the local date stands.
            r#"{"id": 7, "type": "message", "date": "2025-01-13T10:10:00", "date_unixtime": "0000000000", "from": "U7", "from_id": "user7", "text": "Счёт выставила", "reply_to_message_id": 0}"#.into(),
            // Out of order: dated before the previous message.
            msg(7, "09:00", CLIENT, "Пришлите справку", ""),
            msg(8, "10:40", ACCOUNTANT, "Справку отправила", ""),
        ],
    );
    let r = &run(&json)[0];
    let got: Vec<_> = r
        .requests()
        .map(|q| (q.message_id, q.client_id, q.received_at, q.answered_at))
        .collect();
    let at = |hm: &str| t(&format!("2025-01-13T{hm}:00+03:00"));
    assert_eq!(
        got,
        [
            // The reply to id 0 goes to the first message with that id.
            (0, CLIENT, at("10:00"), Some(at("10:10"))),
            (0, CLIENT2, at("10:05"), Some(at("10:40"))),
            // Dated 09:00 after 10:10: taken at 10:10.
            (7, CLIENT, at("10:10"), Some(at("10:40"))),
        ]
    );
    assert_eq!(r.reordered, 1);
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let json = format!(
        "\u{feff}{}",
        chat("Группа", "private_group", 1, &asked_and_answered(1))
    );
    assert_eq!(requests(&run(&json)[0]), [(1, CLIENT, Some(ACCOUNTANT))]);
}
