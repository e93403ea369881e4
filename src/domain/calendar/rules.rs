//! Day rules: which local intervals a date is worked, before any time-zone
//! arithmetic. This is the single source of truth for precedence; the fast
//! index only caches what these functions say.

use chrono::{Datelike, NaiveDate};

use super::{CalendarSpec, Interval, ProductionDay};

const FULL_DAY: Interval = Interval {
    start: 0,
    end: 86_400,
};

/// Sorts, drops empty intervals and merges overlapping or touching ones, so
/// the rest of the module may assume a clean, ordered list even when a
/// configuration (or a property test) hands over something sloppier.
///
/// The fields of [`Interval`] are public, so it also enforces what
/// [`Interval::parse`] guarantees and the index relies on: a day starts
/// before its own midnight and spills at most into the next day.
pub(crate) fn normalize(mut v: Vec<Interval>) -> Vec<Interval> {
    v.retain(|i| i.start < 86_400);
    for i in &mut v {
        i.end = i.end.min(2 * 86_400);
    }
    v.retain(|i| !i.is_empty());
    v.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for i in v {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// The weekly hours of weekday `w` (Monday = 0).
pub(crate) fn week_hours(spec: &CalendarSpec, w: usize) -> Vec<Interval> {
    if spec.always_open {
        vec![FULL_DAY]
    } else {
        normalize(spec.week[w].clone())
    }
}

/// A worked exception day uses its weekday's own hours, or Monday's when the
/// weekday has none (a worked Saturday is a normal office day).
fn worked_hours(spec: &CalendarSpec, w: usize) -> Vec<Interval> {
    let own = week_hours(spec, w);
    if own.is_empty() {
        week_hours(spec, 0)
    } else {
        own
    }
}

/// Clips a day so that it ends `minutes` earlier than its last interval.
fn shorten(v: Vec<Interval>, minutes: u32) -> Vec<Interval> {
    let Some(last) = v.last() else { return v };
    let cut = last.end.saturating_sub(minutes.saturating_mul(60));
    v.into_iter()
        .filter(|i| i.start < cut)
        .map(|i| Interval {
            start: i.start,
            end: i.end.min(cut),
        })
        .collect()
}

/// The effective local working intervals of `date`, precedence highest
/// first: holidays, workdays, production calendar, weekly hours.
pub(crate) fn local_day(spec: &CalendarSpec, date: NaiveDate) -> Vec<Interval> {
    let w = date.weekday().num_days_from_monday() as usize;
    if spec.holidays.contains(&date) {
        return Vec::new();
    }
    if let Some(hours) = spec.workdays.get(&date) {
        return match hours {
            Some(h) => normalize(h.clone()),
            None => week_hours(spec, 0),
        };
    }
    match spec.production.days.get(&date) {
        Some(ProductionDay::Off) => Vec::new(),
        Some(ProductionDay::Shortened) => {
            shorten(worked_hours(spec, w), spec.shortened_day_minutes)
        }
        Some(ProductionDay::Worked) => worked_hours(spec, w),
        None => week_hours(spec, w),
    }
}
