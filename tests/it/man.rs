//! The manual pages: the checked-in buhbot(8) is what the code renders, both
//! pages name every command, option and configuration key, the example
//! configuration matches the key lists, and man(1) renders the pages cleanly.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use buhbot::cli::man::{render_buhbot_8, render_buhbot_toml_5};
use clap::CommandFactory;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn page_8() -> String {
    String::from_utf8(render_buhbot_8()).expect("buhbot(8) is UTF-8")
}

fn page_5() -> String {
    String::from_utf8(render_buhbot_toml_5()).expect("buhbot.toml(5) is UTF-8")
}

/// Options in roff: `--config` is written `\-\-config`.
fn roff(s: &str) -> String {
    s.replace('-', "\\-")
}

#[test]
fn checked_in_buhbot_8_is_the_rendered_one() {
    let path = repo("man/buhbot.8");
    let checked_in = std::fs::read(&path).unwrap_or_default();
    let rendered = render_buhbot_8();
    if checked_in != rendered {
        let line = String::from_utf8_lossy(&checked_in)
            .lines()
            .zip(String::from_utf8_lossy(&rendered).lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "at the end".to_string(),
                |i| format!("at line {}", i + 1),
            );
        panic!(
            "{} is out of date (first difference {line}): the command line or \
             man/buhbot.8.tail changed. Run `cargo run -- man --out man` to regenerate \
             it and commit the result.",
            path.display()
        );
    }
}

#[test]
fn man_command_writes_both_pages() {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::buhbot()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("buhbot.8")).unwrap(),
        render_buhbot_8()
    );
    assert_eq!(
        std::fs::read(dir.path().join("buhbot.toml.5")).unwrap(),
        std::fs::read(repo("man/buhbot.toml.5")).unwrap()
    );

    let o = crate::buhbot()
        .args(["man", "--section", "5"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, render_buhbot_toml_5());

    // Hidden: packaging needs it, operators do not.
    let help = crate::buhbot().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        !help.lines().any(|l| l.trim_start().starts_with("man ")),
        "{help}"
    );
}

/// Every visible command and each of its options, recursively.
#[test]
fn buhbot_8_documents_every_command_and_option() {
    fn walk(cmd: &clap::Command, page: &str) {
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let name = sub.get_bin_name().unwrap();
            assert!(
                page.contains(&format!(".SS \"{}\"", roff(name))),
                "buhbot(8) has no section for `{name}`"
            );
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = arg.get_long() {
                    assert!(
                        page.contains(&roff(&format!("--{long}"))),
                        "buhbot(8) does not document `{name} --{long}`"
                    );
                }
            }
            walk(sub, page);
        }
    }
    let mut cmd = buhbot::cli::Cli::command();
    cmd.build();
    let page = page_8();
    walk(&cmd, &page);
    assert!(page.starts_with(".ie") && page.contains(".TH BUHBOT 8 "));
    assert!(!page.contains("buhbot\\-check\\-config(8)"), "no such page");
    assert!(!page.contains(".SS \"buhbot man\""), "man is hidden");
}

#[test]
fn buhbot_8_has_the_operator_sections() {
    let page = page_8();
    for needle in [
        ".SH SUBCOMMANDS",
        ".SH COMMANDS",
        ".SH SIGNALS",
        "SIGTERM",
        "SIGHUP",
        "drain_timeout_seconds",
        ".SH EXIT STATUS",
        "RestartPreventExitStatus=78",
        ".SH FILES",
        "/etc/buhbot/buhbot.toml",
        "/etc/buhbot/credentials/",
        "telegram_bot_token",
        "telegram_api_hash",
        "postgres_password",
        "smtp_password",
        "/var/lib/buhbot/buhbot.db",
        "/var/lib/buhbot/buhbot.db.lock",
        "/var/lib/buhbot/metrics/buhbot.prom",
        "/var/backups/buhbot/",
        "/usr/share/buhbot/calendars/ru/",
        ".SH ENVIRONMENT",
        "BUHBOT_LOG",
        "CREDENTIALS_DIRECTORY",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "JOURNAL_STREAM",
        ".SH EXAMPLES",
        ".SH TROUBLESHOOTING",
        "database is newer than this buhbot",
        "journalctl \\-u buhbot \\-p warning",
        ".SH SEE ALSO",
        "\\fBbuhbot.toml\\fR(5)",
        "\\fBsystemctl\\fR(1)",
        "\\fBjournalctl\\fR(1)",
    ] {
        assert!(page.contains(needle), "buhbot(8) lacks {needle:?}");
    }
}

