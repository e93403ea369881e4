//! Weekly hours (`working_schedules`) and days off (`global_holidays`,
//! `chat_holidays`) pulled from Postgres.
//!
//! Postgres keeps them as rows (an interval, a date); the daemon keeps a
//! chat's weekly hours in its calendar snippet and the days in `holidays`.
//! So a change of any row of a chat re-reads all of that chat's rows in the
//! pull's snapshot and replaces the local whole: no row-by-row merge can
//! go wrong, and a deleted interval or day goes with the rest.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::Connection;
use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use super::{NEWER, PullError};
use crate::config::Config;
use crate::store::holidays::{self, Day};
use crate::store::{chats, settings::SettingsError};

pub(super) type Args<'a> = [(&'a (dyn ToSql + Sync), Type); 4];

/// A chat's weekly hours as Postgres has them; `None`: no active interval
/// (the chat falls back to the configuration's week).
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub timezone: String,
    /// Monday first: "HH:MM-HH:MM" intervals.
    pub days: [Vec<String>; 7],
}

#[derive(Debug, Default)]
pub struct CalendarBatch {
    pub weeks: BTreeMap<i64, Option<Week>>,
    /// The whole list of global days, when any changed.
    pub global_days: Option<Vec<Day>>,
    pub chat_days: BTreeMap<i64, Vec<Day>>,
    /// A full refetch: chats absent from `chat_days` have no days.
    pub full: bool,
}

fn deleted_chats(deletions: &[(String, serde_json::Value, i64)], table: &str) -> BTreeSet<i64> {
    deletions
        .iter()
        .filter(|(t, _, _)| t == table)
        .filter_map(|(_, old, _)| old.get("chat_id")?.as_i64())
        .collect()
}

/// Chats with rows of `table` changed since the cursor (all with `full`).
async fn touched(
    tx: &Transaction<'_>,
    table: &str,
    args: &Args<'_>,
    top: &mut i64,
) -> Result<BTreeSet<i64>, tokio_postgres::Error> {
    let mut out = BTreeSet::new();
    for r in tx
        .query_typed(
            &format!(
                "SELECT chat_id, max(row_version) FROM public.{table}
                 WHERE {NEWER} AND updated_by IS DISTINCT FROM $4 GROUP BY chat_id"
            ),
            args,
        )
        .await?
    {
        out.insert(r.get::<_, i64>(0));
        *top = (*top).max(r.get(1));
    }
    Ok(out)
}

fn day(date: String, kind: String, title: String) -> Option<Day> {
    Some(Day {
        date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok()?,
        workday: kind == "workday",
        title,
    })
}

/// Reads, in the pull's transaction, the weeks and days that changed.
pub(super) async fn read(
    tx: &Transaction<'_>,
    args: &Args<'_>,
    full: bool,
    deletions: &[(String, serde_json::Value, i64)],
    top: &mut i64,
) -> Result<CalendarBatch, tokio_postgres::Error> {
    let mut batch = CalendarBatch {
        full,
        ..CalendarBatch::default()
    };
    let mut chats = touched(tx, "working_schedules", args, top).await?;
    chats.extend(deleted_chats(deletions, "working_schedules"));
    if !chats.is_empty() {
        let ids: Vec<i64> = chats.iter().copied().collect();
        for &id in &ids {
            batch.weeks.insert(id, None);
        }
        for r in tx
            .query_typed(
                "SELECT chat_id, day_of_week, to_char(start_time, 'HH24:MI'),
                        to_char(end_time, 'HH24:MI'), timezone
                 FROM public.working_schedules
                 WHERE chat_id = ANY($1) AND is_active ORDER BY chat_id, day_of_week, start_time",
                &[(&ids, Type::INT8_ARRAY)],
            )
            .await?
        {
            let (chat, dow): (i64, i32) = (r.get(0), r.get(1));
            let week = batch
                .weeks
                .entry(chat)
                .or_default()
                .get_or_insert_with(|| Week {
                    timezone: r.get(4),
                    days: Default::default(),
                });
            if let Some(d) = week.days.get_mut((dow - 1).clamp(0, 6) as usize) {
                d.push(format!(
                    "{}-{}",
                    r.get::<_, String>(2),
                    r.get::<_, String>(3)
                ));
            }
        }
    }
    let global_changed = full || deletions.iter().any(|(t, _, _)| t == "global_holidays") || {
        let r = tx
            .query_typed_one(
                &format!(
                    "SELECT max(row_version) FROM public.global_holidays
                         WHERE {NEWER} AND updated_by IS DISTINCT FROM $4"
                ),
                args,
            )
            .await?;
        let v: Option<i64> = r.get(0);
        *top = (*top).max(v.unwrap_or(0));
        v.is_some()
    };
    if global_changed {
        let rows = tx
            .query_typed(
                "SELECT to_char(date, 'YYYY-MM-DD'), kind, name FROM public.global_holidays
                 ORDER BY date",
                &[],
            )
            .await?;
        batch.global_days = Some(
            rows.into_iter()
                .filter_map(|r| day(r.get(0), r.get(1), r.get(2)))
                .collect(),
        );
    }
    let mut chats = touched(tx, "chat_holidays", args, top).await?;
    chats.extend(deleted_chats(deletions, "chat_holidays"));
    if full || !chats.is_empty() {
        let ids: Vec<i64> = chats.iter().copied().collect();
        for &id in &ids {
            batch.chat_days.insert(id, Vec::new());
        }
        for r in tx
            .query_typed(
                "SELECT chat_id, to_char(date, 'YYYY-MM-DD'), kind, coalesce(description, '')
                 FROM public.chat_holidays WHERE $1 OR chat_id = ANY($2) ORDER BY chat_id, date",
                &[(&full, Type::BOOL), (&ids, Type::INT8_ARRAY)],
            )
            .await?
        {
            if let Some(d) = day(r.get(1), r.get(2), r.get(3)) {
                batch.chat_days.entry(r.get(0)).or_default().push(d);
            }
        }
    }
    Ok(batch)
}

