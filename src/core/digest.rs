//! The weekly digest's content over the store: last week's SLA report
//! ([`sla_report`]), the requests open now, and the text
//! ([`crate::domain::digest`]). Sending it is the daemon's digest job;
//! `buhbot report digest` prints it.

use chrono::{DateTime, Days, NaiveDate, Utc};
use rusqlite::Connection;

use super::sla_report::{self, Names, Scope, day_start, figures};
use crate::config::Config;
use crate::domain::digest::{Digest, OpenLine, SurveyLine, WaitLine, week_before};
use crate::store::{StoreError, requests};

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

/// The digest for the last full week before `now` (in the `[calendar]`
/// timezone), its requests judged as of `now`.
pub fn compose(
    conn: &Connection,
    config: &Config,
    now: DateTime<Utc>,
    surveys: &[SurveyLine],
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
    let chat_name = |id: i64| names.chat(id).unwrap_or_else(|| id.to_string());
    let worst: Vec<WaitLine> = report
        .worst
        .iter()
        .map(|w| WaitLine {
            chat: w.chat.clone().unwrap_or_else(|| w.chat_id.to_string()),
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
        surveys,
        top,
    };
    Ok(Composed {
        monday,
        html: digest.html(),
        requests: report.total.summary.requests,
    })
}
