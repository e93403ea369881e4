//! The Telegram export reader against hand-made inputs and the shipped
//! example chat.

use std::io::Read;

use buhbot::export::{ExportChat, ExportError, ExportEvent, ExportMessage, Sender, read_export};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

const MOSCOW: Tz = chrono_tz::Europe::Moscow;
const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn read_tz(json: &str, tz: Tz) -> Result<Vec<ExportEvent>, ExportError> {
    let mut events = Vec::new();
    read_export(json.as_bytes(), "test.json", tz, &mut |e| events.push(e))?;
    Ok(events)
}

fn read(json: &str) -> Vec<ExportEvent> {
    read_tz(json, MOSCOW).unwrap_or_else(|e| panic!("{e}"))
}

fn messages(events: &[ExportEvent]) -> Vec<&ExportMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            ExportEvent::Message(m) => Some(m),
            ExportEvent::Chat(_) | ExportEvent::Unsupported(_) => None,
        })
        .collect()
}

fn chats(events: &[ExportEvent]) -> Vec<&ExportChat> {
    events
        .iter()
        .filter_map(|e| match e {
            ExportEvent::Chat(c) => Some(c),
            ExportEvent::Message(_) | ExportEvent::Unsupported(_) => None,
        })
        .collect()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Wraps message objects into a single-chat export.
fn chat_with(messages: &str) -> String {
    format!(
        r#"{{"name": "ООО Ромашка — бухгалтерия", "type": "private_supergroup", "id": 1987654321,
 "messages": [{messages}]}}"#
    )
}

fn one(message: &str) -> ExportMessage {
    let events = read(&chat_with(message));
    let ms = messages(&events);
    assert_eq!(ms.len(), 1);
    ms[0].clone()
}

