//! The catalogue: every metric the daemon exports, in one place.
//!
//! Alert rules and dashboards are written against these names, so a name
//! here is a public interface: rename only together with the rules. Names
//! carry their base unit (`_seconds`, `_bytes`) and counters end in `_total`
//! because the exporter is built without "recommended naming" and therefore
//! appends nothing itself.

use ::metrics::{KeyName, SharedString, Unit};

/// What kind of series a metric is; histograms carry their bucket bounds so
/// that the recorder can be built from the catalogue alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    Counter,
    Gauge,
    /// Upper bounds of the `le` buckets, ascending (`+Inf` is implicit).
    Histogram(&'static [f64]),
}

/// One exported metric: its name, kind, unit, label names and HELP text.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub unit: Option<Unit>,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const EVENTS_RECEIVED_TOTAL: &str = "buhbot_events_received_total";
pub const INGEST_DURATION_SECONDS: &str = "buhbot_ingest_duration_seconds";
pub const REQUESTS_OPEN: &str = "buhbot_requests_open";
pub const REQUESTS_OPENED_TOTAL: &str = "buhbot_requests_opened_total";
pub const REQUESTS_ANSWERED_TOTAL: &str = "buhbot_requests_answered_total";
pub const REQUESTS_RESOLVED_TOTAL: &str = "buhbot_requests_resolved_total";
pub const SLA_BREACHES_TOTAL: &str = "buhbot_sla_breaches_total";
pub const ALERTS_TOTAL: &str = "buhbot_alerts_total";
pub const ALERT_DELIVERIES_PENDING: &str = "buhbot_alert_deliveries_pending";
pub const DELIVERIES_FAILED_TOTAL: &str = "buhbot_deliveries_failed_total";
pub const TIMER_LATENESS_SECONDS: &str = "buhbot_timer_lateness_seconds";
pub const OUTBOX_DEPTH: &str = "buhbot_outbox_depth";
pub const OUTBOX_OLDEST_AGE_SECONDS: &str = "buhbot_outbox_oldest_age_seconds";
pub const SYNC_CONFIGURED: &str = "buhbot_sync_configured";
pub const SYNC_PUSHED_ROWS_TOTAL: &str = "buhbot_sync_pushed_rows_total";
pub const SYNC_LAST_PUSH_TIMESTAMP_SECONDS: &str = "buhbot_sync_last_push_timestamp_seconds";
pub const SYNC_PULLED_ROWS_TOTAL: &str = "buhbot_sync_pulled_rows_total";
pub const SYNC_LAST_PULL_TIMESTAMP_SECONDS: &str = "buhbot_sync_last_pull_timestamp_seconds";
pub const SYNC_ERRORS_TOTAL: &str = "buhbot_sync_errors_total";
pub const SYNC_DEAD_LETTERS: &str = "buhbot_sync_dead_letters";
pub const LAST_EVENT_TIMESTAMP_SECONDS: &str = "buhbot_last_event_timestamp_seconds";
pub const LAST_BACKUP_TIMESTAMP_SECONDS: &str = "buhbot_last_backup_timestamp_seconds";
pub const LAST_BACKUP_SIZE_BYTES: &str = "buhbot_last_backup_size_bytes";
pub const BACKUPS_TOTAL: &str = "buhbot_backups_total";
pub const LAST_POSTGRES_BACKUP_TIMESTAMP_SECONDS: &str =
    "buhbot_last_postgres_backup_timestamp_seconds";
pub const LAST_POSTGRES_BACKUP_SIZE_BYTES: &str = "buhbot_last_postgres_backup_size_bytes";
pub const POSTGRES_BACKUPS_TOTAL: &str = "buhbot_postgres_backups_total";
pub const RETENTION_DELETED_ROWS_TOTAL: &str = "buhbot_retention_deleted_rows_total";
pub const RECONCILE_REPAIRS_TOTAL: &str = "buhbot_reconcile_repairs_total";
pub const TELEGRAM_CONNECTED: &str = "buhbot_telegram_connected";
pub const TELEGRAM_LAST_UPDATE_TIMESTAMP_SECONDS: &str =
    "buhbot_telegram_last_update_timestamp_seconds";
