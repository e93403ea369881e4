//! Metrics: the rendered exposition text (checked by the real `promtool`),
//! the atomic textfile write and the periodic writer task.
//!
//! Every test uses its own local recorder so that tests run in parallel.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ::metrics::{counter, gauge, histogram, with_local_recorder};
use buhbot::metrics::catalogue::{self, CATALOGUE, MetricKind};
use buhbot::metrics::{
    Metrics, MetricsError, TextfileSettings, recorder_for_tests, run_textfile_writer,
    write_atomically,
};
use metrics_exporter_prometheus::PrometheusRecorder;
use tokio_util::sync::CancellationToken;

const PROMTOOL: &str = "/usr/bin/promtool";

fn recorder() -> (PrometheusRecorder, Metrics) {
    recorder_for_tests().expect("recorder")
}

/// Records a value for every metric, as the daemon would after a while.
fn record_some(recorder: &PrometheusRecorder) {
    with_local_recorder(recorder, || {
        counter!(catalogue::EVENTS_RECEIVED_TOTAL, "kind" => "message").increment(3);
        histogram!(catalogue::INGEST_DURATION_SECONDS).record(0.0007);
        histogram!(catalogue::INGEST_DURATION_SECONDS).record(0.3);
        gauge!(catalogue::REQUESTS_OPEN).set(2.0);
        counter!(catalogue::REQUESTS_OPENED_TOTAL).increment(5);
        counter!(catalogue::ALERTS_TOTAL, "kind" => "breach", "sink" => "telegram",
            "outcome" => "sent")
        .increment(1);
        histogram!(catalogue::TIMER_LATENESS_SECONDS).record(0.02);
        gauge!(catalogue::LAST_BACKUP_SIZE_BYTES).set(1_048_576.0);
        counter!(catalogue::RETENTION_DELETED_ROWS_TOTAL, "table" => "messages").increment(10);
        counter!(catalogue::RECONCILE_REPAIRS_TOTAL, "kind" => "orphan_alert").increment(1);
        counter!(catalogue::SYNC_PUSHED_ROWS_TOTAL, "entity" => "chat_messages").increment(3);
        counter!(catalogue::SYNC_PULLED_ROWS_TOTAL, "result" => "applied").increment(2);
    });
}

#[test]
fn catalogue_names_are_unique_and_prefixed() {
    let mut names: Vec<_> = CATALOGUE.iter().map(|d| d.name).collect();
    assert!(names.iter().all(|n| n.starts_with("buhbot_")), "{names:?}");
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "duplicate metric names");
}

