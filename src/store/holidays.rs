//! Days off and extra working days brought down from Postgres
//! (`global_holidays` as chat 0, `chat_holidays` per chat), laid over the
//! configured calendars by the engine. Only the pull writes them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{Connection, params};
use serde_json::json;

use super::settings::{self, Change};

/// The chat id global days are kept under.
pub const GLOBAL: i64 = 0;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub date: NaiveDate,
    /// A worked day the week says is off (else a day off).
    pub workday: bool,
    pub title: String,
}

/// Every stored day, per chat (0: every chat).
pub fn all(conn: &Connection) -> super::Result<BTreeMap<i64, Vec<Day>>> {
    read(conn, None)
}

/// The days of `chat` only, or of every chat.
fn read(conn: &Connection, chat: Option<i64>) -> super::Result<BTreeMap<i64, Vec<Day>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT chat_id, date, kind, title FROM holidays
         WHERE ?1 IS NULL OR chat_id = ?1 ORDER BY chat_id, date",
    )?;
    let mut out: BTreeMap<i64, Vec<Day>> = BTreeMap::new();
    let rows = stmt.query_map([chat], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (chat, date, kind, title) = row?;
        // Written by the pull from Postgres' date columns only.
        let Ok(date) = NaiveDate::parse_from_str(&date, "%Y-%m-%d") else {
            continue;
        };
        out.entry(chat).or_default().push(Day {
            date,
            workday: kind == "workday",
            title,
        });
    }
    Ok(out)
}

/// Replaces the days of `chat` (0: the global ones) with `days`; records the
/// change (the engine reloads) when they differ. Returns whether they did.
pub fn replace(
    conn: &Connection,
    chat: i64,
    days: &[Day],
    by: &str,
    now: i64,
) -> super::Result<bool> {
    let mut old = read(conn, Some(chat))?.remove(&chat).unwrap_or_default();
    old.sort();
    let mut new = days.to_vec();
    new.sort();
    new.dedup_by(|a, b| a.date == b.date);
    if old == new {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM holidays WHERE chat_id = ?1")?
        .execute([chat])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO holidays (chat_id, date, kind, title) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for d in &new {
        insert.execute(params![
            chat,
            d.date.format("%Y-%m-%d").to_string(),
            if d.workday { "workday" } else { "holiday" },
            d.title
        ])?;
    }
    let whose = if chat == GLOBAL {
        "global days off".to_string()
    } else {
        format!("days off of chat {chat}")
    };
    settings::record(
        conn,
        Change {
            by,
            entity: "holidays",
            key: chat.to_string(),
            what: format!("{whose} replaced ({} → {} days)", old.len(), new.len()),
            old: json!(old.iter().map(|d| d.date.to_string()).collect::<Vec<_>>()),
            new: json!(new.iter().map(|d| d.date.to_string()).collect::<Vec<_>>()),
        },
        now,
    )?;
    Ok(true)
}