fn syntax(json: &str) -> (usize, usize, String) {
    match read_tz(json, MOSCOW) {
        Err(ExportError::Syntax {
            file,
            line,
            column,
            message,
            ..
        }) => {
            assert_eq!(file, "test.json");
            (line, column, message)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn single_chat_emits_the_chat_then_its_messages() {
    let events = read(&chat_with(
        r#"
  {"id": 2, "type": "message", "date": "2025-11-03T09:15:12", "date_unixtime": "1762150512",
   "from": "Иван Петров", "from_id": "user5000001",
   "text": "Добрый день! Пришлите, пожалуйста, акт сверки",
   "text_entities": [{"type": "plain", "text": "Добрый день! Пришлите, пожалуйста, акт сверки"}]},
  {"id": 3, "type": "message", "date": "2025-11-03T09:18:00", "date_unixtime": "1762150680",
   "from": "Ольга Смирнова", "from_id": "user7000001", "text": "ок", "text_entities": []}"#,
    ));
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        ExportEvent::Chat(ExportChat {
            id: -1001987654321,
            name: Some("ООО Ромашка — бухгалтерия".into()),
            kind: "private_supergroup".into(),
        })
    );
    let ExportEvent::Message(m) = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(
        *m,
        ExportMessage {
            id: 2,
            service: false,
            date: utc("2025-11-03T06:15:12Z"),
            sender: Some(Sender::User(5000001)),
            sender_name: Some("Иван Петров".into()),
            text: "Добрый день! Пришлите, пожалуйста, акт сверки".into(),
            reply_to: None,
            has_media: false,
            edited: None,
            forwarded: false,
            action: None,
        }
    );
    assert_eq!(messages(&events)[1].sender, Some(Sender::User(7000001)));
}

#[test]
fn full_export_reads_chats_and_left_chats_and_skips_the_rest() {
    let json = r#"{
 "about": "Here is the data you requested.",
 "personal_information": {"user_id": 7000001, "first_name": "Ольга", "phone_number": "+7 999"},
 "profile_pictures": [{"date": "x", "photo": "y"}],
 "contacts": {"about": "…", "list": [{"user_id": 1, "first_name": "A", "date": "bad"}]},
 "frequent_contacts": {"list": [{"id": 5, "category": "people", "type": "user", "name": "B", "rating": 1.5}]},
 "chats": {
  "about": "This page lists all chats from this export.",
  "list": [
   {"name": "Анна Козлова", "type": "personal_chat", "id": 7000002,
    "messages": [{"id": 10, "type": "message", "date": "2025-11-03T10:00:00", "date_unixtime": "1762153200",
                  "from": "Анна Козлова", "from_id": "user7000002", "text": "привет"}]},
   {"name": "ООО Ромашка — бухгалтерия", "type": "private_supergroup", "id": 1987654321, "messages": [
     {"id": 1, "type": "message", "date": "2025-11-03T10:00:00", "date_unixtime": "1762153200",
      "from": "Иван Петров", "from_id": "user5000001", "text": "а"},
     {"id": 2, "type": "message", "date": "2025-11-03T10:01:00", "date_unixtime": "1762153260",
      "from": "Иван Петров", "from_id": "user5000001", "text": "б"}]},
   {"name": null, "type": "saved_messages", "id": 7000001, "messages": []}
  ]
 },
 "left_chats": {"about": "…", "list": [
   {"name": "Старая группа", "type": "private_group", "id": 4001, "messages": [
     {"id": 7, "type": "message", "date": "2025-11-03T10:00:00", "date_unixtime": "1762153200",
      "from": "Иван Петров", "from_id": "user5000001", "text": "в"}]}
 ]},
 "other_data": {"about": "x", "changes_log": [1, 2, {"a": [null]}]}
}"#;
    let events = read(json);
    let order: Vec<String> = events
        .iter()
        .map(|e| match e {
            ExportEvent::Chat(c) => format!("chat {}", c.id),
            ExportEvent::Message(m) => format!("msg {} {}", m.id, m.text),
            ExportEvent::Unsupported(id) => format!("unsupported {id}"),
        })
        .collect();
    assert_eq!(
        order,
        [
            "chat 7000002",
            "msg 10 привет",
            "chat -1001987654321",
            "msg 1 а",
            "msg 2 б",
            "chat 7000001",
            "chat -4001",
            "msg 7 в",
        ]
    );
    assert_eq!(chats(&events)[2].name, None);
    assert_eq!(chats(&events)[3].name.as_deref(), Some("Старая группа"));
}

#[test]
fn text_as_string_and_as_array_of_entities() {
    let m = one(
        r#"{"id": 1, "type": "message", "date_unixtime": "1762150512", "from_id": "user1",
        "text": ["Высылаю ", {"type": "bold", "text": "акт"}, " за октябрь, см. ",
                 {"type": "link", "text": "https://nalog.gov.ru"}, " и ",
                 {"href": "https://example.com/a", "type": "text_link", "text": "тут"}, ", ",
                 {"type": "mention", "text": "@olga_buh"}, " ",
                 {"type": "custom_emoji", "text": "👍", "document_id": "files/x.webp"}],
        "text_entities": [{"type": "plain", "text": "ignored"}]}"#,
    );
    assert_eq!(
        m.text,
        "Высылаю акт за октябрь, см. https://nalog.gov.ru и тут, @olga_buh 👍"
    );
    let m = one(
        r#"{"id": 1, "type": "message", "date_unixtime": "1762150512", "from_id": "user1",
        "text": "строка с \"кавычками\" и \u0441 escape\nи переводом"}"#,
    );
    assert_eq!(m.text, "строка с \"кавычками\" и с escape\nи переводом");
    let m = one(r#"{"id": 1, "type": "message", "date_unixtime": "1762150512", "text": []}"#);
    assert_eq!(m.text, "");
    assert_eq!(m.sender, None);
}