pub const BUILD_INFO: &str = "buhbot_build_info";
pub const START_TIME_SECONDS: &str = "buhbot_start_time_seconds";
pub const METRICS_WRITE_ERRORS_TOTAL: &str = "buhbot_metrics_write_errors_total";
pub const HEARTBEAT_CONFIGURED: &str = "buhbot_heartbeat_configured";
pub const HEARTBEAT_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "buhbot_heartbeat_last_success_timestamp_seconds";
pub const HEARTBEAT_FAILURES_TOTAL: &str = "buhbot_heartbeat_failures_total";

/// `kind` values of [`EVENTS_RECEIVED_TOTAL`].
pub const EVENT_KINDS: &[&str] = &["message", "edit", "callback", "chat"];
/// `kind` values of [`ALERTS_TOTAL`].
pub const ALERT_KINDS: &[&str] = &["warning", "breach", "escalation"];
/// `stage` values of [`SYNC_ERRORS_TOTAL`].
pub const SYNC_STAGES: &[&str] = &["connect", "pull", "push"];
/// `result` values of [`SYNC_PULLED_ROWS_TOTAL`]: a row edited in Postgres
/// was applied to the store, or kept local by the conflict rule (a later
/// local edit not yet pushed).
pub const SYNC_PULL_RESULTS: &[&str] = &["applied", "kept_local", "refused"];
/// `sink` values of [`ALERTS_TOTAL`] known today; a new sink must be added
/// here so that its series exist (at zero) before its first alert.
pub const ALERT_SINKS: &[&str] = &["telegram", "email", "log"];
/// `outcome` values of [`ALERTS_TOTAL`] ("queued": handed to the Telegram
/// queue, which reports its own end in [`DELIVERIES_FAILED_TOTAL`]).
pub const ALERT_OUTCOMES: &[&str] = &["sent", "queued", "failed", "given_up"];
/// `reason` of [`DELIVERIES_FAILED_TOTAL`] registered at zero for every
/// channel; the others (USER_IS_BLOCKED, smtp_550…) appear when they occur.
pub const DELIVERY_FAILED_PREREGISTERED: &[&str] = &["deadline"];
/// `outcome` values of [`BACKUPS_TOTAL`] and [`POSTGRES_BACKUPS_TOTAL`].
pub const BACKUP_OUTCOMES: &[&str] = &["success", "failure"];

/// Ingest of one update is local work (parse, classify, SQLite write):
/// sub-millisecond normally, a second means something is badly wrong.
pub const INGEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Timers fire milliseconds late when healthy; tens of seconds late means a
/// stalled runtime or a suspended machine, which alerting must tell apart.
pub const TIMER_LATENESS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
];