/// The text of each `.SH` section of a page, by heading.
fn sections(page: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix(".SH ") {
            out.push((heading.trim_matches('"').to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// Every key of the code's key lists is documented in its section of
/// buhbot.toml(5): bold, by its own name or its full dotted name.
#[test]
fn buhbot_toml_5_documents_every_key() {
    let page = page_5();
    let sections = sections(&page);
    let mut missing = Vec::new();
    for key in buhbot::config::all_keys() {
        let (section, _) = key.split_once('.').unwrap();
        let text = sections
            .iter()
            .find(|(h, _)| *h == format!("[{section}]") || *h == format!("[[{section}]]"))
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("buhbot.toml(5) has no section [{section}]"));
        let last = key.rsplit('.').next().unwrap();
        if !text.contains(&format!("\\fB{last}\\fR")) && !text.contains(&format!("\\fB{key}\\fR")) {
            missing.push(key);
        }
    }
    assert!(missing.is_empty(), "buhbot.toml(5) lacks {missing:?}");
    for needle in [
        ".TH BUHBOT.TOML 5",
        ".SH ENVIRONMENT",
        "BUHBOT_",
        ".SH SECRETS",
        "telegram_bot_token",
        "telegram_api_hash",
        "postgres_password",
        "smtp_password",
        ".SH EXAMPLE",
    ] {
        assert!(page.contains(needle), "buhbot.toml(5) lacks {needle:?}");
    }
}

/// Dotted keys of a TOML value, tables and arrays of tables included
/// (elements without an index, as in `all_keys`).
fn toml_keys(prefix: &str, value: &toml::Value, out: &mut BTreeSet<String>) {
    let tables: Vec<&toml::Table> = match value {
        toml::Value::Table(t) => vec![t],
        toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
        _ => return,
    };
    for table in tables {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(path.clone());
            toml_keys(&path, v, out);
        }
    }
}

/// The keys of the example file: the set ones (parsed with `toml`) and the
/// commented-out ones (`# key = ...` under the last `[table]` or
/// `# [table]` header).
fn example_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo("config/buhbot.example.toml")).unwrap();
    let parsed: toml::Value = toml::from_str(&text).expect("the example parses");
    let mut keys = BTreeSet::new();
    toml_keys("", &parsed, &mut keys);

    let header = regex::Regex::new(r"^\[\[?([a-z_.]+)\]\]?\s*(#.*)?$").unwrap();
    let key = regex::Regex::new(r"^([a-z_]+)\s*=").unwrap();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim();
        let code = line.strip_prefix('#').map_or(line, str::trim);
        if let Some(c) = header.captures(code) {
            table = c[1].to_string();
            keys.insert(table.clone());
        } else if let Some(c) = key.captures(code) {
            keys.insert(if table.is_empty() {
                c[1].to_string()
            } else {
                format!("{table}.{}", &c[1])
            });
        }
    }
    keys
}

#[test]
fn example_config_has_only_known_keys() {
    let known: BTreeSet<String> = buhbot::config::all_keys().into_iter().collect();
    let sections = buhbot::config::sections();
    let unknown: Vec<_> = example_keys()
        .into_iter()
        .filter(|k| !known.contains(k) && !sections.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "config/buhbot.example.toml names keys the configuration rejects: {unknown:?}"
    );
}

#[test]
fn example_config_names_every_known_key() {
    let example = example_keys();
    let missing: Vec<_> = buhbot::config::all_keys()
        .into_iter()
        .chain(buhbot::config::sections().iter().map(|s| s.to_string()))
        .filter(|k| !example.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "config/buhbot.example.toml does not show {missing:?} (commented out is enough)"
    );
}

/// `man --warnings` reports roff problems (unknown macros, bad escapes,
/// overlong lines it cannot break) on stderr. CI installs man-db, so a
/// missing `man` fails rather than skips this test.
#[test]
fn man_renders_both_pages_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    for (name, page) in [
        ("buhbot.8", render_buhbot_8()),
        ("buhbot.toml.5", render_buhbot_toml_5()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, page).unwrap();
        let o = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
            .arg(&path)
            .env("LANG", "C.UTF-8")
            .env("MANWIDTH", "80")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run man ({e}): apt-get install -y man-db groff-base")
            });
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "man {name} failed: {stderr}");
        assert!(stderr.is_empty(), "man --warnings on {name}:\n{stderr}");
        assert!(!o.stdout.is_empty(), "{name} rendered nothing");
    }
}