#[test]
fn service_entries_are_attributed_to_the_actor() {
    let events = read(&chat_with(
        r#"{"id": 1, "type": "service", "date": "2025-11-03T09:00:00", "date_unixtime": "1762149600",
           "actor": "Ольга Смирнова", "actor_id": "user7000001", "action": "create_group",
           "title": "ООО Ромашка — бухгалтерия", "members": ["Иван Петров"], "text": "", "text_entities": []},
          {"id": 2, "type": "service", "date": "2025-11-03T09:01:00", "date_unixtime": "1762149660",
           "actor": "Ольга Смирнова", "actor_id": "user7000001", "action": "pin_message",
           "message_id": 1, "text": "", "text_entities": []}"#,
    ));
    let ms = messages(&events);
    assert_eq!(ms.len(), 2);
    for m in ms {
        assert!(m.service);
        assert_eq!(m.sender, Some(Sender::User(7000001)));
        assert_eq!(m.sender_name.as_deref(), Some("Ольга Смирнова"));
        assert_eq!(m.text, "");
        assert!(!m.has_media);
    }
}

#[test]
fn media_with_and_without_caption() {
    let base = r#""type": "message", "date_unixtime": "1762150512", "from": "И", "from_id": "user5000001""#;
    let cases = [
        (
            r#""file": "files/scan.pdf", "file_name": "scan.pdf", "file_size": 123, "mime_type": "application/pdf", "text": "вот скан""#,
            "вот скан",
        ),
        (
            r#""photo": "photos/photo_1@03-11-2025_10-00-00.jpg", "photo_file_size": 1, "width": 1280, "height": 960, "text": """#,
            "",
        ),
        (
            r#""file": "(File not included. Change data exporting settings to download.)", "media_type": "sticker", "sticker_emoji": "👍", "text": """#,
            "",
        ),
        (r#""sticker_emoji": "👍", "text": """#, ""),
        (
            r#""media_type": "voice_message", "duration_seconds": 3, "text": """#,
            "",
        ),
        (
            r#""location_information": {"latitude": 55.7, "longitude": 37.6}, "text": """#,
            "",
        ),
        (
            r#""contact_information": {"first_name": "Ольга", "phone_number": "+7"}, "text": """#,
            "",
        ),
        (
            r#""poll": {"question": "Когда?", "answers": [{"text": "Пн", "voters": 1}]}, "text": """#,
            "",
        ),
    ];
    for (i, (media, caption)) in cases.iter().enumerate() {
        let m = one(&format!("{{\"id\": {i}, {base}, {media}}}"));
        assert!(m.has_media, "case {i}");
        assert_eq!(m.text, *caption, "case {i}");
    }
    let m = one(&format!(
        "{{\"id\": 1, {base}, \"text\": \"просто текст\"}}"
    ));
    assert!(!m.has_media);
}

#[test]
fn replies_and_edits() {
    let m = one(
        r#"{"id": 3, "type": "message", "date": "2025-11-03T09:18:00", "date_unixtime": "1762150680",
           "edited": "2025-11-03T09:20:00", "edited_unixtime": "1762150800",
           "from": "Ольга Смирнова", "from_id": "user7000001", "reply_to_message_id": 2,
           "text": ["Высылаю ", {"type": "bold", "text": "акт"}]}"#,
    );
    assert_eq!(m.reply_to, Some(2));
    assert_eq!(m.edited, Some(utc("2025-11-03T06:20:00Z")));
    assert_eq!(m.date, utc("2025-11-03T06:18:00Z"));
    // An edit without `edited_unixtime` is read in the export's zone.
    let m = one(
        r#"{"id": 3, "type": "message", "date": "2025-11-03T09:18:00", "edited": "2025-11-03T09:20:00",
           "from_id": "user7000001", "reply_to_message_id": 2, "text": "x"}"#,
    );
    assert_eq!(m.edited, Some(utc("2025-11-03T06:20:00Z")));
}