const fn def(
    name: &'static str,
    kind: MetricKind,
    unit: Option<Unit>,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        unit,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

const SECONDS: Option<Unit> = Some(Unit::Seconds);
const COUNT: Option<Unit> = Some(Unit::Count);

/// Every metric the daemon exports.
#[rustfmt::skip]
pub const CATALOGUE: &[MetricDef] = &[
    def(EVENTS_RECEIVED_TOTAL, Counter, COUNT, &["kind"],
        "Telegram updates received, by kind (message, edit, callback, chat)."),
    def(INGEST_DURATION_SECONDS, Histogram(INGEST_BUCKETS), SECONDS, &[],
        "Time to ingest one Telegram update (classify, track, persist)."),
    def(REQUESTS_OPEN, Gauge, COUNT, &[],
        "Client requests currently waiting for an answer."),
    def(REQUESTS_OPENED_TOTAL, Counter, COUNT, &[],
        "Client requests opened."),
    def(REQUESTS_ANSWERED_TOTAL, Counter, COUNT, &[],
        "Client requests answered by an accountant."),
    def(REQUESTS_RESOLVED_TOTAL, Counter, COUNT, &[],
        "Client requests closed without an answer (acknowledged, withdrawn, expired)."),
    def(SLA_BREACHES_TOTAL, Counter, COUNT, &[],
        "Client requests that exceeded their SLA threshold."),
    def(ALERTS_TOTAL, Counter, COUNT, &["kind", "sink", "outcome"],
        "Alert delivery attempts by alert kind, sink and outcome (sent; queued: handed to the Telegram queue; failed: retried or, if permanent, stopped; given_up)."),
    def(ALERT_DELIVERIES_PENDING, Gauge, COUNT, &[],
        "Alert deliveries queued or being retried."),
    def(DELIVERIES_FAILED_TOTAL, Counter, COUNT, &["channel", "reason"],
        "Messages (alerts on every channel, Telegram replies and edits) that will not be delivered: a permanent failure (reason: USER_IS_BLOCKED, smtp_550, refused…) or the retry deadline passed (reason: deadline)."),
    def(TIMER_LATENESS_SECONDS, Histogram(TIMER_LATENESS_BUCKETS), SECONDS, &[],
        "How late SLA timers fire: fire time minus due time."),
    def(OUTBOX_DEPTH, Gauge, COUNT, &[],
        "Local changes not yet in Postgres (always 0 without [postgres])."),
    def(OUTBOX_OLDEST_AGE_SECONDS, Gauge, SECONDS, &[],
        "Age of the oldest change not yet in Postgres, 0 when none: what a lost host would lose upstream (the real RPO)."),
    def(SYNC_CONFIGURED, Gauge, COUNT, &[],
        "1 when a [postgres] section is configured (the sync runs), else 0."),
    def(SYNC_PUSHED_ROWS_TOTAL, Counter, COUNT, &["entity"],
        "Rows pushed to Postgres, by table."),
    def(SYNC_LAST_PUSH_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last successful push to Postgres (also when there was nothing to push)."),
    def(SYNC_PULLED_ROWS_TOTAL, Counter, COUNT, &["result"],
        "Rows edited in Postgres that the pull read, by result (applied to the store; kept_local: a later local edit not yet pushed wins; refused: a value the daemon cannot take, skipped with a warning)."),
    def(SYNC_LAST_PULL_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last successful pull from Postgres (also when nothing was applied); 0 until one since the start."),
    def(SYNC_ERRORS_TOTAL, Counter, COUNT, &["stage"],
        "Failed sync steps by stage (connect, pull, push), each retried."),
    def(SYNC_DEAD_LETTERS, Gauge, COUNT, &[],
        "Changes Postgres refused permanently, kept aside (buhbot sync dead-letters)."),
    def(LAST_EVENT_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last Telegram update ingested."),
    def(LAST_BACKUP_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last successful database backup."),
    def(LAST_BACKUP_SIZE_BYTES, Gauge, Some(Unit::Bytes), &[],
        "Size of the last successful database backup."),
    def(BACKUPS_TOTAL, Counter, COUNT, &["outcome"],
        "Database backups attempted, by outcome (success, failure)."),
    def(LAST_POSTGRES_BACKUP_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last successful pg_dump of the [postgres] database (0 until one since the start)."),
    def(LAST_POSTGRES_BACKUP_SIZE_BYTES, Gauge, Some(Unit::Bytes), &[],
        "Size of the last successful pg_dump of the [postgres] database."),
    def(POSTGRES_BACKUPS_TOTAL, Counter, COUNT, &["outcome"],
        "pg_dumps of the [postgres] database attempted, by outcome (success, failure); none without [postgres]."),
    def(RETENTION_DELETED_ROWS_TOTAL, Counter, COUNT, &["table"],
        "Rows deleted by the retention job, by table."),
    def(RECONCILE_REPAIRS_TOTAL, Counter, COUNT, &["kind"],
        "Inconsistencies repaired by the reconciler, by kind."),
    def(TELEGRAM_CONNECTED, Gauge, None, &[],
        "1 while the Telegram transport is connected, else 0."),
    def(TELEGRAM_LAST_UPDATE_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last update received from Telegram."),
    def(BUILD_INFO, Gauge, None, &["version"],
        "Always 1; the version label says which buhbot build is running."),
    def(START_TIME_SECONDS, Gauge, SECONDS, &[],
        "Unix time at which the daemon started."),
    def(METRICS_WRITE_ERRORS_TOTAL, Counter, COUNT, &[],
        "Failed writes of the node_exporter metrics textfile."),
    def(HEARTBEAT_CONFIGURED, Gauge, COUNT, &[],
        "1 when a [heartbeat] URL is configured (the external heartbeat runs), else 0."),
    def(HEARTBEAT_LAST_SUCCESS_TIMESTAMP_SECONDS, Gauge, SECONDS, &[],
        "Unix time of the last heartbeat call the endpoint accepted (the ok URL while healthy, the failure URL while not); 0 until one since the start."),
    def(HEARTBEAT_FAILURES_TOTAL, Counter, COUNT, &[],
        "Heartbeat calls that failed (unreachable, timed out, or not a 2xx answer), each retried at the next interval."),
];

/// Registers HELP text and units with the current recorder.
///
/// The Prometheus exporter only prints HELP for metrics that also have a
/// series, and it publishes descriptions lazily (on upkeep or render).
pub fn describe_all() {
    ::metrics::with_recorder(|recorder| {
        for def in CATALOGUE {
            let key = KeyName::from_const_str(def.name);
            let help = SharedString::const_str(def.help);
            match def.kind {
                Counter => recorder.describe_counter(key, def.unit, help),
                Gauge => recorder.describe_gauge(key, def.unit, help),
                Histogram(_) => recorder.describe_histogram(key, def.unit, help),
            }
        }
    });
}

/// Creates the series that alert rules expect to exist before anything
/// happens: unlabelled metrics, labelled counters over their fixed label
/// sets, `build_info` and the start time.
///
/// Counters with open-ended labels (`table`, `kind` of repairs, `entity`
/// of sync pushes) appear on
/// first use; rules on them must treat absence as zero.
pub fn init_series() {
    for def in CATALOGUE.iter().filter(|d| d.labels.is_empty()) {
        match def.kind {
            Counter => ::metrics::counter!(def.name).increment(0),
            // Registering is enough: the gauge renders as 0 until set.
            Gauge => {
                let _ = ::metrics::gauge!(def.name);
            }
            // A registered histogram renders its (empty) buckets at once.
            Histogram(_) => {
                let _ = ::metrics::histogram!(def.name);
            }
        }
    }
    for kind in EVENT_KINDS {
        ::metrics::counter!(EVENTS_RECEIVED_TOTAL, "kind" => *kind).increment(0);
    }
    for kind in ALERT_KINDS {
        for sink in ALERT_SINKS {
            for outcome in ALERT_OUTCOMES {
                ::metrics::counter!(ALERTS_TOTAL,
                    "kind" => *kind, "sink" => *sink, "outcome" => *outcome)
                .increment(0);
            }
        }
    }
    for channel in ALERT_SINKS {
        for reason in DELIVERY_FAILED_PREREGISTERED {
            ::metrics::counter!(DELIVERIES_FAILED_TOTAL,
                "channel" => *channel, "reason" => *reason)
            .increment(0);
        }
    }
    for outcome in BACKUP_OUTCOMES {
        ::metrics::counter!(BACKUPS_TOTAL, "outcome" => *outcome).increment(0);
        ::metrics::counter!(POSTGRES_BACKUPS_TOTAL, "outcome" => *outcome).increment(0);
    }
    for stage in SYNC_STAGES {
        ::metrics::counter!(SYNC_ERRORS_TOTAL, "stage" => *stage).increment(0);
    }
    for result in SYNC_PULL_RESULTS {
        ::metrics::counter!(SYNC_PULLED_ROWS_TOTAL, "result" => *result).increment(0);
    }
    ::metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    ::metrics::gauge!(START_TIME_SECONDS).set(started);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::BTreeSet::new();
        for def in CATALOGUE {
            assert!(def.name.starts_with("buhbot_"), "{}", def.name);
            assert!(seen.insert(def.name), "duplicate {}", def.name);
        }
    }

    #[test]
    fn counters_end_in_total_and_only_counters_do() {
        for def in CATALOGUE {
            let is_counter = matches!(def.kind, Counter);
            assert_eq!(def.name.ends_with("_total"), is_counter, "{}", def.name);
        }
    }

    #[test]
    fn buckets_are_strictly_ascending() {
        for def in CATALOGUE {
            if let Histogram(buckets) = def.kind {
                assert!(!buckets.is_empty(), "{}", def.name);
                assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
            }
        }
    }
}
