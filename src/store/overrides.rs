//! Firm-wide settings changed in Postgres' `global_settings` that override
//! the configuration (`settings_overrides`: key → JSON value). Only the pull
//! writes them; the engine lays them over the configuration.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::settings::{self, Change};

/// Every override, by key.
pub fn all(conn: &Connection) -> super::Result<BTreeMap<String, Value>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM settings_overrides")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, v) = row?;
        // Written by `set` only, as JSON.
        if let Ok(v) = serde_json::from_str(&v) {
            out.insert(k, v);
        }
    }
    Ok(out)
}

pub fn get(conn: &Connection, key: &str) -> super::Result<Option<Value>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM settings_overrides WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Sets (`Some`) or removes `key`; records the change (the engine reloads)
/// when it is one. Returns whether it was.
pub fn set(
    conn: &Connection,
    key: &str,
    value: Option<&Value>,
    by: &str,
    now: i64,
) -> super::Result<bool> {
    let old = get(conn, key)?;
    if old.as_ref() == value {
        return Ok(false);
    }
    match value {
        Some(v) => conn
            .prepare_cached(
                "INSERT INTO settings_overrides (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![key, v.to_string(), now])?,
        None => conn
            .prepare_cached("DELETE FROM settings_overrides WHERE key = ?1")?
            .execute([key])?,
    };
    settings::record(
        conn,
        Change {
            by,
            entity: "global_settings",
            key: key.to_string(),
            what: format!(
                "firm-wide {key} {}",
                if value.is_some() {
                    "set"
                } else {
                    "back to the configuration's"
                }
            ),
            old: old.unwrap_or(Value::Null),
            new: value.cloned().unwrap_or(Value::Null),
        },
        now,
    )?;
    Ok(true)
}