#[test]
fn senders_user_channel_and_deleted() {
    let msg = |from: &str| {
        one(&format!(
            r#"{{"id": 1, "type": "message", "date_unixtime": "1762150512", {from}, "text": "x"}}"#
        ))
    };
    let m = msg(r#""from": "Иван Петров", "from_id": "user5000001""#);
    assert_eq!(m.sender, Some(Sender::User(5000001)));
    let m = msg(r#""from": "ООО Ромашка — бухгалтерия", "from_id": "channel1987654321""#);
    assert_eq!(m.sender, Some(Sender::Chat(-1001987654321)));
    assert_eq!(m.sender_name.as_deref(), Some("ООО Ромашка — бухгалтерия"));
    let m = msg(r#""from": null, "from_id": "user5000009""#);
    assert_eq!(m.sender, Some(Sender::User(5000009)));
    assert_eq!(m.sender_name, None);
    let m = msg(r#""from": null, "from_id": null"#);
    assert_eq!(m.sender, None);
    let (_, _, message) = syntax(&chat_with(
        r#"{"id": 1, "type": "message", "date_unixtime": "1762150512", "from_id": "robot7", "text": "x"}"#,
    ));
    assert!(message.contains("robot7"), "{message}");
}

#[test]
fn dates_without_unixtime_use_the_export_zone() {
    let at = |date: &str, tz: Tz| {
        let json = chat_with(&format!(
            r#"{{"id": 1, "type": "message", "date": "{date}", "from_id": "user1", "text": ""}}"#
        ));
        messages(&read_tz(&json, tz).unwrap())[0].date
    };
    assert_eq!(
        at("2025-11-03T09:15:12", MOSCOW),
        utc("2025-11-03T06:15:12Z")
    );
    assert_eq!(
        at("2025-07-01T09:00:00", MOSCOW),
        utc("2025-07-01T06:00:00Z")
    );
    // Berlin, spring forward on 2025-03-30 at 02:00 CET → 03:00 CEST.
    assert_eq!(
        at("2025-03-30T01:30:00", BERLIN),
        utc("2025-03-30T00:30:00Z")
    );
    assert_eq!(
        at("2025-03-30T03:30:00", BERLIN),
        utc("2025-03-30T01:30:00Z")
    );
    // In the gap: moved forward by the gap (02:30 → 03:30 CEST).
    assert_eq!(
        at("2025-03-30T02:30:00", BERLIN),
        utc("2025-03-30T01:30:00Z")
    );
    // Fall back on 2025-10-26 at 03:00 CEST → 02:00 CET: 02:30 happens
    // twice, the earlier (CEST) one is taken.
    assert_eq!(
        at("2025-10-26T02:30:00", BERLIN),
        utc("2025-10-26T00:30:00Z")
    );
    assert_eq!(
        at("2025-10-26T03:30:00", BERLIN),
        utc("2025-10-26T02:30:00Z")
    );
    // `date_unixtime` wins over `date` whatever the zone.
    let json = chat_with(
        r#"{"id": 1, "type": "message", "date": "2025-10-26T02:30:00", "date_unixtime": "1761442200", "text": ""}"#,
    );
    assert_eq!(
        messages(&read_tz(&json, BERLIN).unwrap())[0].date,
        utc("2025-10-26T01:30:00Z")
    );
}

#[test]
fn chat_ids_map_to_bot_api_ids() {
    let cases = [
        ("personal_chat", 5000001i64, 5000001i64),
        ("bot_chat", 6000000, 6000000),
        ("saved_messages", 7000001, 7000001),
        ("private_group", 4001, -4001),
        ("private_supergroup", 1987654321, -1001987654321),
        ("public_supergroup", 1987654321, -1001987654321),
        ("private_channel", 123, -1000000000123),
        ("public_channel", 123, -1000000000123),
        ("private_supergroup", -1001987654321, -1001987654321),
        ("private_group", -4001, -4001),
    ];
    for (kind, raw, want) in cases {
        let json = format!(r#"{{"name": "x", "type": "{kind}", "id": {raw}, "messages": []}}"#);
        let events = read(&json);
        assert_eq!(
            events,
            [ExportEvent::Chat(ExportChat {
                id: want,
                name: Some("x".into()),
                kind: kind.into()
            })],
            "{kind} {raw}"
        );
    }
}

#[test]
fn the_shipped_example_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/examples/chat-export.json"
    );
    let file = std::fs::File::open(path).unwrap();
    let mut events = Vec::new();
    read_export(file, path, MOSCOW, &mut |e| events.push(e)).unwrap();
    assert_eq!(
        events[0],
        ExportEvent::Chat(ExportChat {
            id: -1001987654321,
            name: Some("ООО Ромашка — бухгалтерия".into()),
            kind: "private_supergroup".into(),
        })
    );
    assert_eq!(chats(&events).len(), 1);
    let ms = messages(&events);
    assert_eq!(ms.len(), 158);
    assert_eq!(ms.iter().filter(|m| m.service).count(), 4);
    assert_eq!(ms.iter().filter(|m| m.reply_to.is_some()).count(), 38);
    assert_eq!(ms.iter().filter(|m| m.edited.is_some()).count(), 2);
    assert_eq!(ms.iter().filter(|m| m.has_media).count(), 35);
    assert!(
        ms.windows(2)
            .all(|w| w[0].date <= w[1].date && w[0].id < w[1].id)
    );
    let by = |uid: i64| {
        ms.iter()
            .filter(|m| m.sender == Some(Sender::User(uid)))
            .count()
    };
    assert_eq!(by(7000009), 5, "manager");
    assert_eq!(by(6000000), 2, "bot");
    assert!(by(7000001) > 0 && by(7000002) > 0);
    assert_eq!(
        by(5000001) + by(5000002) + by(5000003) + by(7000001) + by(7000002) + 7,
        158
    );
    // Every message's local `date` agrees with its `date_unixtime`.
    assert_eq!(ms[0].date, utc("2025-11-01T07:02:14Z"));
    let last = ms.last().unwrap();
    assert_eq!(last.id, 158);
    assert_eq!(last.sender, Some(Sender::User(5000002)));
    assert_eq!(last.date, utc("2025-11-21T14:45:21Z"));
}

#[test]
fn unknown_keys_are_ignored_at_every_level() {
    let json = r#"{"future": {"a": [1, {"b": null}]}, "name": "x", "type": "personal_chat",
        "id": 5, "extra": [true, false], "messages": [
        {"via_bot": "@bot", "id": 1, "reactions": [{"type": "emoji", "count": 2, "emoji": "👍",
         "recent": [{"from": "A", "from_id": "user1", "date": "2025-11-03T10:00:00"}]}],
         "type": "message", "date_unixtime": "1762150512", "inline_bot_buttons": [[{"type": "url"}]],
         "text": [{"type": "bold", "text": "a", "extra": {"x": 1}}], "forwarded_from": "Z"}],
        "trailing": 1.5e3}"#;
    let events = read(json);
    let ms = messages(&events);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].text, "a");
    assert_eq!(ms[0].sender, None, "a reaction's from_id is not the sender");
    assert!(!ms[0].has_media);
}

