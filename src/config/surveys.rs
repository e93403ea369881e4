//! `[surveys]`: client satisfaction surveys (issue 13).

use std::ops::RangeInclusive;

use super::reader::{Problems, Table, cron, join};

pub const SURVEYS_KEYS: &[&str] = &[
    "enabled",
    "schedule",
    "first_working_day",
    "validity_days",
    "remind_after_days",
    "notify_managers_after_days",
    "cooldown_hours",
    "low_rating_threshold",
    "comment_minutes",
    "activity_days",
];

/// The accepted ranges of the numeric settings the sync also takes from
/// Postgres' `global_settings` (sync::pull::globals checks them the same).
pub const VALIDITY_DAYS: RangeInclusive<u32> = 1..=90;
pub const REMIND_AFTER_DAYS: RangeInclusive<u32> = 1..=89;
pub const COOLDOWN_HOURS: RangeInclusive<u32> = 0..=8_760;
pub const LOW_RATING_THRESHOLD: RangeInclusive<u32> = 0..=5;

/// When and how surveys run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveySettings {
    /// Off: no scheduled campaign starts (`buhbot surveys start` still
    /// works, and votes on open surveys still count).
    pub enabled: bool,
    /// 6-field cron of the scheduled campaigns, in the default calendar's
    /// zone.
    pub schedule: String,
    /// Move a scheduled start off a day without working hours to the same
    /// time on the next working day of the default calendar.
    pub first_working_day: bool,
    pub validity_days: u32,
    pub remind_after_days: u32,
    pub notify_managers_after_days: u32,
    /// A chat gets at most one survey within this many hours.
    pub cooldown_hours: u32,
    /// A rating at or below it alerts the chat's accountants and managers.
    pub low_rating_threshold: u8,
    /// A voter's next message within this many minutes is the comment.
    pub comment_minutes: u32,
    /// The audience: chats with a client request in this many days.
    pub activity_days: u32,
}

impl Default for SurveySettings {
    fn default() -> Self {
        SurveySettings {
            enabled: true,
            schedule: "0 0 10 1 1,4,7,10 *".into(),
            first_working_day: true,
            validity_days: 7,
            remind_after_days: 1,
            notify_managers_after_days: 5,
            cooldown_hours: 24,
            low_rating_threshold: 3,
            comment_minutes: 10,
            activity_days: 92,
        }
    }
}

pub fn read_surveys(problems: &mut Problems<'_>, t: &Table<'_>) -> SurveySettings {
    let d = SurveySettings::default();
    let s = SurveySettings {
        enabled: t.get(problems, "enabled").unwrap_or(d.enabled),
        schedule: cron(problems, t, "schedule", &d.schedule),
        first_working_day: t
            .get(problems, "first_working_day")
            .unwrap_or(d.first_working_day),
        validity_days: t
            .int_in(problems, "validity_days", VALIDITY_DAYS)
            .unwrap_or(d.validity_days),
        remind_after_days: t
            .int_in(problems, "remind_after_days", REMIND_AFTER_DAYS)
            .unwrap_or(d.remind_after_days),
        notify_managers_after_days: t
            .int_in(problems, "notify_managers_after_days", REMIND_AFTER_DAYS)
            .unwrap_or(d.notify_managers_after_days),
        cooldown_hours: t
            .int_in(problems, "cooldown_hours", COOLDOWN_HOURS)
            .unwrap_or(d.cooldown_hours),
        low_rating_threshold: t
            .int_in(problems, "low_rating_threshold", LOW_RATING_THRESHOLD)
            .map_or(d.low_rating_threshold, |v| v as u8),
        comment_minutes: t
            .int_in(problems, "comment_minutes", 1..=1_440)
            .unwrap_or(d.comment_minutes),
        activity_days: t
            .int_in(problems, "activity_days", 1..=3_660)
            .unwrap_or(d.activity_days),
    };
    // The steps must come in order, all before the survey closes.
    if s.remind_after_days >= s.validity_days {
        problems.push(
            &join(t.path, "remind_after_days"),
            t.raw("remind_after_days"),
            format!(
                "must be less than validity_days ({}), got {}",
                s.validity_days, s.remind_after_days
            ),
        );
    }
    if s.notify_managers_after_days >= s.validity_days {
        problems.push(
            &join(t.path, "notify_managers_after_days"),
            t.raw("notify_managers_after_days"),
            format!(
                "must be less than validity_days ({}), got {}",
                s.validity_days, s.notify_managers_after_days
            ),
        );
    }
    s
}
