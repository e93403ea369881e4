//! When alerts of a request fall due, and what its SLA outcome is.

use crate::domain::calendar::Calendar;
use chrono::{DateTime, Utc};

/// A chat's SLA policy. All durations are working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Working minutes a client may wait for an answer (1–480).
    pub threshold_minutes: u32,
    /// Warn the accountants when this share of the threshold has elapsed
    /// (0 disables the warning).
    pub warning_percent: u32,
    /// Working minutes between escalations after the breach.
    pub escalation_interval_minutes: u32,
    /// The highest alert level; the breach alert is level 1, escalations
    /// are levels 2..=max_escalations.
    pub max_escalations: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            threshold_minutes: 60,
            warning_percent: 80,
            escalation_interval_minutes: 30,
            max_escalations: 5,
        }
    }
}

/// What an alert is about; its spelling in the database (and in metric
/// labels and reports) is `store::alerts`'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    Warning,
    Breach,
    Escalation,
}

/// One alert of a request's schedule. The warning has level 0, the breach
/// level 1, escalations 2 and up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedAlert {
    pub kind: AlertKind,
    pub level: u32,
    pub due: DateTime<Utc>,
}

/// Where each alert of the policy sits on a request's working-time axis:
/// `(kind, level, working seconds after receipt)`, in order.
pub fn alert_offsets(policy: &Policy) -> Vec<(AlertKind, u32, i64)> {
    let threshold = i64::from(policy.threshold_minutes) * 60;
    let interval = i64::from(policy.escalation_interval_minutes) * 60;
    let mut out = Vec::with_capacity(policy.max_escalations as usize + 1);
    if policy.warning_percent > 0 {
        out.push((
            AlertKind::Warning,
            0,
            threshold * i64::from(policy.warning_percent) / 100,
        ));
    }
    out.push((AlertKind::Breach, 1, threshold));
    // Escalations are counted in working time from the breach, so they
    // pause overnight and over weekends like the SLA clock itself.
    out.extend((2..=policy.max_escalations).map(|level| {
        (
            AlertKind::Escalation,
            level,
            threshold + interval * i64::from(level - 1),
        )
    }));
    out
}

/// The full alert schedule of a request received at `received_at`, in due
/// order, assuming it stays open. Alerts the calendar can never reach (no
/// working time left) are omitted.
pub fn plan_alerts(
    cal: &Calendar,
    policy: &Policy,
    received_at: DateTime<Utc>,
) -> Vec<PlannedAlert> {
    plan_alerts_from(cal, policy, received_at, 0)
}

/// The schedule of a request that had already used `used_seconds` of
/// working time at `anchor`: what is left counts from `anchor` against
/// `cal`. This is how open requests are re-timed when a chat's calendar or
/// policy changes (time already used stays used). Alerts whose offset is
/// already used up are due at `anchor`.
pub fn plan_alerts_from(
    cal: &Calendar,
    policy: &Policy,
    anchor: DateTime<Utc>,
    used_seconds: i64,
) -> Vec<PlannedAlert> {
    alert_offsets(policy)
        .into_iter()
        .map_while(|(kind, level, offset)| {
            let due = cal.deadline_seconds(anchor, (offset - used_seconds).max(0))?;
            Some(PlannedAlert { kind, level, due })
        })
        .collect()
}

/// Whether an alert due at `due` fires for a request answered at
/// `answered_at` (if ever), judged at `now`: it must be due by then and the
/// request must still be open at its instant. An answer exactly at the due
/// instant is in time.
pub fn alert_fires(
    due: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    due <= now && answered_at.is_none_or(|a| a > due)
}

/// The SLA result of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Working seconds from receipt to the answer, or to `now` if open.
    pub working_seconds: i64,
    pub breached: bool,
    /// The deadline, when breached.
    pub breached_at: Option<DateTime<Utc>>,
    /// Whole working minutes beyond the threshold.
    pub excess_minutes: i64,
}

impl Outcome {
    pub fn working_minutes(&self) -> i64 {
        self.working_seconds / 60
    }
}

/// Where a request's SLA clock stands: at `anchor` it had used
/// `used_seconds` of working time, and it is breached if still open after
/// `deadline` (`None`: the calendar never reaches the threshold). A request
/// never re-timed is anchored at its receipt with nothing used; re-timing
/// after a calendar or policy change moves the anchor, keeping the time
/// already used (see [`plan_alerts_from`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaClock {
    pub anchor: DateTime<Utc>,
    pub used_seconds: i64,
    pub threshold_minutes: i64,
    pub deadline: Option<DateTime<Utc>>,
}

impl SlaClock {
    /// The clock of a request received at `received_at` under `policy`.
    pub fn start(cal: &Calendar, policy: &Policy, received_at: DateTime<Utc>) -> SlaClock {
        let threshold_minutes = i64::from(policy.threshold_minutes);
        SlaClock {
            anchor: received_at,
            used_seconds: 0,
            threshold_minutes,
            deadline: cal.deadline_seconds(received_at, threshold_minutes * 60),
        }
    }

    /// The clock as the store keeps it (UTC seconds).
    pub fn stored(
        anchor_at: i64,
        used_seconds: i64,
        threshold_minutes: i64,
        deadline_at: Option<i64>,
    ) -> SlaClock {
        let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
        SlaClock {
            anchor: at(anchor_at),
            used_seconds,
            threshold_minutes,
            deadline: deadline_at.map(at),
        }
    }

    /// The working seconds used by `until`: the time used before the
    /// anchor plus the working time since, on `cal`.
    pub fn used_by(&self, cal: &Calendar, until: DateTime<Utc>) -> i64 {
        self.used_seconds + cal.working_seconds(self.anchor, until.max(self.anchor))
    }

    /// The outcome of the request answered at `answered_at` (or still
    /// open), judged at `now`. This is the one definition: the engine
    /// closing a request and `buhbot replay` both come here.
    pub fn outcome(
        &self,
        cal: &Calendar,
        answered_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let working_seconds = self.used_by(cal, answered_at.unwrap_or(now));
        let breached_at = self.deadline.filter(|&d| alert_fires(d, answered_at, now));
        Outcome {
            working_seconds,
            breached: breached_at.is_some(),
            breached_at,
            excess_minutes: (working_seconds - self.threshold_minutes * 60).max(0) / 60,
        }
    }
}

/// The outcome of a request received at `received_at`, answered at
/// `answered_at` (or still open), judged at `now`, never re-timed.
pub fn outcome(
    cal: &Calendar,
    policy: &Policy,
    received_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Outcome {
    SlaClock::start(cal, policy, received_at).outcome(cal, answered_at, now)
}