#[test]
fn key_order_inside_objects() {
    // Keys of a message in any order.
    let m = one(
        r#"{"text": "x", "from_id": "user1", "date_unixtime": "1762150512", "type": "service", "id": 9}"#,
    );
    assert_eq!((m.id, m.service), (9, true));
    // A chat's `name` after `messages` is lost, but the chat is announced.
    let events = read(r#"{"type": "personal_chat", "id": 5, "messages": [], "name": "late"}"#);
    assert_eq!(chats(&events)[0].name, None);
    // `id` after `messages` is refused: the messages would have no chat.
    let (line, column, message) =
        syntax("{\"name\": \"x\", \"type\": \"personal_chat\",\n \"messages\": [], \"id\": 5}");
    assert_eq!((line, column), (2, 12));
    assert!(message.contains("must come before `messages`"), "{message}");
    // A chat without messages at all is still announced.
    let events = read(r#"{"name": "x", "type": "private_group", "id": 5}"#);
    assert_eq!(chats(&events)[0].id, -5);
}

#[test]
fn errors_carry_file_line_and_column() {
    // Broken JSON.
    let (line, column, message) = syntax(
        "{\"name\": \"x\", \"type\": \"personal_chat\", \"id\": 5, \"messages\": [\n  {\"id\": 1,, \"text\": \"\"}\n]}",
    );
    assert_eq!((line, column), (2, 12), "{message}");
    assert_eq!(message, "key must be a string");
    // A message without `id`: reported at the end of the message object.
    let (line, column, message) = syntax(&format!(
        "{{\"type\": \"personal_chat\", \"id\": 5, \"messages\": [\n{}\n]}}",
        r#"  {"type": "message", "date_unixtime": "1762150512", "text": ""}"#
    ));
    assert_eq!((line, column), (2, 64));
    assert!(message.contains("without `id`"), "{message}");
    // Without any date.
    let (line, _, message) = syntax(&format!(
        "{{\"type\": \"personal_chat\", \"id\": 5, \"messages\": [\n\n{}\n]}}",
        r#"  {"id": 4, "type": "message", "text": ""}"#
    ));
    assert_eq!(line, 3);
    assert!(message.contains("message 4 without `date`"), "{message}");
    // A bad `date_unixtime` and a bad `date`.
    let (line, column, message) = syntax(
        "{\"type\": \"personal_chat\", \"id\": 5, \"messages\": [\n {\"id\": 1, \"date_unixtime\": \"17x\", \"text\": \"\"}]}",
    );
    assert_eq!((line, column), (2, 33));
    assert!(message.contains("17x"), "{message}");
    let (_, _, message) = syntax(&chat_with(r#"{"id": 1, "date": "2025-02-30T10:00:00"}"#));
    assert!(message.contains("2025-02-30"), "{message}");
    // Wrong types.
    let (line, column, message) = syntax(&chat_with(r#"{"id": "1", "date_unixtime": "1"}"#));
    assert_eq!((line, column), (2, 24));
    assert!(message.contains("invalid type"), "{message}");
    let (_, _, message) = syntax(r#"{"type": "personal_chat", "id": 5, "messages": {}}"#);
    assert!(message.contains("list of messages"), "{message}");
    let (_, _, message) = syntax(&chat_with(r#"{"id": 1, "date_unixtime": "1", "text": 5}"#));
    assert!(message.contains("invalid type"), "{message}");
    let (_, _, message) = syntax("[]");
    assert!(message.contains("export object"), "{message}");
    // Trailing garbage after the export.
    let (line, column, _) = syntax("{}\nx");
    assert_eq!((line, column), (2, 1));
    // The error's Display names the file and the position.
    let err = read_tz("{\n  nope", MOSCOW).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("test.json: line 2, column 3 (byte 5): "),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage_inputs_fail_without_panicking() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/examples/chat-export.json"
    );
    let full = std::fs::read(path).unwrap();
    // Every cut inside the document is an error (the final newline is not
    // part of the document).
    let doc_end = full.len() - 1;
    let mut cut = 0;
    while cut < doc_end {
        let mut n = 0usize;
        let r = read_export(&full[..cut], "cut.json", MOSCOW, &mut |_| n += 1);
        assert!(
            matches!(r, Err(ExportError::Syntax { .. })),
            "cut at {cut}: {r:?}"
        );
        cut += 101;
    }
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..300 {
        let mut data = full.clone();
        for _ in 0..1 + round % 5 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % data.len() as u64) as usize;
            data[at] = (seed >> 32) as u8;
        }
        let _ = read_export(&data[..], "garbage.json", MOSCOW, &mut |_| {});
    }
    for junk in [
        "",
        " ",
        "{",
        "}",
        "null",
        "\"",
        "{\"messages\": [1]}",
        "{\"chats\": 5}",
        "{\"id\": 99999999999999999999}",
        "{\"type\": \"public_channel\", \"id\": 9223372036854775807}",
        "{\"chats\": {\"list\": [{}]}}",
    ] {
        assert!(read_tz(junk, MOSCOW).is_err(), "{junk:?}");
    }
}

#[test]
fn read_errors_are_io_errors() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let src = br#"{"type": "personal_chat", "id": 5, "messages": ["#;
            let n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
            self.0 -= 1;
            Ok(n)
        }
    }
    let err = read_export(Failing(1), "f.json", MOSCOW, &mut |_| {}).unwrap_err();
    match err {
        ExportError::Io { file, source } => {
            assert_eq!(file, "f.json");
            assert_eq!(source.to_string(), "disk on fire");
        }
        other => panic!("{other:?}"),
    }
}
