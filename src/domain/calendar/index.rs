//! The precomputed index that makes range sums O(log n).
//!
//! Working time is the union over local days D of the UTC images of D's
//! intervals. The conversion local → UTC is monotone, so only the last
//! interval of D-1 (its spill past midnight) can overlap D's images; each
//! day's *contribution* is its images clipped to start after that spill.
//!
//! Most days are "regular": weekly hours, neighbours with weekly hours, one
//! UTC offset throughout. Their contribution is a per-weekday constant and
//! their UTC intervals are the weekday pattern shifted by `86400·D − offset`.
//! The few irregular days (exceptions, the day after each, days near an
//! offset change) are computed exactly once and stored with prefix sums of
//! (actual − pattern), so a sum over any day range is full weeks × week
//! total + a weekday remainder + two binary searches.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono_tz::Tz;

use super::CalendarSpec;
use super::rules::{local_day, week_hours};
use super::tz::{Offsets, date_of_day, day_of_date, local_to_utc};

/// Weekday of a day number, Monday = 0 (1970-01-01 was a Thursday).
#[inline]
pub(crate) fn weekday(d: i64) -> usize {
    (d + 3).rem_euclid(7) as usize
}

/// Exact contribution of local day `d` as UTC `[start, end)` pairs, in order,
/// clipped after the previous day's spill. The slow reference path.
pub(crate) fn exact_day(spec: &CalendarSpec, d: i64) -> Vec<(i64, i64)> {
    let tz = spec.timezone;
    let (Some(date), Some(prev)) = (date_of_day(d), date_of_day(d - 1)) else {
        return Vec::new();
    };
    let spill_end = local_day(spec, prev)
        .last()
        .filter(|i| i.end > 86_400)
        .and_then(|i| local_to_utc(tz, prev, i.end))
        .unwrap_or(i64::MIN);
    let mut out = Vec::new();
    for i in local_day(spec, date) {
        let (Some(s), Some(e)) = (
            local_to_utc(tz, date, i.start),
            local_to_utc(tz, date, i.end),
        ) else {
            continue;
        };
        let s = s.max(spill_end);
        if e > s {
            out.push((s, e));
        }
    }
    out
}

#[derive(Debug)]
pub(crate) struct Index {
    offsets: Arc<Offsets>,
    /// Day numbers `[fast_lo, fast_hi)` where the table is trusted.
    fast_lo: i64,
    fast_hi: i64,
    /// Per weekday: local intervals with the previous weekday's spill cut out.
    pattern: [Vec<(i64, i64)>; 7],
    week_total: i64,
    /// `pat_prefix[k]`: pattern total of the k days starting on a Thursday
    /// (day 0), so a day range sum needs no loop.
    pat_prefix: [i64; 8],
    irr_days: Vec<i64>,
    irr_ivs: Vec<Vec<(i64, i64)>>,
    /// `irr_prefix[i]`: sum of (actual − pattern) over `irr_days[..i]`.
    irr_prefix: Vec<i64>,
}

impl Index {
    pub(crate) fn build(spec: &CalendarSpec) -> Index {
        let tz: Tz = spec.timezone;
        let offsets = Offsets::get(tz);
        let (fast_lo, fast_hi) = Offsets::day_range();
        let hours: Vec<_> = (0..7).map(|w| week_hours(spec, w)).collect();
        let pattern: [Vec<(i64, i64)>; 7] = std::array::from_fn(|w| {
            let spill = hours[(w + 6) % 7]
                .last()
                .map_or(0, |i| i64::from(i.end) - 86_400)
                .max(0);
            hours[w]
                .iter()
                .map(|i| (i64::from(i.start).max(spill), i64::from(i.end)))
                .filter(|(s, e)| e > s)
                .collect()
        });
        let sums: [i64; 7] = std::array::from_fn(|w| pattern[w].iter().map(|(s, e)| e - s).sum());
        let week_total = sums.iter().sum();
        let mut pat_prefix = [0; 8];
        for k in 0..7 {
            pat_prefix[k + 1] = pat_prefix[k] + sums[weekday(k as i64)];
        }

        // Irregular days: every exception and the day after it (spill), and
        // a generous window around every offset change.
        let mut irr = BTreeSet::new();
        let exceptions = spec
            .holidays
            .iter()
            .chain(spec.workdays.keys())
            .chain(spec.production.days.keys());
        for date in exceptions {
            let d = day_of_date(*date);
            irr.extend([d, d + 1]);
        }
        for &t in &offsets.trans {
            for o in [offsets.at(t - 1), offsets.at(t)] {
                let local_day = (t + i64::from(o)).div_euclid(86_400);
                irr.extend(local_day - 2..=local_day + 2);
            }
        }
        let mut irr_days = Vec::new();
        let mut irr_ivs = Vec::new();
        let mut irr_prefix = vec![0];
        for d in irr.into_iter().filter(|d| (fast_lo..fast_hi).contains(d)) {
            let ivs = exact_day(spec, d);
            let actual: i64 = ivs.iter().map(|(s, e)| e - s).sum();
            let delta = actual - sums[weekday(d)];
            irr_days.push(d);
            irr_ivs.push(ivs);
            irr_prefix.push(irr_prefix.last().copied().unwrap_or(0) + delta);
        }
        Index {
            offsets,
            fast_lo,
            fast_hi,
            pattern,
            week_total,
            pat_prefix,
            irr_days,
            irr_ivs,
            irr_prefix,
        }
    }

    /// Local day number of UTC instant `t`.
    #[inline]
    pub(crate) fn day_of(&self, t: i64) -> i64 {
        (t + i64::from(self.offsets.at(t))).div_euclid(86_400)
    }

    /// Calls `f(start, end)` for day `d`'s contribution, in order.
    #[inline]
    pub(crate) fn for_day(&self, spec: &CalendarSpec, d: i64, mut f: impl FnMut(i64, i64)) {
        if !(self.fast_lo..self.fast_hi).contains(&d) {
            exact_day(spec, d).into_iter().for_each(|(s, e)| f(s, e));
            return;
        }
        if let Ok(i) = self.irr_days.binary_search(&d) {
            self.irr_ivs[i].iter().for_each(|&(s, e)| f(s, e));
            return;
        }
        // Regular: one offset over the whole day and its spill.
        let base = d * 86_400 - i64::from(self.offsets.at(d * 86_400));
        for &(s, e) in &self.pattern[weekday(d)] {
            f(base + s, base + e);
        }
    }

    fn pattern_before(&self, d: i64) -> i64 {
        d.div_euclid(7) * self.week_total + self.pat_prefix[d.rem_euclid(7) as usize]
    }

    fn delta_before(&self, d: i64) -> i64 {
        self.irr_prefix[self.irr_days.partition_point(|&x| x < d)]
    }

    /// Total contribution of local days `[a, b)`.
    pub(crate) fn range_sum(&self, spec: &CalendarSpec, a: i64, b: i64) -> i64 {
        if b <= a {
            return 0;
        }
        let slow = |x: i64, y: i64| -> i64 {
            (x..y)
                .map(|d| exact_day(spec, d).iter().map(|(s, e)| e - s).sum::<i64>())
                .sum()
        };
        let (fa, fb) = (a.max(self.fast_lo), b.min(self.fast_hi));
        if fb <= fa {
            return slow(a, b);
        }
        let fast = self.pattern_before(fb) - self.pattern_before(fa) + self.delta_before(fb)
            - self.delta_before(fa);
        slow(a, fa) + fast + slow(fb, b)
    }
}
