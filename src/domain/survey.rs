//! Client satisfaction surveys (issue 13), the pure part: when a scheduled
//! campaign is due (a cron occurrence moved to the first working day of
//! the calendar), what a button press does to a user's vote, whether a
//! message is a vote's comment, and the results arithmetic. Texts are in
//! [`super::survey_text`]. No I/O; `now` is always a parameter.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use croner::Cron;

use super::calendar::Calendar;
use super::schedule;

/// The ratings a survey offers, worst first.
pub const RATINGS: std::ops::RangeInclusive<u8> = 1..=5;

/// The scheduled campaign due at `now`, if any: the latest cron occurrence
/// after `last` whose start (the occurrence, or with `working_day` the
/// same local time on the first working day on or after its date) is at
/// or before `now`. Returns (the occurrence, the start). Occurrences
/// missed while the daemon was down give one campaign, not several.
pub fn due_campaign(
    cron: &Cron,
    cal: &Calendar,
    working_day: bool,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let tz = cal.timezone();
    let mut found = None;
    let mut after = last;
    // Bounded: a minutely cron and a long downtime must not loop for long.
    for _ in 0..10_000 {
        let Some(occurrence) = schedule::next_after(cron, tz, after) else {
            break;
        };
        let start = if working_day {
            shift_to_working_day(cal, occurrence)
        } else {
            occurrence
        };
        if start > now {
            break;
        }
        found = Some((occurrence, start));
        after = occurrence;
    }
    found
}

/// The same local time as `t` on the first date, on or after `t`'s, with
/// working hours on `cal` (`t` itself when there is none within a year).
pub fn shift_to_working_day(cal: &Calendar, t: DateTime<Utc>) -> DateTime<Utc> {
    let tz = cal.timezone();
    let local = t.with_timezone(&tz);
    let date = local.date_naive();
    let working = if cal.local_intervals(date).is_empty() {
        cal.next_working_day(date)
    } else {
        Some(date)
    };
    let Some(day) = working.filter(|d| *d != date) else {
        return t;
    };
    let time: NaiveTime = local.time();
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map_or(t, |l| l.with_timezone(&Utc))
}

/// The moments of one campaign, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    pub started_at: DateTime<Utc>,
    /// Chats without a vote get a reminder.
    pub remind_at: DateTime<Utc>,
    /// The managers hear which chats did not answer.
    pub notice_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

impl Timeline {
    pub fn new(
        start: DateTime<Utc>,
        remind_days: u32,
        notice_days: u32,
        validity_days: u32,
    ) -> Self {
        let d = |n: u32| start + Duration::days(i64::from(n));
        Timeline {
            started_at: start,
            remind_at: d(remind_days),
            notice_at: d(notice_days),
            closes_at: d(validity_days),
        }
    }
}

/// A press of rating `pressed` by a user whose effective vote is
/// `current`: the new effective vote. Pressing the rating one already gave
/// withdraws it; any other rating replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteChange {
    /// A first vote.
    Cast(u8),
    /// Another rating than before.
    Changed { from: u8, to: u8 },
    /// The same rating again: the vote is withdrawn.
    Withdrawn(u8),
}

impl VoteChange {
    pub fn of(current: Option<u8>, pressed: u8) -> VoteChange {
        match current {
            None => VoteChange::Cast(pressed),
            Some(c) if c == pressed => VoteChange::Withdrawn(c),
            Some(c) => VoteChange::Changed {
                from: c,
                to: pressed,
            },
        }
    }

    /// The effective rating after the change (`None`: no vote).
    pub fn rating(self) -> Option<u8> {
        match self {
            VoteChange::Cast(r) | VoteChange::Changed { to: r, .. } => Some(r),
            VoteChange::Withdrawn(_) => None,
        }
    }

    /// The stored name of the change (`survey_vote_history.action`).
    pub fn action(self) -> &'static str {
        match self {
            VoteChange::Cast(_) => "vote",
            VoteChange::Changed { .. } => "change",
            VoteChange::Withdrawn(_) => "withdraw",
        }
    }
}

/// Whether a message at `at` is the comment on a vote given at `voted_at`:
/// within `window` after it (the vote's time itself included).
pub fn in_comment_window(voted_at: DateTime<Utc>, at: DateTime<Utc>, window: Duration) -> bool {
    at >= voted_at && at - voted_at <= window
}

/// Whether `rating` alerts the chat's staff.
pub fn is_low(rating: u8, threshold: u8) -> bool {
    rating <= threshold
}

/// The results of a set of surveyed chats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Effective votes per rating, index 0 = rating 1.
    pub votes: [u64; 5],
    /// Chats the survey was sent to.
    pub chats: u64,
    /// Chats with at least one effective vote.
    pub answered_chats: u64,
}

impl Results {
    pub fn add_vote(&mut self, rating: u8) {
        if RATINGS.contains(&rating) {
            self.votes[usize::from(rating - 1)] += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.votes.iter().sum()
    }

    /// The mean rating; `None` without votes.
    pub fn average(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| {
            let sum: u64 = self
                .votes
                .iter()
                .enumerate()
                .map(|(i, n)| (i as u64 + 1) * n)
                .sum();
            sum as f64 / total as f64
        })
    }

