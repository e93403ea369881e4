//! The operator documents (docs/*.md) stay true between the e2e runs that
//! execute them (scripts/e2e/docs.sh): every warning and error the daemon
//! can log is explained in troubleshooting.md, every shell block is valid
//! bash, every directive is one the runner knows, and the package installs
//! every document.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            // Unit-test files log made-up messages.
            && !path.to_string_lossy().ends_with("tests.rs")
        {
            out.push(path);
        }
    }
}

/// The string literals inside the parentheses that start at `open`.
fn literals_of_call(src: &str, open: usize) -> Vec<String> {
    let bytes = src.as_bytes();
    let (mut depth, mut i, mut lits) = (0usize, open, Vec::new());
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                lits.push(unwrap_continuations(&src[start..i]));
            }
            _ => {}
        }
        i += 1;
    }
    lits
}

/// A literal as it prints: a `\` at the end of a line swallows the line
/// break and the next line's indentation.
fn unwrap_continuations(lit: &str) -> String {
    let mut out = String::new();
    let mut lines = lit.split("\\\n");
    out.push_str(lines.next().unwrap_or(""));
    for line in lines {
        out.push_str(line.trim_start());
    }
    out
}

/// The longest piece of a format string between its `{…}` placeholders:
/// what an operator can search the journal and the document for.
fn searchable(message: &str) -> String {
    let mut pieces = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        pieces.push(&rest[..open]);
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    pieces.push(rest);
    pieces
        .into_iter()
        .map(str::trim)
        .max_by_key(|p| p.len())
        .unwrap_or("")
        .to_string()
}

/// Every `warn!`/`error!` message of the daemon's code, with its file.
fn logged_messages() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(&repo("src"), &mut files);
    let mut out = Vec::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        for macro_name in ["warn!", "error!"] {
            let mut from = 0;
            while let Some(at) = src[from..].find(macro_name) {
                let at = from + at;
                from = at + macro_name.len();
                let before = src[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue; // e.g. `eprintln_warn!`, not tracing's
                }
                let Some(open) = src[from..].find(|c: char| !c.is_whitespace()) else {
                    continue;
                };
                if !src[from + open..].starts_with('(') {
                    continue;
                }
                // The message is the call's longest literal (others are
                // field values such as a list separator).
                let lits = literals_of_call(&src, from + open);
                if let Some(message) = lits.into_iter().max_by_key(String::len) {
                    let key = searchable(&message);
                    if !key.is_empty() {
                        out.push((key, file.clone()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_logged_warning_and_error_is_explained_in_troubleshooting() {
    let page = std::fs::read_to_string(repo("docs/troubleshooting.md")).unwrap();
    let messages = logged_messages();
    // The scan itself must find the daemon's messages.
    assert!(messages.len() > 40, "found only {messages:?}");
    assert!(
        messages
            .iter()
            .any(|(m, _)| m == "telegram connection lost; reconnecting")
    );
    let missing: Vec<String> = messages
        .iter()
        .filter(|(m, _)| !page.contains(m.as_str()))
        .map(|(m, f)| format!("{m:?} ({})", f.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md does not explain:\n{}",
        missing.join("\n")
    );
}

fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs
}

/// (line, text) of each ```sh block.
fn shell_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut current, line) {
            (None, "```sh") => current = Some((n + 1, String::new())),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some((_, text)), l) => {
                text.push_str(l);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unterminated ```sh block");
    blocks
}

#[test]
fn every_shell_block_is_valid_bash() {
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (line, block) in shell_blocks(&text) {
            let out = Command::new("bash")
                .args(["-n", "-c", &block])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}:{line}: {}",
                doc.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} blocks");
}

#[test]
fn every_directive_is_one_the_runner_knows() {
    let runner = std::fs::read_to_string(repo("scripts/e2e/docs.sh")).unwrap();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("<!-- doctest: ") else {
                continue;
            };
            let body = rest
                .strip_suffix(" -->")
                .unwrap_or_else(|| panic!("{}:{}: unclosed", doc.display(), n + 1));
            let (key, arg) = body.split_once(' ').unwrap_or((body, ""));
            match key {
                "expect" | "stdin" | "clock" => assert!(!arg.is_empty()),
                "exit" => assert!(arg.parse::<i32>().is_ok(), "{line}"),
                "setup" | "harness" => assert!(
                    runner.contains(&format!("fx_{arg}() {{")),
                    "{}:{}: the runner has no fixture {arg}",
                    doc.display(),
                    n + 1
                ),
                other => panic!("{}:{}: unknown directive {other}", doc.display(), n + 1),
            }
        }
    }
}

#[test]
fn the_package_installs_every_document_and_the_runner_runs_each() {
    let manifest = std::fs::read_to_string(repo("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#"["docs/*.md", "usr/share/doc/buhbot/", "644"]"#));
    let inside = std::fs::read_to_string(repo("scripts/e2e/inside.sh")).unwrap();
    let listed = inside
        .lines()
        .find(|l| l.starts_with("for doc in "))
        .expect("inside.sh runs the documents");
    for doc in documents() {
        let stem = doc.file_stem().unwrap().to_string_lossy().into_owned();
        let has_blocks = !shell_blocks(&std::fs::read_to_string(&doc).unwrap()).is_empty();
        assert_eq!(
            listed
                .split_whitespace()
                .any(|w| w.trim_end_matches(';') == stem),
            has_blocks,
            "{stem}: run by inside.sh exactly when it has commands"
        );
    }
}
