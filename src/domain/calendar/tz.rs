//! Time-zone arithmetic: local wall-clock → UTC with the documented DST
//! policy, and a memoized table of UTC-offset changes.
//!
//! chrono-tz does not expose its transition list and each conversion costs
//! tens of nanoseconds, so the fast path looks offsets up in a table found
//! once per zone by probing (see [`Offsets::build`]).

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// The table covers UTC instants 1900-01-01 ..= 2200-01-01.
const TABLE_LO: i64 = -2_208_988_800;
const TABLE_HI: i64 = 7_258_118_400;
/// Zones in chrono-tz's database (`chrono_tz::TZ_VARIANTS.len()`, which is
/// not a constant expression); a unit test keeps the two equal.
pub(crate) const ZONES: usize = 597;
/// Probe step. Two changes within one day that cancel out would be missed;
/// no zone in the tz database does that within the table's range.
const PROBE_STEP: i64 = 86_400;

/// UTC offsets of one zone over the table range.
#[derive(Debug)]
pub(crate) struct Offsets {
    tz: Tz,
    /// Instants at which the offset changes, ascending.
    pub(crate) trans: Vec<i64>,
    /// `offs[i]` holds for instants in `[trans[i-1], trans[i])`.
    offs: Vec<i32>,
}

/// UTC offset in seconds at a UTC instant, straight from chrono-tz.
pub(crate) fn offset_slow(tz: Tz, t: i64) -> i32 {
    match DateTime::from_timestamp(t, 0) {
        Some(dt) => tz
            .offset_from_utc_datetime(&dt.naive_utc())
            .fix()
            .local_minus_utc(),
        None => 0,
    }
}

impl Offsets {
    /// The zone's table. It is a pure function of the zone, built on first
    /// use (~110 000 probes) and then shared: each zone has a write-once
    /// cell, a lazily computed constant rather than mutable state, so no
    /// lock is taken and nothing can change it once built.
    pub(crate) fn get(tz: Tz) -> Arc<Offsets> {
        static TABLES: [OnceLock<Arc<Offsets>>; ZONES] = [const { OnceLock::new() }; ZONES];
        match TABLES.get(tz as usize) {
            Some(cell) => Arc::clone(cell.get_or_init(|| Arc::new(Offsets::build(tz)))),
            // A chrono-tz with more zones than ZONES (see the test): still
            // correct, only built once per calendar instead of once.
            None => Arc::new(Offsets::build(tz)),
        }
    }

    fn build(tz: Tz) -> Offsets {
        let mut trans = Vec::new();
        let mut offs = vec![offset_slow(tz, TABLE_LO)];
        let mut t = TABLE_LO;
        let mut cur = offs[0];
        while t < TABLE_HI {
            let next = (t + PROBE_STEP).min(TABLE_HI);
            let o = offset_slow(tz, next);
            if o != cur {
                // Bisect to the first second with the new offset.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_slow(tz, mid) == cur {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                trans.push(hi);
                offs.push(o);
                cur = o;
            }
            t = next;
        }
        Offsets { tz, trans, offs }
    }

    pub(crate) fn in_range(t: i64) -> bool {
        (TABLE_LO..TABLE_HI).contains(&t)
    }

    /// Local day numbers (days since 1970-01-01) fully covered by the table
    /// with a margin, so the fast index may trust it for D-1 ..= D+2.
    pub(crate) fn day_range() -> (i64, i64) {
        (
            TABLE_LO.div_euclid(86_400) + 4,
            TABLE_HI.div_euclid(86_400) - 4,
        )
    }

    /// UTC offset at instant `t`.
    #[inline]
    pub(crate) fn at(&self, t: i64) -> i32 {
        if Self::in_range(t) {
            self.offs[self.trans.partition_point(|&x| x <= t)]
        } else {
            offset_slow(self.tz, t)
        }
    }
}

pub(crate) fn date_of_day(d: i64) -> Option<NaiveDate> {
    let ce = i32::try_from(d.checked_add(719_163)?).ok()?;
    NaiveDate::from_num_days_from_ce_opt(ce)
}

pub(crate) fn day_of_date(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// Local wall clock (`date` midnight + `secs`) → UTC seconds. A time in a
/// spring-forward gap moves to the transition instant; an ambiguous time
/// takes the earlier instant. `None` only outside chrono's range.
pub(crate) fn local_to_utc(tz: Tz, date: NaiveDate, secs: u32) -> Option<i64> {
    let naive = date.and_hms_opt(0, 0, 0)? + chrono::Duration::seconds(i64::from(secs));
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.timestamp()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp().min(b.timestamp())),
        LocalResult::None => gap_end(tz, naive),
    }
}

fn valid(tz: Tz, naive: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.timestamp()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp().min(b.timestamp())),
        LocalResult::None => None,
    }
}

/// The transition instant of the gap containing `naive`: the first valid
/// local time after it, converted. Probes forward in 15-minute steps (gaps
/// are at most a day, e.g. Samoa 2011), then bisects to the second.
fn gap_end(tz: Tz, naive: NaiveDateTime) -> Option<i64> {
    let step = chrono::Duration::seconds(900);
    let mut lo = naive;
    let mut hi = naive + step;
    let mut n = 0;
    while valid(tz, hi).is_none() {
        lo = hi;
        hi += step;
        n += 1;
        if n > 200 {
            return None;
        }
    }
    while (hi - lo).num_seconds() > 1 {
        let mid = lo + chrono::Duration::seconds((hi - lo).num_seconds() / 2);
        if valid(tz, mid).is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    valid(tz, hi)
}
