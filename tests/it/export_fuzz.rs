//! A fuzz target run with the tests: mutated exports (flipped bytes, cuts,
//! odd JSON values spliced in or put in place of real ones) through the
//! reader and the whole replay. Each must end in a report or in a typed
//! error with a position inside the file; never a panic. The number of
//! cases is fixed (1000), so it runs in CI in seconds.

use buhbot::config::Config;
use buhbot::export::{ExportError, read_export};
use buhbot::replay::{ReplayError, ReplayOptions, replay};
use figment::Figment;
use proptest::prelude::*;

/// A full-account export with most shapes: a migrated group and its
/// supergroup, a personal chat, a forum topic, forwards, media, an
/// unsupported entry, old-style fields, entity arrays.
fn base() -> String {
    let m = |id: i64, unix: i64, from: &str, text: &str, extra: &str| {
        format!(
            r#"{{"id": {id}, "type": "message", "date": "2025-01-13T10:00:00", "date_unixtime": "{unix}", "from": "U", "from_id": {from}, {extra} "text": {text}, "text_entities": []}}"#
        )
    };
    let group = format!(
        r#"{{"name": "ИП Орлов", "type": "private_group", "id": 4001, "messages": [{}, {}, {}]}}"#,
        m(
            900,
            1736751600,
            r#""user100""#,
            r#""Пришлите акт сверки""#,
            ""
        ),
        m(
            901,
            1736751700,
            "100",
            r#"["Выставьте ", {"type": "bold", "text": "счёт"}]"#,
            ""
        ),
        r#"{"id": 902, "type": "service", "date_unixtime": "1736752000", "actor": "A", "actor_id": "user7", "action": "migrate_to_supergroup", "text": ""}"#,
    );
    let sup = format!(
        r#"{{"name": "ИП Орлов", "type": "private_supergroup", "id": 1987654999, "messages": [{}, {}, {}, {}, {}, {}, {}]}}"#,
        r#"{"id": 1, "type": "service", "date_unixtime": "1736752000", "actor": "A", "actor_id": "user7", "action": "migrate_from_group", "title": "ИП Орлов", "text": ""}"#,
        r#"{"id": 2, "type": "service", "date_unixtime": "1736752001", "actor": "A", "actor_id": "user7", "action": "topic_created", "title": "Налоги", "text": ""}"#,
        m(
            3,
            1736752100,
            r#""user200""#,
            r#""Когда платить НДС?""#,
            r#""reply_to_message_id": 2,"#
        ),
        m(
            4,
            1736752200,
            r#""user100""#,
            r#""Пришлите справку""#,
            r#""forwarded_from": "Z","#
        ),
        r#"{"id": 5, "type": "unsupported"}"#,
        m(
            6,
            1736752300,
            r#""user7""#,
            r#""Готово""#,
            r#""reply_to_message_id": 3, "edited": "2025-01-13T10:40:00", "edited_unixtime": "1736754000","#
        ),
        m(
            7,
            1736752400,
            "null",
            r#""""#,
            r#""photo": "p.jpg", "poll": {"question": "?", "answers": []},"#
        ),
    );
    let personal = format!(
        r#"{{"name": "Анна", "type": "personal_chat", "id": 5000001, "messages": [{}]}}"#,
        m(1, 1736751600, r#""user5000001""#, r#""Пришлите""#, "")
    );
    format!(
        "{{\"about\": \"x\", \"personal_information\": {{\"user_id\": 7}},\n\"chats\": {{\"about\": \"x\", \"list\": [\n{sup},\n{personal}]}},\n\"left_chats\": {{\"list\": [\n{group}]}}}}\n"
    )
}

const ODD: &[&str] = &[
    "null",
    "[]",
    "{}",
    "-0",
    "1e999",
    "18446744073709551616",
    "-9223372036854775808",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"user\"",
    "\"channel-1\"",
    "\"0000000000\"",
    "\"99999999999999\"",
    "\"2025-02-30T10:00:00\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{\"text\": 5}",
    "true",
    "\"\u{feff}\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        byte: u8,
    },
    Cut {
        at: usize,
    },
    Insert {
        at: usize,
        odd: usize,
    },
    /// Replaces the value after the n-th `": "` with an odd one.
    Replace {
        nth: usize,
        odd: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), 0..ODD.len()).prop_map(|(at, odd)| Mutation::Insert { at, odd }),
        (any::<usize>(), 0..ODD.len()).prop_map(|(nth, odd)| Mutation::Replace { nth, odd }),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let len = data.len().max(1);
    match *m {
        Mutation::Flip { at, byte } => {
            if !data.is_empty() {
                data[at % len] = byte;
            }
        }
        Mutation::Cut { at } => data.truncate(at % len),
        Mutation::Insert { at, odd } => {
            let at = at % (data.len() + 1);
            data.splice(at..at, ODD[odd].bytes());
        }
        Mutation::Replace { nth, odd } => {
            let keys: Vec<usize> = data
                .windows(3)
                .enumerate()
                .filter(|(_, w)| w == b"\": ")
                .map(|(i, _)| i + 3)
                .collect();
            if keys.is_empty() {
                return;
            }
            let start = keys[nth % keys.len()];
            // The value runs to the next `,` or `}` outside a string (a
            // rough cut: nested values are cut short, which is one more
            // odd input).
            let mut end = start;
            let mut in_str = false;
            while end < data.len() {
                match data[end] {
                    b'"' if end == start || data[end - 1] != b'\\' => in_str = !in_str,
                    b',' | b'}' | b']' if !in_str => break,
                    _ => {}
                }
                end += 1;
            }
            data.splice(start..end, ODD[odd].bytes());
        }
    }
}

