//! Working hours as clients see them: whether a chat's calendar is open
//! now, the next opening, the menu's "working hours" text and the
//! out-of-hours auto-reply.
//!
//! A **closure** is one non-working stretch of the calendar: from the end
//! of a working interval to the start of the next. It is named by the
//! instant it ends (the next opening), so "once per client per closure"
//! is "once per (client, next opening)": a second request before that
//! opening is in the same closure; after it, the next closure has another
//! opening instant.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::calendar::Calendar;
use super::render::escape_html;

/// Where `now` falls in a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    /// Inside a working interval, which ends at `until`.
    Open { until: DateTime<Utc> },
    /// Outside working time; `next_opening` is `None` for a calendar
    /// without any working time within a year.
    Closed { next_opening: Option<DateTime<Utc>> },
}

/// How far ahead an opening is looked for (local days).
const LOOKAHEAD_DAYS: u64 = 370;

/// Where `now` falls in `cal`.
pub fn status(cal: &Calendar, now: DateTime<Utc>) -> Hours {
    let today = now.with_timezone(&cal.timezone()).date_naive();
    // The day before too: its interval may spill past midnight into today.
    let start = today.pred_opt().unwrap_or(today);
    let mut open_until: Option<DateTime<Utc>> = None;
    for day in start.iter_days().take(LOOKAHEAD_DAYS as usize) {
        for (s, e) in cal.day_intervals(day) {
            match open_until {
                // Adjacent intervals (a shift to 24:00, the next from 00:00)
                // are one opening.
                Some(u) if s <= u => open_until = Some(u.max(e)),
                Some(u) => return Hours::Open { until: u },
                None if s <= now && now < e => open_until = Some(e),
                None if s > now => {
                    return Hours::Closed {
                        next_opening: Some(s),
                    };
                }
                None => {}
            }
        }
    }
    match open_until {
        Some(until) => Hours::Open { until },
        None => Hours::Closed { next_opening: None },
    }
}

/// The next opening if `now` is outside working time: the closure's name.
pub fn closure(cal: &Calendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match status(cal, now) {
        Hours::Closed { next_opening } => next_opening,
        Hours::Open { .. } => None,
    }
}

const WEEKDAYS: [&str; 7] = [
    "понедельник",
    "вторник",
    "среду",
    "четверг",
    "пятницу",
    "субботу",
    "воскресенье",
];

/// "сегодня в 09:00", "завтра в 09:00", "в понедельник, 13.01, в 09:00".
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>, cal: &Calendar) -> String {
    let tz = cal.timezone();
    let (local, today) = (at.with_timezone(&tz), now.with_timezone(&tz).date_naive());
    let time = local.format("%H:%M");
    let date = local.date_naive();
    if date == today {
        format!("сегодня в {time}")
    } else if Some(date) == today.succ_opt() {
        format!("завтра в {time}")
    } else {
        let day = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
        format!("в {day}, {}, в {time}", local.format("%d.%m"))
    }
}

/// Today's intervals as "09:00–13:00, 14:00–18:00", or `None` on a day off.
fn day_hours(cal: &Calendar, date: NaiveDate) -> Option<String> {
    let list = cal.local_intervals(date);
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(|i| i.to_string().replace('-', "–"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The menu's "working hours" answer: today's hours (or a day off) and
/// whether the firm is working now, else the next opening.
pub fn hours_html(cal: &Calendar, now: DateTime<Utc>) -> String {
    let today = now.with_timezone(&cal.timezone()).date_naive();
    let mut out = String::from("🕘 <b>Часы работы бухгалтерии</b>\n");
    match day_hours(cal, today) {
        Some(h) => out.push_str(&format!("Сегодня: {h}.\n")),
        None => out.push_str("Сегодня выходной день.\n"),
    }
    match status(cal, now) {
        Hours::Open { until } => out.push_str(&format!(
            "Сейчас мы работаем, до {}.",
            until.with_timezone(&cal.timezone()).format("%H:%M")
        )),
        Hours::Closed {
            next_opening: Some(at),
        } => out.push_str(&format!(
            "Сейчас нерабочее время. Ближайшее начало работы: {}.",
            when(at, now, cal)
        )),
        Hours::Closed { next_opening: None } => {
            out.push_str("Рабочее время в календаре не задано.");
        }
    }
    out.push_str(&format!(
        "\n<i>Время указано по часовому поясу {}.</i>",
        escape_html(cal.timezone().name())
    ));
    out
}

/// The out-of-hours auto-reply to a request opened before `opening`.
pub fn out_of_hours_html(opening: DateTime<Utc>, now: DateTime<Utc>, cal: &Calendar) -> String {
    format!(
        "🌙 Сейчас нерабочее время. Ваше сообщение получено, бухгалтер ответит \
         после начала рабочего дня: {}.",
        when(opening, now, cal)
    )
}
