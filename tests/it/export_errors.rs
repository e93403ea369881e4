//! Files that are not an export, or not a whole one: each fails with the
//! file, the position and what was expected (exit 65 from the binary),
//! never a panic; and the entries the reader must read rather than refuse.

use buhbot::export::{Action, ExportError, ExportEvent, read_export};

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

fn read(bytes: &[u8]) -> Result<Vec<ExportEvent>, ExportError> {
    let mut events = Vec::new();
    read_export(bytes, "in.json", MOSCOW, &mut |e| events.push(e))?;
    Ok(events)
}

const HEAD: &str = r#"{"name": "Г", "type": "private_group", "id": 1, "messages": ["#;

#[test]
fn html_zip_gzip_and_utf16_are_named() {
    let html =
        b"<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"/><title>Exported Data</title>";
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00result.json";
    let gzip = b"\x1F\x8B\x08\x00\x00\x00";
    let utf16 = "\u{feff}{\"name\""
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect::<Vec<u8>>();
    for (bytes, found) in [
        (&html[..], "an HTML page"),
        (&zip[..], "a zip archive"),
        (&gzip[..], "a gzip-compressed file"),
        (&utf16[..], "UTF-16 text"),
    ] {
        let err = read(bytes).unwrap_err();
        assert!(
            matches!(&err, ExportError::NotAnExport { found: f, .. } if *f == found),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 65);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "in.json: byte 0: {found}, expected a Telegram Desktop JSON export (result.json): "
            )),
            "{text}"
        );
    }
    let text = read(html).unwrap_err().to_string();
    assert!(text.contains("Machine-readable JSON"), "{text}");
}

fn syntax(bytes: &[u8]) -> (usize, usize, u64, String) {
    match read(bytes) {
        Err(ExportError::Syntax {
            file,
            line,
            column,
            offset,
            message,
        }) => {
            assert_eq!(file, "in.json");
            (line, column, offset, message)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn non_utf8_bytes_are_placed_and_explained() {
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"\n{\"id\": 1, \"date_unixtime\": \"1\", \"text\": \"\xD0\xBF\xFF\xFE\"}]}",
    );
    let (line, column, offset, message) = syntax(&bytes);
    assert_eq!(line, 2);
    assert_eq!(
        column as u64,
        offset - HEAD.len() as u64 - 1,
        "columns count bytes"
    );
    assert!(
        offset > HEAD.len() as u64 + 30 && offset <= bytes.len() as u64,
        "{offset}"
    );
    assert!(message.contains("expected UTF-8 text"), "{message}");
    // In a value the reader skips, foreign bytes do no harm.
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(
        b"{\"id\": 1, \"date_unixtime\": \"1736751600\", \"file_name\": \"\xFF.pdf\", \"text\": \"x\"}]}",
    );
    assert_eq!(read(&bytes).unwrap().len(), 2);
}

#[test]
fn a_truncated_file_says_it_ends_early_and_where() {
    let full = format!(
        "{HEAD}\n{{\"id\": 1, \"type\": \"message\", \"date_unixtime\": \"1736751600\", \"text\": \"Пришлите акт\"}}]}}"
    );
    for cut in [10, HEAD.len(), HEAD.len() + 20, full.len() - 1] {
        let (line, _, offset, message) = syntax(&full.as_bytes()[..cut]);
        assert_eq!(offset, cut as u64, "cut {cut}");
        assert!(line >= 1);
        assert!(
            message.starts_with("EOF while parsing")
                && message.ends_with("the file ends before the export does (truncated, or not fully downloaded or copied?)"),
            "{message}"
        );
    }
    // A cut inside a multi-byte character is an error too, never a panic.
    let at = full.find("акт").unwrap() + 1;
    assert!(read(&full.as_bytes()[..at]).is_err());
}

#[test]
fn a_wrong_value_says_what_was_expected() {
    let json = format!("{HEAD}\n {{\"id\": 1, \"date_unixtime\": \"soon\", \"text\": \"\"}}]}}");
    let (line, column, offset, message) = syntax(json.as_bytes());
    assert_eq!((line, column), (2, 34));
    assert_eq!(offset, HEAD.len() as u64 + 1 + 34);
    assert_eq!(
        message,
        "invalid value: string \"soon\", expected unix time in seconds"
    );
    let err = read(json.as_bytes()).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert_eq!(
        err.to_string(),
        format!("in.json: line 2, column 34 (byte {offset}): {message}")
    );
}

#[test]
fn entries_read_rather_than_refused() {
    let json = format!(
        "{HEAD}{}]}}",
        [
            r#"{"id": 1, "type": "unsupported"}"#,
            r#"{"id": 2, "type": "message", "date": "2025-01-13T10:00:00", "date_unixtime": "0000000000", "text": "x", "forwarded_from": null}"#,
            r#"{"id": 3, "type": "service", "date_unixtime": "1736751600", "actor": "A", "actor_id": "user7", "action": "migrate_from_group", "title": "Старая группа", "text": ""}"#,
            r#"{"id": 4, "type": "service", "date_unixtime": "1736751600", "action": "topic_created", "title": "Налоги", "text": ""}"#,
            r#"{"id": 5, "type": "service", "date_unixtime": "1736751600", "action": "migrate_to_supergroup", "text": ""}"#,
            r#"{"id": 6, "type": "service", "date_unixtime": "1736751600", "information_text": "x", "text": ""}"#,
            r#"{"id": 7, "type": "message", "date_unixtime": "1736751600", "title": "Song", "performer": "P", "media_type": "audio_file", "text": ""}"#,
        ]
        .join(",")
    );
    let events = read(json.as_bytes()).unwrap();
    assert_eq!(events[1], ExportEvent::Unsupported(1));
    let msgs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ExportEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs[0].date.to_rfc3339(),
        "2025-01-13T07:00:00+00:00",
        "zero unix time: the local date"
    );
    assert!(msgs[0].forwarded && msgs[0].own_text().is_empty() && msgs[0].text == "x");
    let actions: Vec<_> = msgs.iter().map(|m| m.action.clone()).collect();
    assert_eq!(
        actions,
        [
            None,
            Some(Action::MigrateFromGroup {
                title: Some("Старая группа".into())
            }),
            Some(Action::TopicCreated {
                title: Some("Налоги".into())
            }),
            Some(Action::MigrateToSupergroup),
            None,
            None,
        ]
    );
    assert!(msgs[4].service && msgs[5].has_media && !msgs[5].service);
    // A zero unix time and no local date: nothing to go by.
    let json = format!("{HEAD}{{\"id\": 9, \"date_unixtime\": \"0000000000\", \"text\": \"\"}}]}}");
    let (_, _, _, message) = syntax(json.as_bytes());
    assert_eq!(message, "message 9 without `date`");
    // A date no Telegram message can have.
    for (date, shown) in [
        (r#""date": "1970-01-01T03:00:00""#, "1970-01-01T00:00:00Z"),
        (r#""date_unixtime": "99999999999""#, "5138-11-16T09:46:39Z"),
    ] {
        let json = format!("{HEAD}{{\"id\": 9, {date}, \"text\": \"\"}}]}}");
        let (_, _, _, message) = syntax(json.as_bytes());
        assert_eq!(
            message,
            format!(
                "message 9: date {shown} is outside 2013–2199, expected the date of a Telegram message"
            )
        );
    }
}
