//! The Prometheus alert rules and the Grafana dashboard under `packaging/`:
//! the real `promtool` lints the rules and runs their unit tests, and every
//! metric the rules and the dashboard name must be one the daemon exports
//! (or an allow-listed node_exporter metric). The system buhbot replaces
//! had alert rules on metrics that did not exist, which never fired.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use ::metrics::{counter, with_local_recorder};
use buhbot::metrics::catalogue::{self, CATALOGUE, MetricKind};
use buhbot::metrics::recorder_for_tests;
use regex::Regex;
use serde_yaml_ng::Value as Yaml;

const PROMTOOL: &str = "/usr/bin/promtool";
const RULES: &str = "packaging/prometheus/buhbot-rules.yml";
const RULE_TESTS: &str = "packaging/prometheus/buhbot-rules.test.yml";
const DASHBOARD: &str = "packaging/grafana/buhbot-dashboard.json";

/// node_exporter metrics the rules and the dashboard may use. Add a name
/// here only after checking that node_exporter (the Debian
/// `prometheus-node-exporter` package) exports it.
const NODE_EXPORTER_METRICS: &[&str] = &[
    "up",
    "node_textfile_mtime_seconds",
    "node_textfile_scrape_error",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_cpu_seconds_total",
    "node_load1",
];

/// Labels that the scrape adds to every buhbot series (the textfile has
/// none of them).
const TARGET_LABELS: &[&str] = &["instance", "job"];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn promtool(args: &[&str], dir: &Path) {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} missing: install the Debian package `prometheus` (scripts/test.sh does)"
    );
    let out = Command::new(PROMTOOL)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_check_rules_accepts_the_rules() {
    promtool(&["check", "rules", RULES], &repo(""));
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    let dir = repo("packaging/prometheus");
    promtool(&["test", "rules", "buhbot-rules.test.yml"], &dir);
}

// --- what the daemon exports ------------------------------------------------

/// Series names and, per name, label name -> values, of a rendered textfile.
#[derive(Debug, Default)]
struct Exported {
    labels: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Exported {
    fn parse(text: &str) -> Self {
        static SERIES: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ").unwrap());
        static LABEL: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).unwrap()
        });
        let mut exported = Self::default();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let caps = SERIES
                .captures(line)
                .unwrap_or_else(|| panic!("unparsable line {line:?}"));
            let labels = exported.labels.entry(caps[1].to_owned()).or_default();
            for l in LABEL.captures_iter(caps.get(2).map_or("", |m| m.as_str())) {
                labels
                    .entry(l[1].to_owned())
                    .or_default()
                    .insert(l[2].to_owned());
            }
        }
        exported
    }

    fn has(&self, name: &str) -> bool {
        self.labels.contains_key(name)
    }
}

/// What the daemon's textfile holds once every metric has a series: the
/// recorder's own initialisation plus one sample of each metric whose
/// series only appear on first use (open-ended labels).
static EXPORTED: LazyLock<Exported> = LazyLock::new(|| {
    let (recorder, metrics) = recorder_for_tests().expect("recorder");
    with_local_recorder(&recorder, || {
        counter!(catalogue::RETENTION_DELETED_ROWS_TOTAL, "table" => "messages").increment(1);
        counter!(catalogue::RECONCILE_REPAIRS_TOTAL, "kind" => "orphan_alert").increment(1);
        counter!(catalogue::SYNC_PUSHED_ROWS_TOTAL, "entity" => "client_requests").increment(1);
    });
    let exported = Exported::parse(&metrics.render());
    // The render must cover the whole catalogue, or a metric missing here
    // would be reported as "unknown" with a misleading message.
    for def in CATALOGUE {
        let series = match def.kind {
            MetricKind::Histogram(_) => format!("{}_bucket", def.name),
            _ => def.name.to_owned(),
        };
        assert!(exported.has(&series), "{series} not rendered");
    }
    exported
});

// --- metric names in PromQL ---------------------------------------------------

