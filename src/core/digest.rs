//! The weekly digest's content over the store: last week's SLA report
//! ([`sla_report`]), the requests open now, the survey campaigns of the
//! week, and the text
//! ([`crate::domain::digest`]). Sending it is the daemon's digest job;
//! `buhbot report digest` prints it.

use chrono::{DateTime, Days, NaiveDate, Utc};
use rusqlite::Connection;

use super::sla_report::{self, Names, Scope, day_start, figures};
use crate::config::Config;
use crate::domain::digest::{Digest, OpenLine, SurveyLine, WaitLine, week_before};
use crate::domain::render::chat_label;
use crate::domain::survey::Results;
use crate::store::{StoreError, requests, surveys};

/// A digest ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The Monday of the week it covers: its identity (one digest per
    /// week, however often the job runs).
    pub monday: NaiveDate,
    pub html: String,
    pub requests: usize,
}

fn instant(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

/// The survey campaigns that ran in `[from, to)` (started before its end,
/// not closed before its start), oldest first, with their results so far:
/// a campaign spans a week or two, so a manager sees it grow and then
/// its final figures once.
fn survey_lines(
    conn: &Connection,
    tz: chrono_tz::Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<SurveyLine>, StoreError> {
    let mut lines = Vec::new();
    for c in surveys::campaigns(conn)? {
        if c.started_at >= to.timestamp() || c.closed_at.is_some_and(|t| t < from.timestamp()) {
            continue;
        }
        let mut total = Results::default();
        for r in surveys::results_of(conn, c.id)? {
            total.merge(&r.results);
        }
        let started = instant(c.started_at).with_timezone(&tz).format("%d.%m.%Y");
        let state = if c.closed_at.is_some() {
            "завершён"
        } else {
            "идёт"
        };
        lines.push(SurveyLine {
            title: format!("опрос №{} от {started} ({state})", c.id),
            votes: total.total() as usize,
            average: total.average(),
            response_percent: total.response_rate().map(|r| r * 100.0),
        });
    }
    Ok(lines)
}

/// The digest for the last full week before `now` (in the `[calendar]`
/// timezone), its requests judged as of `now`.
pub fn compose(
    conn: &Connection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Composed, StoreError> {
    let tz = config.calendar.timezone;
    let (monday, sunday) = week_before(tz, now);
    let names = Names::load(conn, config)?;
    let top = config.digest.top as usize;
    let scope = Scope {
        from: day_start(tz, monday),
        to: day_start(tz, sunday.checked_add_days(Days::new(1)).unwrap_or(sunday)),
        chat: None,
        accountant: None,
        at: now,
    };
    let report = sla_report::build(conn, &names, &scope, top)?;
    let chat_name = |id: i64| chat_label(names.chat(id).as_deref(), id);
    let worst: Vec<WaitLine> = report
        .worst
        .iter()
        .map(|w| WaitLine {
            chat: chat_label(w.chat.as_deref(), w.chat_id),
            received_at: instant(w.received_at),
            working_minutes: w.working_minutes,
            answered_by: w.answered_by.clone(),
        })
        .collect();
    // Oldest first (the store's order), whatever week they came in.
    let open = requests::all_open(conn)?;
    let breached = |r: &requests::RequestRow| figures(r, now.timestamp()).0.breached;
    let oldest: Vec<OpenLine> = open
        .iter()
        .take(top)
        .map(|r| OpenLine {
            chat: chat_name(r.chat_id),
            received_at: instant(r.received_at),
            breached: breached(r),
        })
        .collect();
    let digest = Digest {
        tz,
        monday,
        sunday,
        total: &report.total,
        chats: &report.chats,
        accountants: &report.accountants,
        worst: &worst,
        open_now: open.len(),
        open_breached: open.iter().filter(|r| breached(r)).count(),
        oldest_open: &oldest,
        surveys: &survey_lines(conn, tz, scope.from, scope.to)?,
        top,
    };
    Ok(Composed {
        monday,
        html: digest.html(),
        requests: report.total.summary.requests,
    })
}
