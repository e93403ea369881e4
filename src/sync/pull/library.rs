//! Reply templates and FAQ entries pulled from Postgres, keyed by its uuid
//! (`pg_id`). A local template of the same name that never came from
//! Postgres is adopted rather than doubled. A full refetch removes what
//! came from Postgres and is no longer there.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use tokio_postgres::Transaction;

use super::calendar::Args;
use super::{NEWER, PullError};
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct PgTemplate {
    pub id: String,
    pub title: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct PgFaq {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub keywords: Vec<String>,
    pub active: bool,
}

#[derive(Debug, Default)]
pub struct LibraryBatch {
    pub templates: Vec<PgTemplate>,
    pub faq: Vec<PgFaq>,
    /// uuids deleted upstream: templates, FAQ entries.
    pub deleted_templates: Vec<String>,
    pub deleted_faq: Vec<String>,
    /// A full refetch: the lists are complete.
    pub full: bool,
}

pub(super) async fn read(
    tx: &Transaction<'_>,
    args: &Args<'_>,
    full: bool,
    deletions: &[(String, serde_json::Value, i64)],
    top: &mut i64,
) -> Result<LibraryBatch, tokio_postgres::Error> {
    let mut batch = LibraryBatch {
        full,
        ..LibraryBatch::default()
    };
    for r in tx
        .query_typed(
            &format!(
                "SELECT id::text, title, content, row_version FROM public.templates
                 WHERE {NEWER} AND updated_by IS DISTINCT FROM $4 ORDER BY row_version"
            ),
            args,
        )
        .await?
    {
        *top = (*top).max(r.get(3));
        batch.templates.push(PgTemplate {
            id: r.get(0),
            title: r.get(1),
            content: r.get(2),
        });
    }
    for r in tx
        .query_typed(
            &format!(
                "SELECT id::text, question, answer, keywords, is_active, row_version
                 FROM public.faq_items
                 WHERE {NEWER} AND updated_by IS DISTINCT FROM $4 ORDER BY row_version"
            ),
            args,
        )
        .await?
    {
        *top = (*top).max(r.get(5));
        batch.faq.push(PgFaq {
            id: r.get(0),
            question: r.get(1),
            answer: r.get(2),
            keywords: r.get(3),
            active: r.get(4),
        });
    }
    let id_of = |old: &serde_json::Value| old.get("id")?.as_str().map(str::to_string);
    for (table, old, _) in deletions {
        match table.as_str() {
            "templates" => batch.deleted_templates.extend(id_of(old)),
            "faq_items" => batch.deleted_faq.extend(id_of(old)),
            _ => {}
        }
    }
    Ok(batch)
}

fn stored_ids(conn: &Connection, table: &str) -> Result<BTreeSet<String>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT pg_id FROM {table} WHERE pg_id IS NOT NULL"
    ))?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Applies the batch; returns how many rows changed.
pub(super) fn apply(conn: &Connection, b: &LibraryBatch, now: i64) -> Result<usize, PullError> {
    let mut applied = 0;
    let mut gone_t: BTreeSet<String> = b.deleted_templates.iter().cloned().collect();
    let mut gone_f: BTreeSet<String> = b.deleted_faq.iter().cloned().collect();
    if b.full {
        let seen: BTreeSet<&str> = b.templates.iter().map(|t| t.id.as_str()).collect();
        gone_t.extend(
            stored_ids(conn, "templates")?
                .into_iter()
                .filter(|i| !seen.contains(i.as_str())),
        );
        let seen: BTreeSet<&str> = b.faq.iter().map(|f| f.id.as_str()).collect();
        gone_f.extend(
            stored_ids(conn, "faq_items")?
                .into_iter()
                .filter(|i| !seen.contains(i.as_str())),
        );
    }
    for id in &gone_t {
        applied += conn
            .prepare_cached("DELETE FROM templates WHERE pg_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(StoreError::from)?;
    }
    for id in &gone_f {
        applied += conn
            .prepare_cached("DELETE FROM faq_items WHERE pg_id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(StoreError::from)?;
    }
    for t in &b.templates {
        applied += template(conn, t, now).map_err(StoreError::from)?;
    }
    for f in &b.faq {
        let keywords = f.keywords.join(", ");
        applied += conn
            .prepare_cached(
                "INSERT INTO faq_items (pg_id, question, answer, keywords, enabled, created_at,
                                        updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (pg_id) DO UPDATE SET question = excluded.question,
                     answer = excluded.answer, keywords = excluded.keywords,
                     enabled = excluded.enabled, updated_at = excluded.updated_at
                 WHERE (question, answer, keywords, enabled)
                       IS NOT (excluded.question, excluded.answer, excluded.keywords,
                               excluded.enabled)",
            )
            .and_then(|mut s| {
                s.execute(params![f.id, f.question, f.answer, keywords, f.active, now])
            })
            .map_err(StoreError::from)?;
    }
    Ok(applied)
}

/// One template: by its uuid, else a local one of that name is adopted.
fn template(conn: &Connection, t: &PgTemplate, now: i64) -> rusqlite::Result<usize> {
    let mine: Option<i64> = conn
        .query_row(
            "SELECT id FROM templates WHERE pg_id = ?1
             UNION ALL SELECT id FROM templates WHERE name = ?2 AND pg_id IS NULL LIMIT 1",
            params![t.id, t.title],
            |r| r.get(0),
        )
        .optional()?;
    // Another template from Postgres holds the name (renames crossing in
    // one batch): it gives way, its own row follows in the batch.
    conn.execute(
        "UPDATE templates SET name = name || ' (' || pg_id || ')'
         WHERE name = ?1 AND pg_id IS NOT NULL AND pg_id <> ?2",
        params![t.title, t.id],
    )?;
    match mine {
        Some(id) => conn.execute(
            "UPDATE templates SET pg_id = ?2, name = ?3, body = ?4, updated_at = ?5
             WHERE id = ?1 AND (pg_id IS NOT ?2 OR name IS NOT ?3 OR body IS NOT ?4)",
            params![id, t.id, t.title, t.content, now],
        ),
        None => conn.execute(
            "INSERT INTO templates (pg_id, name, body, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![t.id, t.title, t.content, now],
        ),
    }
}
