//! Staff reply templates (`templates`): name, body, usage counter.
//! Templates pulled from Postgres carry its uuid (`pg_id`); a local one
//! of the same name is adopted by the pull rather than doubled.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub body: String,
    pub usage_count: i64,
    pub pg_id: Option<String>,
}

const COLUMNS: &str = "id, name, body, usage_count, pg_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<TemplateRow> {
    Ok(TemplateRow {
        id: r.get(0)?,
        name: r.get(1)?,
        body: r.get(2)?,
        usage_count: r.get(3)?,
        pg_id: r.get(4)?,
    })
}

/// Every template, by name.
pub fn list(conn: &Connection) -> Result<Vec<TemplateRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM templates ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The template called `name`: exactly, else ignoring case (staff type
/// `/t привет` for "Привет"; SQLite's NOCASE folds ASCII only).
pub fn find(conn: &Connection, name: &str) -> Result<Option<TemplateRow>> {
    let name = name.trim();
    let exact = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM templates WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()?;
    if exact.is_some() {
        return Ok(exact);
    }
    let wanted = name.to_lowercase();
    Ok(list(conn)?
        .into_iter()
        .find(|t| t.name.to_lowercase() == wanted))
}

/// Adds a template; an existing name is an error, not a replacement.
pub fn add(
    conn: &Connection,
    name: &str,
    body: &str,
    by: Option<i64>,
    now: i64,
) -> Result<TemplateRow> {
    let name = name.trim();
    if find(conn, name)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a template named {name:?} exists already (remove it first)"
        )));
    }
    conn.prepare_cached(
        "INSERT INTO templates (name, body, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![name, body, by, now])?;
    find(conn, name)?.ok_or_else(|| StoreError::NotFound(format!("template {name:?}")))
}

/// Removes the template called `name`; the removed row.
pub fn remove(conn: &Connection, name: &str) -> Result<TemplateRow> {
    let row = find(conn, name)?
        .ok_or_else(|| StoreError::NotFound(format!("no template named {:?}", name.trim())))?;
    conn.prepare_cached("DELETE FROM templates WHERE id = ?1")?
        .execute([row.id])?;
    Ok(row)
}

/// Counts one use.
pub fn count_use(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE templates SET usage_count = usage_count + 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
