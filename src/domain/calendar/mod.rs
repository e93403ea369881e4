//! Working-time calendar.
//!
//! A [`Calendar`] answers two questions: how much working time lies between
//! two instants ([`Calendar::working_seconds`]), and when a given amount of
//! working time has elapsed ([`Calendar::deadline_seconds`]).
//!
//! The calendar is built from a validated [`CalendarSpec`]; parsing of the
//! configuration's strings lives in `crate::config`, parsing of xmlcalendar
//! documents in [`production`].

mod index;
pub mod production;
mod rules;
#[cfg(test)]
mod tests;
mod tz;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use index::Index;
pub use production::{ProductionCalendar, ProductionDay, XmlCalendarError};

/// A working interval of one local day, `[start, end)` in seconds after the
/// local midnight of the day it belongs to. `end` may exceed 86 400 when the
/// interval crosses midnight (it still belongs to the day it starts on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: u32,
    pub end: u32,
}

/// Why an interval string such as `09:00-18:00` was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("expected HH:MM-HH:MM, got {0:?}")]
    Syntax(String),
    #[error("{0:?} is not a valid time of day (00:00-23:59, or 24:00 as an end)")]
    Time(String),
    #[error("interval {0:?} is empty")]
    Empty(String),
}

impl Interval {
    /// Parses `HH:MM-HH:MM`. `24:00` is allowed as an end; an end at or
    /// before the start means the interval crosses midnight.
    pub fn parse(s: &str) -> Result<Interval, IntervalError> {
        let (a, b) = s
            .trim()
            .split_once('-')
            .ok_or_else(|| IntervalError::Syntax(s.to_string()))?;
        let start = parse_hhmm(a.trim(), false)?;
        let end = parse_hhmm(b.trim(), true)?;
        if start == end {
            return Err(IntervalError::Empty(s.to_string()));
        }
        let end = if end < start { end + 86_400 } else { end };
        Ok(Interval { start, end })
    }

    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |s: u32| {
            let s = if s > 86_400 { s - 86_400 } else { s };
            format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
        };
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

fn parse_hhmm(s: &str, is_end: bool) -> Result<u32, IntervalError> {
    let bad = || IntervalError::Time(s.to_string());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && (m != 0 || !is_end)) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// The validated description of a calendar. Precedence for a date, highest
/// first: `holidays`, `workdays`, the production calendar, the weekly hours.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSpec {
    pub timezone: Tz,
    /// 24/7: every day is worked from 00:00 to 24:00 (holidays, workdays and
    /// the production calendar still apply when configured).
    pub always_open: bool,
    /// Monday first. Intervals sorted, non-overlapping within a day.
    pub week: [Vec<Interval>; 7],
    pub holidays: BTreeSet<NaiveDate>,
    /// Worked days the week says are off; `None` hours means Monday's hours.
    pub workdays: BTreeMap<NaiveDate, Option<Vec<Interval>>>,
    pub production: ProductionCalendar,
    /// How much earlier a shortened (pre-holiday) day ends.
    pub shortened_day_minutes: u32,
}

impl Default for CalendarSpec {
    /// Europe/Moscow, Monday–Friday 09:00–18:00.
    fn default() -> Self {
        let day = vec![Interval {
            start: 9 * 3600,
            end: 18 * 3600,
        }];
        CalendarSpec {
            timezone: chrono_tz::Europe::Moscow,
            always_open: false,
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
            holidays: BTreeSet::new(),
            workdays: BTreeMap::new(),
            production: ProductionCalendar::default(),
            shortened_day_minutes: 60,
        }
    }
}

/// A compiled calendar, cheap to query: building precomputes an index (see
/// `index.rs`) so that queries cost O(log n) whatever the span.
#[derive(Debug, Clone)]
pub struct Calendar {
    spec: CalendarSpec,
    index: Arc<Index>,
}

/// How far [`Calendar::deadline_seconds`] looks before giving up (~100 years).
const HORIZON_DAYS: i64 = 36_525;

fn to_dt(t: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t, 0)
}

impl Calendar {
    pub fn new(spec: CalendarSpec) -> Calendar {
        let index = Arc::new(Index::build(&spec));
        Calendar { spec, index }
    }

    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    pub fn timezone(&self) -> Tz {
        self.spec.timezone
    }