    /// Answered chats over surveyed chats; `None` without chats.
    pub fn response_rate(&self) -> Option<f64> {
        (self.chats > 0).then(|| self.answered_chats as f64 / self.chats as f64)
    }

    /// The NPS-like split on the 1–5 scale: promoters gave 5, passives 4,
    /// detractors 1–3.
    pub fn split(&self) -> Split {
        Split {
            promoters: self.votes[4],
            passives: self.votes[3],
            detractors: self.votes[..3].iter().sum(),
        }
    }

    pub fn merge(&mut self, other: &Results) {
        for (a, b) in self.votes.iter_mut().zip(other.votes) {
            *a += b;
        }
        self.chats += other.chats;
        self.answered_chats += other.answered_chats;
    }
}

/// Promoters, passives and detractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

impl Split {
    /// Promoters' share minus detractors' share, in percent (−100..100);
    /// `None` without votes.
    pub fn score(&self) -> Option<f64> {
        let total = self.promoters + self.passives + self.detractors;
        (total > 0).then(|| (self.promoters as f64 - self.detractors as f64) * 100.0 / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::CalendarSpec;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    /// Monday–Friday, with the New Year holidays of 2026 (1–8 January).
    fn russian() -> Calendar {
        let mut spec = CalendarSpec::default();
        for d in 1..=8 {
            spec.holidays
                .insert(chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap());
        }
        Calendar::new(spec)
    }

    #[test]
    fn the_quarterly_campaign_starts_on_the_first_working_day() {
        let cron = schedule::parse_cron("0 0 10 1 1,4,7,10 *").unwrap();
        let cal = russian();
        // 1 January is a holiday (and a Thursday in 2026): not before the
        // first working day after the New Year holidays.
        let last = t("2025-12-01T00:00:00Z");
        assert_eq!(
            due_campaign(&cron, &cal, true, last, t("2026-01-01T12:00:00+03:00")),
            None
        );
        let (occ, start) =
            due_campaign(&cron, &cal, true, last, t("2026-01-31T12:00:00+03:00")).unwrap();
        assert_eq!(occ, t("2026-01-01T10:00:00+03:00"));
        // Friday 9 January, the first working day, at 10:00.
        assert_eq!(start, t("2026-01-09T10:00:00+03:00"));
        // Due only from then on.
        assert_eq!(
            due_campaign(&cron, &cal, true, last, t("2026-01-09T09:59:00+03:00")),
            None
        );
        // Without the shift the occurrence itself.
        let (_, plain) =
            due_campaign(&cron, &cal, false, last, t("2026-01-31T12:00:00+03:00")).unwrap();
        assert_eq!(plain, occ);
        // Two quarters missed: one campaign, for the latest.
        let (occ, _) =
            due_campaign(&cron, &cal, true, last, t("2026-05-01T12:00:00+03:00")).unwrap();
        assert_eq!(occ, t("2026-04-01T10:00:00+03:00"));
        // Already run: nothing until July.
        assert_eq!(
            due_campaign(&cron, &cal, true, occ, t("2026-06-30T12:00:00+03:00")),
            None
        );
    }

    #[test]
    fn votes_are_cast_changed_and_withdrawn() {
        assert_eq!(VoteChange::of(None, 4), VoteChange::Cast(4));
        assert_eq!(
            VoteChange::of(Some(4), 2),
            VoteChange::Changed { from: 4, to: 2 }
        );
        assert_eq!(VoteChange::of(Some(2), 2), VoteChange::Withdrawn(2));
        assert_eq!(VoteChange::Withdrawn(2).rating(), None);
        assert_eq!(VoteChange::Changed { from: 4, to: 2 }.rating(), Some(2));
    }

    #[test]
    fn the_comment_window_is_inclusive_and_forward_only() {
        let v = t("2026-01-12T10:00:00Z");
        let w = Duration::minutes(10);
        assert!(in_comment_window(v, v, w));
        assert!(in_comment_window(v, t("2026-01-12T10:10:00Z"), w));
        assert!(!in_comment_window(v, t("2026-01-12T10:10:01Z"), w));
        assert!(!in_comment_window(v, t("2026-01-12T09:59:59Z"), w));
    }

    #[test]
    fn results_arithmetic() {
        let mut r = Results {
            chats: 4,
            answered_chats: 3,
            ..Results::default()
        };
        for v in [5, 5, 4, 2, 1] {
            r.add_vote(v);
        }
        assert_eq!(r.total(), 5);
        assert!((r.average().unwrap() - 3.4).abs() < 1e-9);
        assert!((r.response_rate().unwrap() - 0.75).abs() < 1e-9);
        let s = r.split();
        assert_eq!((s.promoters, s.passives, s.detractors), (2, 1, 2));
        assert_eq!(s.score(), Some(0.0));
        assert_eq!(Results::default().average(), None);
        assert_eq!(Results::default().split().score(), None);
    }
}