/// The chat's snippet with `week` and `timezone` replaced by Postgres'
/// (or removed: the configuration's then apply); other keys set locally
/// (holidays, a production calendar) stay.
fn snippet_with(old: Option<&str>, week: Option<&Week>) -> Result<Option<String>, String> {
    let mut table: toml::Table = match old {
        Some(text) => text.parse().map_err(|e: toml::de::Error| e.to_string())?,
        None => toml::Table::new(),
    };
    // A snippet may be wrapped in a [calendar] header.
    if let Some(toml::Value::Table(inner)) = table.remove("calendar") {
        table.extend(inner);
    }
    table.remove("week");
    table.remove("timezone");
    if let Some(w) = week {
        table.insert("timezone".into(), w.timezone.clone().into());
        let mut days = toml::Table::new();
        for (name, list) in crate::config::WEEK_DAYS.iter().zip(&w.days) {
            days.insert(
                (*name).into(),
                toml::Value::Array(list.iter().cloned().map(Into::into).collect()),
            );
        }
        table.insert("week".into(), days.into());
    }
    if table.is_empty() {
        return Ok(None);
    }
    toml::to_string(&table).map(Some).map_err(|e| e.to_string())
}

/// Applies the weeks and days; returns how many chats (or the global list)
/// changed. A week the calendar refuses (say, overlapping intervals) is
/// reported and skipped: the chat keeps its hours, the pull goes on.
pub(super) fn apply(
    conn: &Connection,
    batch: &CalendarBatch,
    config: &Config,
    now: i64,
) -> Result<usize, PullError> {
    let mut applied = 0;
    let fail = |chat: i64, reason: String| PullError::Apply {
        table: "working_schedules",
        key: chat.to_string(),
        reason,
    };
    for (&chat, week) in &batch.weeks {
        if chats::get(conn, chat)?.is_none() {
            chats::ensure(conn, chat, "", "postgres", now)
                .map_err(|e| fail(chat, e.to_string()))?;
        }
        let old = chats::calendar(conn, chat)?;
        let text = match snippet_with(old.as_deref(), week.as_ref()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(
                    chat,
                    "sync: cannot merge the weekly hours from Postgres into chat {chat}'s calendar: {e}"
                );
                continue;
            }
        };
        match chats::set_calendar(
            conn,
            chat,
            text.as_deref(),
            &config.calendar,
            &config.base_dir(),
            None,
            "postgres",
            now,
        ) {
            Ok(changed) => applied += usize::from(changed),
            Err(SettingsError::Calendar(problems)) => {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                tracing::warn!(
                    chat,
                    "sync: the weekly hours of chat {chat} in Postgres are not valid, keeping the current ones: {}",
                    list.join("; ")
                );
            }
            Err(e) => return Err(fail(chat, e.to_string())),
        }
    }
    if let Some(days) = &batch.global_days {
        applied += usize::from(holidays::replace(
            conn,
            holidays::GLOBAL,
            days,
            "postgres",
            now,
        )?);
    }
    let mut chats_with_days: BTreeSet<i64> = batch.chat_days.keys().copied().collect();
    if batch.full {
        // Chats whose days were all removed while the cursor was not
        // trusted.
        chats_with_days.extend(
            holidays::all(conn)?
                .into_keys()
                .filter(|&c| c != holidays::GLOBAL),
        );
    }
    for chat in chats_with_days {
        let days = batch.chat_days.get(&chat).map(Vec::as_slice).unwrap_or(&[]);
        applied += usize::from(holidays::replace(conn, chat, days, "postgres", now)?);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_week_replaces_the_week_and_zone_and_keeps_other_keys() {
        let week = Week {
            timezone: "Asia/Yekaterinburg".into(),
            days: [
                vec!["09:00-13:00".into(), "14:00-18:00".into()],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
                vec![],
            ],
        };
        let old = "[calendar]\ntimezone = \"Europe/Moscow\"\nholidays = [\"2026-12-31\"]\n";
        let text = snippet_with(Some(old), Some(&week)).unwrap().unwrap();
        let t: toml::Table = text.parse().unwrap();
        assert_eq!(t["timezone"].as_str(), Some("Asia/Yekaterinburg"));
        assert_eq!(t["week"]["mon"].as_array().unwrap().len(), 2);
        assert_eq!(t["week"]["tue"].as_array().unwrap().len(), 0);
        assert_eq!(t["holidays"].as_array().unwrap().len(), 1);
        // No interval left in Postgres: the configuration's week again.
        let back = snippet_with(Some(&text), None).unwrap().unwrap();
        assert!(!back.contains("week") && back.contains("holidays"));
        assert_eq!(snippet_with(Some("week = {}"), None).unwrap(), None);
    }
}