/// The metric names an expression selects, with the label matchers written
/// on each (`name{l="v"}`). Not a PromQL parser: enough for the expressions
/// of alert rules and dashboards (strings, label matchers, ranges, grouping
/// clauses and Grafana variables removed; identifiers not followed by `(`
/// and not keywords are metric names).
fn selectors(expr: &str) -> Vec<(String, String)> {
    static GRAFANA_VAR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$\{[^}]*\}|\$[a-zA-Z_]\w*|\[\[\w+\]\]").unwrap());
    static STRING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"#).unwrap());
    static MATCHERS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\}"#).unwrap());
    static RANGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[[^\]]*\]").unwrap());
    static GROUPING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)").unwrap()
    });
    static TOKEN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[a-zA-Z0-9_:.]+(\{[^}]*\})?").unwrap());
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    ];

    // A number: harmless in a range, a matcher's string or as a value.
    let expr = GRAFANA_VAR.replace_all(expr, "1");
    // Matchers are kept aside (with their strings) under a placeholder, so
    // that the strings can go before tokenising.
    let mut matchers = Vec::new();
    let expr = MATCHERS.replace_all(&expr, |c: &regex::Captures| {
        matchers.push(c[0].to_owned());
        format!("{{{}}}", matchers.len() - 1)
    });
    let expr = STRING.replace_all(&expr, "");
    let expr = RANGE.replace_all(&expr, "");
    let expr = GROUPING.replace_all(&expr, "");

    let mut found = Vec::new();
    for m in TOKEN.captures_iter(&expr) {
        let whole = m.get(0).unwrap();
        let token = m
            .get(1)
            .map_or(whole.as_str(), |b| &whole.as_str()[..whole.len() - b.len()]);
        let first = token.chars().next().unwrap();
        if first.is_ascii_digit()
            || first == '.'
            || KEYWORDS.contains(&token.to_lowercase().as_str())
        {
            continue;
        }
        let after = expr[whole.end()..].trim_start();
        if m.get(1).is_none() && after.starts_with('(') {
            continue; // a function or an aggregation
        }
        let matcher = m.get(1).map_or(String::new(), |b| {
            let i: usize = b.as_str()[1..b.len() - 1].parse().unwrap();
            matchers[i].clone()
        });
        found.push((token.to_owned(), matcher));
    }
    found
}

/// Problems with the metrics an expression names; empty when all is well.
fn check_expr(expr: &str, exported: &Exported) -> Vec<String> {
    static MATCHER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)""#).unwrap()
    });
    static ALTERNATIVES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_]+(\|[a-zA-Z0-9_]+)*$").unwrap());
    let mut problems = Vec::new();
    let selected = selectors(expr);
    if selected.is_empty() {
        problems.push(format!("no metric found in {expr:?}"));
    }
    for (name, matchers) in selected {
        if !name.starts_with("buhbot_") {
            if !NODE_EXPORTER_METRICS.contains(&name.as_str()) {
                problems.push(format!(
                    "{name} is neither exported by buhbot nor an allow-listed node_exporter metric"
                ));
            }
            continue;
        }
        let Some(labels) = exported.labels.get(&name) else {
            problems.push(format!("{name} is not exported by buhbot"));
            continue;
        };
        for m in MATCHER.captures_iter(&matchers) {
            let (label, op, value) = (&m[1], &m[2], &m[3]);
            if TARGET_LABELS.contains(&label) || label == "__name__" {
                continue;
            }
            let Some(values) = labels.get(label) else {
                problems.push(format!("{name} has no label {label}"));
                continue;
            };
            // Exact values and plain alternations must name label values
            // that exist (the catalogue zero-initialises fixed label sets).
            if matches!(op, "=" | "=~") && ALTERNATIVES.is_match(value) {
                for v in value.split('|') {
                    if !values.contains(v) {
                        problems.push(format!("{name} has no series with {label}=\"{v}\""));
                    }
                }
            }
        }
    }
    problems
}

fn rules() -> Yaml {
    serde_yaml_ng::from_str(&read(RULES)).expect("rules YAML")
}

/// Every rule of every group.
fn each_rule(rules: &Yaml) -> Vec<&Yaml> {
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter())
        .collect()
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing or not a string in {v:?}"))
}