    /// Working seconds in `[from, to)`; 0 when `to <= from`.
    pub fn working_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let (a, b) = (from.timestamp(), to.timestamp());
        if b <= a {
            return 0;
        }
        let (ix, spec) = (&*self.index, &self.spec);
        let (da, db) = (ix.day_of(a), ix.day_of(b));
        // Days that may straddle an end are clipped exactly; the one before
        // and after the end's local date are included because a spill (or
        // an ambiguous midnight) can reach across.
        let clipped = |days: std::ops::RangeInclusive<i64>, lo: i64, hi: i64| {
            let mut sum = 0;
            for d in days {
                ix.for_day(spec, d, |s, e| sum += (e.min(hi) - s.max(lo)).max(0));
            }
            sum
        };
        if db - da < 4 {
            return clipped(da - 1..=db + 1, a, b);
        }
        // Days da+2 ..= db-2 lie entirely inside [a, b).
        clipped(da - 1..=da + 1, a, i64::MAX)
            + ix.range_sum(spec, da + 2, db - 1)
            + clipped(db - 1..=db + 1, i64::MIN, b)
    }

    /// Whole working minutes (rounded down) in `[from, to)`.
    pub fn working_minutes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.working_seconds(from, to) / 60
    }

    /// The earliest instant `T >= from` such that the working time in
    /// `[from, T]` equals `seconds`. `None` when the calendar has no working
    /// time left within its horizon.
    pub fn deadline_seconds(&self, from: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
        if seconds <= 0 {
            return Some(from);
        }
        let (ix, spec) = (&*self.index, &self.spec);
        let a = from.timestamp();
        let da = ix.day_of(a);
        let mut left = seconds;
        // Walks one day's intervals; `Some(T)` once the count completes.
        // Contributions are disjoint and ordered across days, so walking day
        // by day walks time in order.
        let walk = |d: i64, left: &mut i64| -> Option<i64> {
            let mut done = None;
            ix.for_day(spec, d, |s, e| {
                let s = s.max(a);
                if done.is_some() || e <= s {
                    return;
                }
                if *left <= e - s {
                    done = Some(s + *left);
                } else {
                    *left -= e - s;
                }
            });
            done
        };
        for d in da - 1..=da + 1 {
            if let Some(t) = walk(d, &mut left) {
                return to_dt(t);
            }
        }
        // From da+2 on every day is whole: find the day where the count
        // completes by exponential, then binary search over range sums.
        let start = da + 2;
        let sum = |k: i64| ix.range_sum(spec, start, start + k);
        let (mut lo, mut hi) = (0, 1);
        loop {
            if sum(hi) >= left {
                break;
            }
            if hi >= HORIZON_DAYS {
                return None;
            }
            lo = hi;
            hi = (hi * 2).min(HORIZON_DAYS);
        }
        // Invariant: sum(lo) < left <= sum(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if sum(mid) >= left {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let mut left = left - sum(lo);
        walk(start + lo, &mut left).and_then(to_dt)
    }

    /// [`Calendar::deadline_seconds`] for whole minutes.
    pub fn deadline(&self, from: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
        self.deadline_seconds(from, i64::from(minutes) * 60)
    }

    /// The effective local working intervals of a date after all rules
    /// (holidays, workdays, production calendar, weekly hours), before any
    /// time-zone conversion. Ends past 86 400 spill into the next day.
    pub fn local_intervals(&self, date: NaiveDate) -> Vec<Interval> {
        rules::local_day(&self.spec, date)
    }

    /// The first local date after `date` with working hours (within a
    /// year; `None` for a calendar without any).
    pub fn next_working_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        date.iter_days()
            .skip(1)
            .take(366)
            .find(|d| !self.local_intervals(*d).is_empty())
    }

    /// The working intervals of a local date, as UTC instants, in order.
    /// A spill past midnight is included; intervals wholly inside a DST gap
    /// are dropped.
    pub fn day_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let tz = self.spec.timezone;
        self.local_intervals(date)
            .into_iter()
            .filter_map(|i| {
                let s = to_dt(tz::local_to_utc(tz, date, i.start)?)?;
                let e = to_dt(tz::local_to_utc(tz, date, i.end)?)?;
                (e > s).then_some((s, e))
            })
            .collect()
    }
}