/// Built once: loading the classifier and calendars is most of a case.
fn config() -> &'static Config {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| Config::from_figment(&Figment::new(), None).unwrap())
}

fn check_error(e: &ExportError, data: &[u8]) -> Result<(), TestCaseError> {
    match e {
        ExportError::Syntax {
            file,
            line,
            column,
            offset,
            message,
        } => {
            prop_assert_eq!(file, "fuzz.json");
            prop_assert!(*line >= 1, "no line: {}", e);
            prop_assert!(
                *offset <= data.len() as u64 + 1,
                "offset {} past the end: {}",
                offset,
                e
            );
            prop_assert!(*offset >= *column as u64, "{}", e);
            prop_assert!(!message.is_empty());
        }
        ExportError::NotAnExport { .. } => {}
        other => prop_assert!(false, "unexpected error kind {:?}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_exports_end_in_a_report_or_a_placed_error(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let mut data = base().into_bytes();
        for m in &mutations {
            apply(&mut data, m);
        }
        let mut events = 0usize;
        let read = read_export(&data[..], "fuzz.json", chrono_tz::Europe::Moscow, &mut |_| events += 1);
        if let Err(e) = &read {
            check_error(e, &data)?;
        }
        let opts = ReplayOptions { accountants: vec![7], ..ReplayOptions::default() };
        let mut requests = 0;
        let replayed = replay(&data[..], "fuzz.json", config(), &opts, &mut |r| {
            // Computing every outcome and alert is part of the replay.
            requests += r.requests().count();
            let _ = r.summary();
        });
        match (&read, &replayed) {
            (Err(_), Ok(_)) => prop_assert!(false, "the replay read what the reader refused"),
            (Ok(()), Err(ReplayError::Export(e))) => prop_assert!(false, "the reader read it, the replay refused: {}", e),
            (_, Err(ReplayError::Export(e))) => check_error(e, &data)?,
            _ => {}
        }
    }
}

#[test]
fn the_base_export_is_valid_and_replays() {
    let data = base();
    let opts = ReplayOptions {
        accountants: vec![7],
        ..ReplayOptions::default()
    };
    let mut got = Vec::new();
    let outcome = replay(data.as_bytes(), "fuzz.json", config(), &opts, &mut |r| {
        got.push((
            r.chat.id,
            r.requests()
                .map(|q| (q.message_id, q.client_id, q.answered_by))
                .collect::<Vec<_>>(),
        ))
    })
    .unwrap();
    // The group (listed after its supergroup) is merged into it; 900 and
    // 901 are the same client's, so one request, answered by the first
    // general answer… there is none (6 replies to 3): it stays open.
    assert_eq!(
        got,
        [(-1001987654999, vec![(900, 100, None), (3, 200, Some(7))])]
    );
    assert_eq!(outcome.skipped.len(), 1);
}
