//! `buhbot report sla` over the store the real daemon filled from an
//! export gives the numbers `buhbot replay` gives for the same messages.

use std::path::PathBuf;
use std::process::Output;

use chrono::{DateTime, SecondsFormat};
use serde_json::Value;

use crate::daemon::{Setup, log_tail, manifest, replayed, setup, stop};

const CHAT: &str = "-1001987654321";

/// The daemon's store after the example export, and the end of the export.
fn filled_store() -> (Setup, PathBuf, i64) {
    let s = setup("");
    let export = PathBuf::from(manifest("data/examples/chat-export.json"));
    let (child, end) = replayed(&s, &export);
    assert!(stop(child).success(), "{}", log_tail(&s));
    (s, export, end)
}

fn rfc(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn report(s: &Setup, args: &[&str]) -> Output {
    crate::buhbot()
        .args(["report", "sla", "--config", s.config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn report_json(s: &Setup, args: &[&str]) -> Value {
    let out = report(s, &[args, &["--format", "json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The keys of a replay summary, which the report's lines share.
pub const FIGURES: [&str; 6] = [
    "requests",
    "answered",
    "breached",
    "compliance_percent",
    "median_minutes",
    "p95_minutes",
];

fn figures(v: &Value) -> Vec<Value> {
    FIGURES.iter().map(|k| v[*k].clone()).collect()
}

#[test]
fn report_sla_gives_what_replay_gives_for_the_same_messages() {
    let (s, export, end) = filled_store();
    // Replay judges open requests at the last message; the report at --at.
    let out = crate::buhbot()
        .args(["replay", "--config", s.config.to_str().unwrap()])
        .args(["--format", "json"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(out.status.success());
    let replay: Value = serde_json::from_slice(&out.stdout).unwrap();
    let at = rfc(end);
    // Staff names come from the store's users.
    let added = crate::buhbot()
        .args(["users", "add", "7000001", "--name", "Ольга Смирнова"])
        .args([
            "--role",
            "accountant",
            "--config",
            s.config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(added.status.success());
    let period = ["--from", "2025-11-01", "--to", "2025-11-21", "--at", &at];
    let got = report_json(&s, &period);

    let summary = &replay["summary"];
    assert!(summary["requests"].as_u64().unwrap() >= 5, "{summary}");
    assert!(summary["breached"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(figures(&got["total"]), figures(summary));
    let chats = got["chats"].as_array().unwrap();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0]["id"].to_string(), CHAT);
    assert_eq!(figures(&chats[0]), figures(summary));

    // Open: what replay left unanswered, none of them within its deadline
    // unless replay's end came before it.
    let requests = replay["requests"].as_array().unwrap();
    let open = requests
        .iter()
        .filter(|r| r["answered_at"].is_null())
        .count();
    assert_eq!(got["total"]["open"], open);
    let open_breached = requests
        .iter()
        .filter(|r| r["answered_at"].is_null() && r["breached"] == true)
        .count();
    assert_eq!(got["total"]["open_in_time"], open - open_breached);

    // Per accountant (answered_by): the answered requests and late answers
    // replay shows for each; --accountant picks one of them out.
    let accountants = got["accountants"].as_array().unwrap();
    assert!(accountants.len() >= 2, "{accountants:?}");
    assert_eq!(accountants[0]["name"], "Ольга Смирнова");
    assert!(accountants[1]["name"].is_null());
    for a in accountants {
        let id = &a["id"];
        let theirs: Vec<&Value> = requests
            .iter()
            .filter(|r| &r["answered_by"] == id)
            .collect();
        let late = theirs.iter().filter(|r| r["breached"] == true).count();
        assert_eq!(a["requests"], theirs.len(), "{a}");
        assert_eq!(a["answered"], theirs.len(), "{a}");
        assert_eq!(a["breached"], late, "{a}");
        let only = report_json(
            &s,
            &[&period[..], &["--accountant", &id.to_string()]].concat(),
        );
        assert_eq!(figures(&only["total"]), figures(a));
        assert_eq!(only["accountants"].as_array().unwrap().len(), 1);
    }

    // --chat: the one chat is everything; a period without requests is empty.
    let one = report_json(&s, &[&period[..], &["--chat", CHAT]].concat());
    assert_eq!(figures(&one["total"]), figures(summary));
    let none = report_json(&s, &["--from", "2024-01-01", "--to", "2024-01-31"]);
    assert_eq!(none["total"]["requests"], 0);
    assert!(none["total"]["compliance_percent"].is_null());

    // CSV: a header, one row per chat and accountant, and the total.
    let out = report(&s, &[&period[..], &["--format", "csv"]].concat());
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "scope,id,name,requests,answered,breached,open,open_in_time,\
         compliance_percent,median_minutes,p95_minutes"
    );
    assert_eq!(lines.len(), 1 + 1 + accountants.len() + 1, "{csv}");
    assert!(lines[1].starts_with(&format!("chat,{CHAT},")), "{csv}");
    assert!(lines.last().unwrap().starts_with("total,,,"), "{csv}");
    assert!(lines.iter().all(|l| l.split(',').count() == 11), "{csv}");
    let total = lines.last().unwrap().split(',').collect::<Vec<_>>();
    assert_eq!(total[3], summary["requests"].to_string());

    // Text: the period, its zone and the open requests are stated.
    let out = report(&s, &period);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("2025-11-01 – 2025-11-21 (Europe/Moscow)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Open: {open} not answered")),
        "{text}"
    );
}

#[test]
fn bad_periods_are_usage_errors_and_an_unknown_chat_is_named() {
    let s = setup("");
    for (args, expect) in [
        (["--from", "2025-13-01", "--to", "2025-12-31"], "YYYY-MM-DD"),
        (["--from", "2025-11-01", "--to", "yesterday"], "YYYY-MM-DD"),
        (
            ["--from", "2025-11-02", "--to", "2025-11-01"],
            "is after --to",
        ),
    ] {
        let out = report(&s, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let out = report(
        &s,
        &[
            "--from",
            "2025-11-01",
            "--to",
            "2025-11-30",
            "--chat",
            "-100555",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown chat -100555"), "{err}");
    assert!(out.stdout.is_empty());
}
