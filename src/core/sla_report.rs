//! SLA figures per chat and per accountant over the store, by the
//! definitions `buhbot replay` uses ([`Summary::of`](crate::domain::sla::Summary::of)):
//! what `buhbot report sla` prints and the weekly digest sums up.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

use crate::config::Config;
use crate::domain::sla::{Group, Line, RequestFigures, RequestStatus, alert_fires};
use crate::store::requests::{self, RequestRow};
use crate::store::{StoreError, chats, users};

/// Which requests a report covers, and the instant it judges them at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// Requests received in `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub chat: Option<i64>,
    /// Only the requests this accountant answered.
    pub accountant: Option<i64>,
    /// A request not answered by then is open (breached once past its
    /// deadline).
    pub at: DateTime<Utc>,
}

/// One of the longest waits: an answered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub chat_id: i64,
    pub chat: Option<String>,
    pub received_at: i64,
    pub working_minutes: i64,
    pub answered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlaReport {
    pub chats: Vec<Line>,
    pub accountants: Vec<Line>,
    pub total: Line,
    /// The longest answered waits, longest first (as many as asked for).
    pub worst: Vec<Wait>,
}

/// The instant a local day starts (the earliest one across a DST gap).
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// A request's contribution as of `at`, and whether it is open then.
pub fn figures(r: &RequestRow, at: i64) -> (RequestFigures, bool) {
    let closed_by_then = r.status != RequestStatus::Open && r.answered_at.is_none_or(|a| a <= at);
    if closed_by_then {
        let answered = r.status == RequestStatus::Answered;
        let f = RequestFigures {
            breached: r.breached,
            answered_minutes: r.working_minutes.filter(|_| answered),
        };
        return (f, false);
    }
    // As replay judges a request still open at its end: breached once the
    // deadline has passed, otherwise neither answered nor breached.
    let at = DateTime::from_timestamp(at, 0).unwrap_or_default();
    let breached = r
        .deadline_at
        .and_then(|d| DateTime::from_timestamp(d, 0))
        .is_some_and(|d| alert_fires(d, None, at));
    let f = RequestFigures {
        breached,
        answered_minutes: None,
    };
    (f, true)
}

/// Chat titles (the configuration's first, then the store's) and staff
/// names, for the report's lines.
pub struct Names {
    titles: BTreeMap<i64, String>,
    staff: BTreeMap<i64, String>,
}

impl Names {
    pub fn load(conn: &Connection, config: &Config) -> Result<Names, StoreError> {
        let mut titles: BTreeMap<i64, String> = chats::list(conn)?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect();
        for (id, c) in &config.chats {
            if let Some(t) = &c.title {
                titles.insert(*id, t.clone());
            }
        }
        let staff = users::list(conn)?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        Ok(Names { titles, staff })
    }

    pub fn chat(&self, id: i64) -> Option<String> {
        self.titles.get(&id).cloned()
    }

    pub fn user(&self, id: i64) -> Option<String> {
        self.staff.get(&id).cloned()
    }

    pub fn knows_chat(&self, id: i64) -> bool {
        self.titles.contains_key(&id)
    }
}

/// Streams the scope's requests out of the store into the report; memory
/// follows the number of chats and accountants, not of requests.
pub fn build(
    conn: &Connection,
    names: &Names,
    scope: &Scope,
    worst_n: usize,
) -> Result<SlaReport, StoreError> {
    let (mut chats, mut accountants) = (BTreeMap::new(), BTreeMap::new());
    let mut total = Group::default();
    // The longest waits so far, the shortest of them on top.
    let mut worst: BinaryHeap<Reverse<(i64, Reverse<i64>, i64)>> = BinaryHeap::new();
    let mut worst_rows: BTreeMap<i64, (i64, i64, Option<i64>)> = BTreeMap::new();
    let at = scope.at.timestamp();
    let (from, to) = (scope.from.timestamp(), scope.to.timestamp());
    requests::each_received_between(conn, from, to, scope.chat, &mut |r| {
        let (f, open) = figures(&r, at);
        let by = r.answered_by.filter(|_| !open);
        if scope.accountant.is_some_and(|a| by != Some(a)) {
            return;
        }
        chats
            .entry(r.chat_id)
            .or_insert_with(Group::default)
            .add(f, open);
        if let Some(by) = by {
            accountants
                .entry(by)
                .or_insert_with(Group::default)
                .add(f, open);
        }
        total.add(f, open);
        if let (Some(m), true) = (f.answered_minutes, worst_n > 0) {
            worst.push(Reverse((m, Reverse(r.received_at), r.id)));
            worst_rows.insert(r.id, (r.chat_id, r.received_at, by));
            if worst.len() > worst_n
                && let Some(Reverse((_, _, id))) = worst.pop()
            {
                worst_rows.remove(&id);
            }
        }
    })?;
    let mut worst: Vec<_> = worst.into_iter().map(|Reverse(w)| w).collect();
    worst.sort_unstable_by(|a, b| b.cmp(a));
    let worst = worst
        .into_iter()
        .filter_map(|(minutes, _, id)| {
            let (chat_id, received_at, by) = worst_rows.remove(&id)?;
            Some(Wait {
                chat_id,
                chat: names.chat(chat_id),
                received_at,
                working_minutes: minutes,
                answered_by: by.map(|b| names.user(b).unwrap_or_else(|| b.to_string())),
            })
        })
        .collect();
    Ok(SlaReport {
        chats: chats
            .into_iter()
            .map(|(id, g)| g.line(id, names.chat(id)))
            .collect(),
        accountants: accountants
            .into_iter()
            .map(|(id, g)| g.line(id, names.user(id)))
            .collect(),
        total: total.line(0, None),
        worst,
    })
}
