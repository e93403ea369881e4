//! Cron expressions of the scheduled jobs: 6 fields, seconds first (the
//! syntax tokio-cron-scheduler uses), evaluated in a calendar's time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

#[derive(Debug, thiserror::Error)]
#[error("{expr:?} is not a 6-field cron expression (sec min hour day month weekday): {message}")]
pub struct CronParseError {
    pub expr: String,
    pub message: String,
}

pub fn parse_cron(expr: &str) -> Result<Cron, CronParseError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expr)
        .map_err(|e| CronParseError {
            expr: expr.to_string(),
            message: e.to_string(),
        })
}

/// The first occurrence strictly after `after`, in zone `tz` (so 03:00
/// stays 03:00 local across daylight-saving changes).
pub fn next_after(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a run was due in `(last_run, now]`: a run missed while the
/// daemon was down happens after start.
pub fn missed(cron: &Cron, tz: Tz, last_run: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    next_after(cron, tz, last_run).is_some_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    #[test]
    fn daily_backup_at_three_local_follows_dst() {
        let cron = parse_cron("0 0 3 * * *").unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        // Berlin springs forward on 2025-03-30: 03:00 local is 01:00Z after.
        assert_eq!(
            next_after(&cron, berlin, t("2025-03-29T12:00:00Z")),
            Some(t("2025-03-30T01:00:00Z"))
        );
        assert_eq!(
            next_after(&cron, berlin, t("2025-03-28T12:00:00Z")),
            Some(t("2025-03-29T02:00:00Z"))
        );
        let moscow = chrono_tz::Europe::Moscow;
        assert_eq!(
            next_after(&cron, moscow, t("2025-01-10T00:30:00Z")),
            Some(t("2025-01-11T00:00:00Z"))
        );
    }

    #[test]
    fn missed_runs_are_detected() {
        let cron = parse_cron("0 0 3 * * SUN").unwrap();
        let tz = chrono_tz::Europe::Moscow;
        // Last run Sunday 2025-01-05 03:00; down until Monday 13th.
        assert!(missed(
            &cron,
            tz,
            t("2025-01-05T00:00:00Z"),
            t("2025-01-13T08:00:00Z")
        ));
        assert!(!missed(
            &cron,
            tz,
            t("2025-01-05T00:00:00Z"),
            t("2025-01-11T08:00:00Z")
        ));
    }

    #[test]
    fn bad_expressions_are_rejected_with_the_expression() {
        let e = parse_cron("0 3 * * *").unwrap_err();
        assert!(e.to_string().contains("\"0 3 * * *\""), "{e}");
        assert!(parse_cron("0 */5 * * * *").is_ok());
    }
}
