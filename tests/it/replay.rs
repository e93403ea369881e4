//! `buhbot replay` over small exports, through the library and the binary.

use buhbot::config::Config;
use buhbot::domain::sla::AlertKind;
use buhbot::replay::{ChatReport, ReplayOptions, replay};
use chrono::{DateTime, Utc};
use figment::Figment;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A message line of a single-chat export.
fn msg(id: i64, at: &str, from: i64, text: &str, reply_to: Option<i64>) -> String {
    let unix = t(at).timestamp();
    let local = DateTime::parse_from_rfc3339(at)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S");
    let reply = reply_to
        .map(|r| format!(r#""reply_to_message_id": {r},"#))
        .unwrap_or_default();
    format!(
        r#"{{"id": {id}, "type": "message", "date": "{local}", "date_unixtime": "{unix}", "from": "U{from}", "from_id": "user{from}", {reply} "text": {text:?}, "text_entities": []}}"#
    )
}

fn export(messages: &[String]) -> String {
    format!(
        r#"{{"name": "Тест", "type": "private_supergroup", "id": 42, "messages": [{}]}}"#,
        messages.join(",\n")
    )
}

fn run(json: &str, opts: &ReplayOptions) -> Vec<ChatReport> {
    let config = Config::from_figment(&Figment::new(), None).unwrap();
    let mut out = Vec::new();
    replay(json.as_bytes(), "test.json", &config, opts, &mut |r| {
        out.push(r)
    })
    .unwrap();
    out
}

fn staff() -> ReplayOptions {
    ReplayOptions {
        accountants: vec![7],
        managers: vec![9],
        ..ReplayOptions::default()
    }
}

#[test]
fn replay_reports_answers_breaches_and_alerts() {
    let json = export(&[
        // Monday 10:00: answered in 20 minutes.
        msg(1, "2025-01-13T10:00:00+03:00", 100, "Где мой счёт?", None),
        msg(
            2,
            "2025-01-13T10:20:00+03:00",
            7,
            "Отправила на почту",
            Some(1),
        ),
        // Monday 16:00: the manager writes (does not count), answered next day.
        msg(
            3,
            "2025-01-13T16:00:00+03:00",
            200,
            "Когда будет готова декларация по УСН?",
            None,
        ),
        msg(
            4,
            "2025-01-13T16:30:00+03:00",
            9,
            "Коллеги, посмотрите",
            None,
        ),
        msg(
            5,
            "2025-01-14T09:45:00+03:00",
            7,
            "Декларация готова",
            Some(3),
        ),
        // Tuesday 11:00, never answered.
        msg(
            6,
            "2025-01-14T11:00:00+03:00",
            100,
            "Пришлите акт сверки за 2024 год",
            None,
        ),
        msg(7, "2025-01-14T12:30:00+03:00", 100, "Спасибо", None),
    ]);
    let reports = run(&json, &staff());
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.chat.id, -1_000_000_000_042);
    let requests: Vec<_> = r.requests().collect();
    assert_eq!(requests.len(), 3);

    let first = &requests[0];
    assert_eq!(
        (first.message_id, first.answered_by, first.working_minutes),
        (1, Some(7), 20)
    );
    assert!(!first.breached && first.alerts.is_empty());

    let late = &requests[1];
    assert_eq!(late.answered_at, Some(t("2025-01-14T09:45:00+03:00")));
    assert_eq!(late.working_minutes, 120 + 45);
    assert!(late.breached);
    assert_eq!(late.breached_at, Some(t("2025-01-13T17:00:00+03:00")));
    assert_eq!(late.excess_minutes, 105);
    let kinds: Vec<(AlertKind, u32)> = late.alerts.iter().map(|a| (a.kind, a.level)).collect();
    assert_eq!(
        kinds,
        vec![
            (AlertKind::Warning, 0),
            (AlertKind::Breach, 1),
            (AlertKind::Escalation, 2),
            (AlertKind::Escalation, 3),
            (AlertKind::Escalation, 4),
        ],
        "level 5 (10:00) is due after the answer at 09:45"
    );

    let open = &requests[2];
    assert_eq!(open.answered_at, None);
    assert_eq!(open.working_minutes, 90, "counted to the last message");
    assert!(open.breached);
    let s = r.summary();
    assert_eq!((s.requests, s.answered, s.breached), (3, 2, 2));
    assert_eq!(s.compliance_percent, Some(33.3));
    assert_eq!((s.median_minutes, s.p95_minutes), (Some(20), Some(165)));
}

#[test]
fn until_cuts_the_replay_and_hides_later_alerts() {
    let json = export(&[
        msg(1, "2025-01-13T10:00:00+03:00", 100, "Где мой счёт?", None),
        msg(2, "2025-01-13T12:00:00+03:00", 7, "Вот", None),
    ]);
    let opts = ReplayOptions {
        until: Some(t("2025-01-13T10:50:00+03:00")),
        ..staff()
    };
    let r = &run(&json, &opts)[0];
    let req = &r.requests().next().unwrap();
    assert_eq!(req.answered_at, None, "the answer comes after the end");
    assert_eq!(req.working_minutes, 50);
    assert!(!req.breached);
    assert_eq!(
        req.alerts.len(),
        1,
        "only the warning at 10:48 is due by 10:50"
    );
    assert_eq!(req.alerts[0].kind, AlertKind::Warning);
}

#[test]
fn without_configured_staff_nobody_answers() {
    let json = export(&[
        msg(1, "2025-01-13T10:00:00+03:00", 100, "Где мой счёт?", None),
        msg(
            2,
            "2025-01-13T10:20:00+03:00",
            7,
            "Отправила на почту",
            Some(1),
        ),
    ]);
    let requests: Vec<_> = run(&json, &ReplayOptions::default())[0]
        .requests()
        .collect();
    assert_eq!(requests[0].client_id, 100);
    assert!(
        requests.iter().all(|q| q.answered_at.is_none()),
        "7 is just another client here: {requests:?}"
    );
}

#[test]
fn broken_export_names_the_file_and_position() {
    let config = Config::from_figment(&Figment::new(), None).unwrap();
    let json =
        "{\"name\": \"x\", \"type\": \"private_group\", \"id\": 1, \"messages\": [\n{\"id\": 1, ]}";
    let err = replay(
        json.as_bytes(),
        "broken.json",
        &config,
        &staff(),
        &mut |_| {},
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("broken.json") && text.contains("line 2"),
        "{text}"
    );
}
