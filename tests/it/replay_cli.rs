//! `buhbot replay` as a process: exit codes and messages for what users
//! pass it (a directory, an HTML export, a zip, a cut file, a full-account
//! export and `--chat`).

use std::path::Path;
use std::process::Output;

fn replay(args: &[&str]) -> Output {
    crate::buhbot()
        .arg("replay")
        .args(["--accountant", "7"])
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn group(name: &str, kind: &str, id: i64) -> String {
    format!(
        r#"{{"name": "{name}", "type": "{kind}", "id": {id}, "messages": [
  {{"id": 1, "type": "message", "date_unixtime": "1736751600", "from": "К", "from_id": "user100", "text": "Пришлите, пожалуйста, акт сверки"}},
  {{"id": 2, "type": "message", "date_unixtime": "1736752800", "from": "Б", "from_id": "user7", "text": "Отправила"}}]}}"#
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn files_that_are_not_exports_exit_65_naming_file_position_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let whole = group("Г", "private_group", 1);
    let cases: Vec<(String, &str)> = vec![
        (
            write(dir.path(), "messages.html", b"<!DOCTYPE html>\n<html><body>"),
            "byte 0: an HTML page, expected a Telegram Desktop JSON export (result.json)",
        ),
        (
            write(dir.path(), "export.zip", b"PK\x03\x04\x14\x00\x08\x00"),
            "byte 0: a zip archive, expected a Telegram Desktop JSON export (result.json): unpack it",
        ),
        (
            write(dir.path(), "cut.json", &whole.as_bytes()[..whole.len() / 2]),
            "the file ends before the export does",
        ),
        (
            write(
                dir.path(),
                "latin1.json",
                b"{\"name\": \"Caf\xE9\", \"type\": \"private_group\", \"id\": 1, \"messages\": []}",
            ),
            "line 1, column 14 (byte 14): invalid unicode code point: expected UTF-8 text",
        ),
    ];
    for (path, want) in cases {
        let o = replay(&[&path]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(65), "{path}: {err}");
        assert!(err.starts_with(&format!("buhbot: {path}: ")), "{err}");
        assert!(err.contains(want), "{path}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn a_directory_stands_for_its_result_json() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "result.json",
        group("ООО Ромашка", "private_supergroup", 42).as_bytes(),
    );
    let o = replay(&["--format", "csv", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let csv = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[1].starts_with("-1000000000042,1,100,"), "{csv}");
    // An HTML export's directory says so.
    let html = tempfile::tempdir().unwrap();
    write(html.path(), "messages.html", b"<html>");
    let o = replay(&[html.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(65));
    assert!(stderr(&o).contains("an HTML export"), "{o:?}");
}

#[test]
fn a_full_export_reports_each_group_and_names_what_it_skips() {
    let dir = tempfile::tempdir().unwrap();
    let json = format!(
        r#"{{"about": "x", "chats": {{"about": "x", "list": [{}, {}, {}]}}}}"#,
        group("Анна", "personal_chat", 5000001),
        group("ООО Ромашка", "private_supergroup", 42),
        group("ИП Орлов", "private_group", 4001),
    );
    let path = write(dir.path(), "result.json", json.as_bytes());
    let o = replay(&["--format", "json", &path]);
    assert!(o.status.success(), "{o:?}");
    let reports: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = reports
        .iter()
        .map(|r| r["chat"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [-1000000000042, -4001]);
    assert!(reports.iter().all(|r| r["summary"]["answered"] == 1));
    assert_eq!(
        stderr(&o).trim(),
        format!("buhbot: {path}: skipped \"Анна\" (5000001): a personal chat")
    );

    let o = replay(&["--chat", "ип орлов", "--format", "json", &path]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"id\":-4001"));

    let o = replay(&["--chat", "-100", &path]);
    assert_eq!(o.status.code(), Some(65), "{o:?}");
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "buhbot: {path}: no group chat matches --chat -100; group chats in the export: \
             \"ООО Ромашка\" (-1000000000042), \"ИП Орлов\" (-4001)"
        )
    );
}