#[test]
fn selectors_find_names_matchers_and_skip_functions_labels_and_numbers() {
    let found = selectors(
        r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="1}",instance=~"$instance"}[$__rate_interval])))
           / on (instance) group_left b offset 5m > 36 * 3600 and time() - c{y!~"z"} unless absent(d) or vector(1e3)"#,
    );
    let names: Vec<_> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a_bucket", "b", "c", "d"]);
    assert_eq!(found[0].1, r#"{x="1}",instance=~"1"}"#);
    assert_eq!(found[2].1, r#"{y!~"z"}"#);
}

/// The guard itself: a misspelt or invented metric, an unknown label or
/// label value, and an unlisted node_exporter metric all fail.
#[test]
fn name_check_rejects_metrics_labels_and_values_that_do_not_exist() {
    let exported = &*EXPORTED;
    for bad in [
        "increase(buhbot_sla_breach_total[1h]) > 0",
        "buhbot_telegram_up == 0",
        r#"increase(buhbot_alerts_total{status="failed"}[15m]) > 0"#,
        r#"increase(buhbot_alerts_total{outcome=~"failed|dropped"}[15m]) > 0"#,
        "node_disk_io_time_seconds_total > 0",
        "rate(buhbot_ingest_duration_seconds_bucke[5m])",
        // Pulled rows are counted by result, not by table nor as "all".
        r#"rate(buhbot_sync_pulled_rows_total{result="all"}[5m])"#,
        r#"rate(buhbot_sync_pulled_rows_total{entity="chats"}[5m])"#,
    ] {
        assert!(!check_expr(bad, exported).is_empty(), "accepted {bad:?}");
    }
    for good in [
        r#"sum without (kind, outcome) (increase(buhbot_alerts_total{outcome=~"failed|given_up"}[15m])) > 0"#,
        "histogram_quantile(0.99, rate(buhbot_timer_lateness_seconds_bucket[5m]))",
        r#"time() - node_textfile_mtime_seconds{file=~".*buhbot.prom"} > 120"#,
        r#"increase(buhbot_sync_errors_total{stage="pull"}[5m]) > 0"#,
        r#"rate(buhbot_sync_pulled_rows_total{result=~"applied|kept_local"}[5m])"#,
        "time() - buhbot_sync_last_pull_timestamp_seconds",
    ] {
        assert_eq!(check_expr(good, exported), Vec::<String>::new(), "{good}");
    }
}

#[test]
fn rules_name_only_exported_metrics() {
    let rules = rules();
    let exported = &*EXPORTED;
    let mut problems = Vec::new();
    for rule in each_rule(&rules) {
        let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap();
        for p in check_expr(str_of(rule, "expr"), exported) {
            problems.push(format!("{name}: {p}"));
        }
    }
    assert!(problems.is_empty(), "{RULES}:\n{}", problems.join("\n"));
}

#[test]
fn every_alert_has_for_severity_and_annotations_with_its_value() {
    let rules = rules();
    let mut names = BTreeSet::new();
    for rule in each_rule(&rules) {
        let name = str_of(rule, "alert");
        assert!(names.insert(name), "duplicate alert {name}");
        assert!(name.starts_with("Buhbot"), "{name}");
        str_of(rule, "for");
        let severity = str_of(&rule["labels"], "severity");
        assert!(
            ["info", "warning", "critical"].contains(&severity),
            "{name}: severity {severity}"
        );
        let summary = str_of(&rule["annotations"], "summary");
        let description = str_of(&rule["annotations"], "description");
        assert!(
            format!("{summary}{description}").contains("$value"),
            "{name}: neither summary nor description shows $value"
        );
    }
}

/// Each alert has a unit test where it fires and one where it does not.
#[test]
fn every_alert_has_firing_and_quiet_unit_tests() {
    let rules = rules();
    let tests: Yaml = serde_yaml_ng::from_str(&read(RULE_TESTS)).expect("tests YAML");
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for group in tests["tests"].as_sequence().expect("tests") {
        for case in group["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = str_of(case, "alertname").to_owned();
            match case["exp_alerts"].as_sequence() {
                Some(alerts) if !alerts.is_empty() => firing.insert(name),
                _ => quiet.insert(name),
            };
        }
    }
    let alerts: BTreeSet<String> = each_rule(&rules)
        .iter()
        .map(|r| str_of(r, "alert").to_owned())
        .collect();
    let missing: Vec<_> = alerts
        .iter()
        .filter(|a| !firing.contains(*a) || !quiet.contains(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "alerts without a firing and a quiet test: {missing:?}"
    );
    let unknown: Vec<_> = firing
        .union(&quiet)
        .filter(|a| !alerts.contains(*a))
        .collect();
    assert!(unknown.is_empty(), "tests of unknown alerts: {unknown:?}");
}

// --- the Grafana dashboard ------------------------------------------------------

/// Every PromQL expression of the dashboard: panel targets and the metric
/// of `label_values(metric, label)` template variables.
fn dashboard_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    static LABEL_VALUES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^label_values\((.+),\s*\w+\)$").unwrap());
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    ("definition", serde_json::Value::String(d)) => {
                        if let Some(c) = LABEL_VALUES.captures(d) {
                            out.push(c[1].to_owned());
                        }
                    }
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| dashboard_exprs(i, out)),
        _ => {}
    }
}

#[test]
fn dashboard_is_valid_and_names_only_exported_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter()
            .any(|v| v["name"] == "DS_PROMETHEUS" && v["type"] == "datasource")
    );

    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() > 20, "{exprs:?}");
    let exported = &*EXPORTED;
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for expr in &exprs {
        used.extend(selectors(expr).into_iter().map(|(n, _)| n));
        problems.extend(
            check_expr(expr, exported)
                .into_iter()
                .map(|p| format!("{expr}: {p}")),
        );
    }
    assert!(problems.is_empty(), "{DASHBOARD}:\n{}", problems.join("\n"));

    // Every catalogue metric is on the dashboard somewhere.
    let unshown: Vec<_> = CATALOGUE
        .iter()
        .filter(|d| !used.contains(d.name) && !used.contains(&format!("{}_bucket", d.name)))
        .map(|d| d.name)
        .collect();
    assert!(
        unshown.is_empty(),
        "metrics not on the dashboard: {unshown:?}"
    );

    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id"
        );
    }
}