#[test]
fn render_has_help_type_histogram_buckets_build_info_and_zeroed_counters() {
    let (recorder, metrics) = recorder();
    record_some(&recorder);
    let text = metrics.render();

    for def in CATALOGUE {
        assert!(
            text.contains(&format!("# HELP {} ", def.name)),
            "no HELP for {}",
            def.name
        );
        let kind = match def.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram(_) => "histogram",
        };
        assert!(
            text.contains(&format!("# TYPE {} {kind}\n", def.name)),
            "{}\n{text}",
            def.name
        );
    }
    assert!(
        text.contains("buhbot_ingest_duration_seconds_bucket{le=\"0.0005\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_ingest_duration_seconds_bucket{le=\"0.001\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_ingest_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_timer_lateness_seconds_bucket{le=\"60\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("quantile="),
        "histograms rendered as summaries:\n{text}"
    );

    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("buhbot_build_info{{version=\"{version}\"}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains("buhbot_events_received_total{kind=\"message\"} 3\n"),
        "{text}"
    );
    for kind in catalogue::EVENT_KINDS.iter().filter(|k| **k != "message") {
        let line = format!("buhbot_events_received_total{{kind=\"{kind}\"}} 0\n");
        assert!(text.contains(&line), "missing {line}{text}");
    }
    assert!(
        text.contains(
            "buhbot_alerts_total{kind=\"escalation\",sink=\"email\",outcome=\"given_up\"} 0\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("buhbot_backups_total{outcome=\"failure\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("buhbot_sla_breaches_total 0\n"), "{text}");
    // The sync: every stage and pull result exists before its first use.
    for stage in catalogue::SYNC_STAGES {
        let line = format!("buhbot_sync_errors_total{{stage=\"{stage}\"}} 0\n");
        assert!(text.contains(&line), "missing {line}{text}");
    }
    assert!(catalogue::SYNC_STAGES.contains(&"pull"));
    assert!(
        text.contains("buhbot_sync_pulled_rows_total{result=\"applied\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_sync_pulled_rows_total{result=\"kept_local\"} 0\n")
            && text.contains("buhbot_sync_pulled_rows_total{result=\"refused\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_sync_last_pull_timestamp_seconds 0\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_metrics_write_errors_total 0\n"),
        "{text}"
    );
    assert!(
        !text.contains("buhbot_start_time_seconds 0\n"),
        "start time not set"
    );
}

#[test]
fn unused_histograms_render_empty_buckets_before_any_sample() {
    let (_recorder, metrics) = recorder();
    let text = metrics.render();
    assert!(
        text.contains("buhbot_ingest_duration_seconds_bucket{le=\"1\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("buhbot_timer_lateness_seconds_count 0\n"),
        "{text}"
    );
}

/// `promtool check metrics` is the linter Prometheus itself ships; CI
/// installs it (scripts/test.sh), so its absence is a failure, not a skip.
#[test]
fn promtool_accepts_the_rendered_textfile() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} missing: install the Debian package `prometheus` (scripts/test.sh does)"
    );
    let (recorder, metrics) = recorder();
    record_some(&recorder);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buhbot.prom");
    write_atomically(&path, &metrics.render()).unwrap();

    let out = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool exit {:?}\nstdout: {}\nstderr: {}\nfile:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(&path).unwrap()
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn atomic_write_creates_parent_sets_mode_and_replaces_whole_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("var/lib/buhbot/metrics");
    let path = dir.join("buhbot.prom");

    write_atomically(&path, "a_long_first_version 1\nsecond_line 2\n").unwrap();
    assert_eq!(mode(&dir), 0o755);
    assert_eq!(mode(&path), 0o644);

    write_atomically(&path, "short 3\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "short 3\n");
    assert_eq!(mode(&path), 0o644);
    assert_eq!(dir_entries(&dir), ["buhbot.prom"], "temp file left behind");
}

#[test]
fn failed_write_reports_error_and_keeps_previous_file() {
    let tmp = tempfile::tempdir().unwrap();
    let previous = tmp.path().join("buhbot.prom");
    write_atomically(&previous, "old 1\n").unwrap();

    // The new path's parent is the regular file written above.
    let err = write_atomically(&previous.join("x.prom"), "new 2\n").unwrap_err();
    assert!(
        matches!(
            err,
            MetricsError::Io {
                op: "create directory",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(&previous).unwrap(), "old 1\n");
    assert_eq!(dir_entries(tmp.path()), ["buhbot.prom"]);
}

#[test]
fn failed_rename_removes_the_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    // A non-empty directory where the file should go: rename must fail.
    let target = tmp.path().join("buhbot.prom");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "x").unwrap();

    let err = write_atomically(&target, "new 2\n").unwrap_err();
    assert!(
        matches!(
            err,
            MetricsError::Io {
                op: "rename temp file over",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        dir_entries(tmp.path()),
        ["buhbot.prom"],
        "temp file left behind"
    );
    assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "x");
}

/// Polls until the file holds `needle`; bounded so a broken writer fails
/// the test instead of hanging it.
async fn wait_for(path: &Path, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{needle:?} never written to {path:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn set_depth(recorder: &PrometheusRecorder, value: f64) {
    with_local_recorder(recorder, || gauge!(catalogue::OUTBOX_DEPTH).set(value));
}

#[tokio::test]
async fn writer_writes_at_start_and_again_each_interval() {
    let (recorder, metrics) = recorder();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m/buhbot.prom");
    let settings = TextfileSettings {
        path: path.clone(),
        interval: Duration::from_millis(50),
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_textfile_writer(metrics, settings, cancel.clone()));

    wait_for(&path, "buhbot_outbox_depth 0\n").await;
    set_depth(&recorder, 7.0);
    wait_for(&path, "buhbot_outbox_depth 7\n").await;
    set_depth(&recorder, 8.0);
    wait_for(&path, "buhbot_outbox_depth 8\n").await;

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn writer_writes_once_more_on_cancel_then_returns() {
    let (recorder, metrics) = recorder();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("buhbot.prom");
    // An hour: only the immediate first write and the final one can happen.
    let settings = TextfileSettings {
        path: path.clone(),
        interval: Duration::from_secs(3600),
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_textfile_writer(metrics, settings, cancel.clone()));

    wait_for(&path, "buhbot_outbox_depth 0\n").await;
    set_depth(&recorder, 42.0);
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("buhbot_outbox_depth 42\n"), "{text}");
}

#[tokio::test]
async fn writer_counts_failures_and_keeps_running() {
    let (_recorder, metrics) = recorder();
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    fs::write(&blocker, "").unwrap();
    let settings = TextfileSettings {
        path: blocker.join("buhbot.prom"),
        interval: Duration::from_millis(20),
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_textfile_writer(
        metrics.clone(),
        settings,
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();

    let text = metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with("buhbot_metrics_write_errors_total "))
        .unwrap();
    let errors: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(errors >= 2, "{line}");
}
