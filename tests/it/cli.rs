//! The `buhbot` binary: output formats and exit codes.

use std::process::Output;

fn buhbot(args: &[&str]) -> Output {
    crate::buhbot()
        .args(args)
        .env_remove("BUHBOT_LOG")
        .output()
        .expect("run buhbot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn example(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn calendar_minutes_and_deadline() {
    let cfg = example("config/buhbot.example.toml");
    let o = buhbot(&[
        "calendar",
        "minutes",
        "--config",
        &cfg,
        "--from",
        "2025-01-10T17:55:00+03:00",
        "--to",
        "2025-01-13T09:05:00+03:00",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout(&o), "10");
    let o = buhbot(&[
        "calendar",
        "minutes",
        "--config",
        &cfg,
        "--from",
        "2025-01-13T10:00:00Z",
        "--to",
        "2025-01-13T09:00:00Z",
    ]);
    assert_eq!(stdout(&o), "0");
    let o = buhbot(&[
        "calendar",
        "deadline",
        "--config",
        &cfg,
        "--from",
        "2025-01-10T17:59:30+03:00",
        "--minutes",
        "1",
    ]);
    assert_eq!(stdout(&o), "2025-01-13T06:00:30Z");
    let o = buhbot(&[
        "calendar",
        "deadline",
        "--config",
        &cfg,
        "--from",
        "2025-01-13T09:00:00+03:00",
        "--minutes",
        "5",
    ]);
    assert_eq!(stdout(&o), "2025-01-13T06:05:00Z");
}

#[test]
fn calendar_show_lists_days() {
    let cfg = example("config/buhbot.example.toml");
    let o = buhbot(&[
        "calendar",
        "show",
        "--config",
        &cfg,
        "--from",
        "2025-01-10",
        "--days",
        "3",
    ]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].starts_with("2025-01-10 Fri") && lines[1].contains("09:00-18:00"),
        "{out}"
    );
    assert!(lines[2].contains("day off"), "{out}");
}

#[test]
fn unknown_chat_is_a_clear_error() {
    let o = buhbot(&[
        "calendar",
        "minutes",
        "--config",
        &example("config/buhbot.example.toml"),
        "--chat",
        "-100123",
        "--from",
        "2025-01-10T10:00:00Z",
        "--to",
        "2025-01-10T11:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("chat -100123 is not configured"));
}

#[test]
fn classify_prints_category_and_confidence() {
    let o = buhbot(&[
        "classify",
        "--config",
        &example("config/buhbot.example.toml"),
        "Где мой счёт?",
    ]);
    let out = stdout(&o);
    let (cat, conf) = out.split_once(' ').expect("CATEGORY CONFIDENCE");
    assert_eq!(cat, "REQUEST");
    let conf: f64 = conf.parse().unwrap();
    assert!((0.0..=1.0).contains(&conf));
    let o = buhbot(&[
        "classify",
        "--config",
        &example("config/buhbot.example.toml"),
        "Спасибо!",
    ]);
    assert!(stdout(&o).starts_with("GRATITUDE "), "{o:?}");
}

#[test]
fn configuration_errors_exit_78_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[sla]\nthreshold_minutes = 1000\n[nonsense]\n").unwrap();
    let o = buhbot(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(78));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("sla.threshold_minutes")
            && err.contains("nonsense")
            && err.contains("bad.toml"),
        "{err}"
    );
    let o = buhbot(&["check-config", "--config", "/nonexistent/buhbot.toml"]);
    assert_eq!(o.status.code(), Some(78));
    let o = buhbot(&[
        "check-config",
        "--config",
        &example("config/buhbot.example.toml"),
    ]);
    assert!(o.status.success(), "{o:?}");
}

#[test]
fn replay_of_the_shipped_example_in_every_format() {
    let base = [
        "replay",
        "--config",
        &example("data/examples/buhbot.toml"),
        "--bot",
        "6000000",
    ];
    let export = example("data/examples/chat-export.json");
    let run = |format: &str| {
        let mut args = base.to_vec();
        args.extend([export.as_str(), "--format", format]);
        let o = buhbot(&args);
        assert!(o.status.success(), "{format}: {o:?}");
        stdout(&o)
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("one JSON object");
    assert_eq!(json["chat"]["id"], -1001987654321_i64);
    let requests = json["requests"].as_array().unwrap();
    assert!(requests.len() >= 10, "{json}");
    for key in [
        "message_id",
        "client_id",
        "received_at",
        "answered_at",
        "answered_by",
        "working_minutes",
        "breached",
        "breached_at",
        "alerts",
    ] {
        assert!(requests[0].get(key).is_some(), "missing {key}");
    }
    let summary = &json["summary"];
    for key in crate::report::FIGURES {
        assert!(summary.get(key).is_some(), "missing {key}");
    }
    assert!(
        summary["breached"].as_u64().unwrap() >= 1,
        "the example has late answers"
    );
    assert!(
        requests.iter().any(|r| r["answered_at"].is_null()),
        "the example ends with an open request"
    );
    assert!(
        requests
            .iter()
            .all(|r| r["answered_by"].is_null() || r["answered_by"] != 7000009),
        "managers never answer"
    );

    let csv = run("csv");
    assert_eq!(csv.lines().count(), requests.len() + 1);
    let text = run("text");
    assert!(
        text.contains("compliance") && text.contains("accountant"),
        "{text}"
    );
}

#[test]
fn replay_of_a_missing_or_broken_file_fails_cleanly() {
    let o = buhbot(&["replay", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(66), "EX_NOINPUT");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot open /nonexistent.json"),
        "{o:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"messages\": [ {\"id\": 1,,}]}").unwrap();
    let o = buhbot(&["replay", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(65), "EX_DATAERR");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("broken.json") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn run_exits_78_on_a_bad_configuration_and_1_on_a_newer_database() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("b.toml");
    std::fs::write(&cfg, "[daemon]\ndrain_timeout_seconds = 99\n").unwrap();
    let o = buhbot(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--source",
        "replay:/nonexistent.json",
    ]);
    assert_eq!(o.status.code(), Some(78), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("daemon.drain_timeout_seconds"));

    let db = dir.path().join("b.db");
    std::fs::write(&cfg, format!("[store]\npath = \"{}\"\n", db.display())).unwrap();
    let (store, _) = buhbot::store::Store::open_migrated(&db).unwrap();
    store
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
    drop(store);
    let o = buhbot(&["migrate", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("newer than this buhbot"),
        "{o:?}"
    );
    let o = buhbot(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--source",
        "replay:/nonexistent.json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}
