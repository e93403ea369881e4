//! The hot standby's replica, the Postgres side (`buhbot.replica`,
//! sql/postgres/0006_replica.sql): the push's statements for replica
//! entries, and the read a standby does when it takes over. The SQLite
//! side (which tables, the triggers, the rebuild) is
//! [`crate::store::replica`].

use tokio_postgres::Transaction;
use tokio_postgres::types::Type;

use super::pg::{Connector, PgError};
use crate::store::replica::Row;

/// A replicated row on its way up: its entry key split into table and
/// primary key (a JSON array), and the row as a JSON object's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Up {
    pub table: String,
    pub pk: String,
    pub row: String,
}

/// A replicated row's key on its way up (a delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    pub table: String,
    pub pk: String,
}

/// Writes rows as they are now. No version guard: only the daemon holding
/// the standby lock pushes here, in order, reading each row at push time,
/// so the last write is the current row (and a batch pushed twice after a
/// crash writes the same rows again).
pub async fn upsert(
    tx: &Transaction<'_>,
    rows: &[Up],
    versions: &[i64],
    schema: i32,
) -> Result<u64, tokio_postgres::Error> {
    let tbl: Vec<&str> = rows.iter().map(|r| r.table.as_str()).collect();
    let pk: Vec<&str> = rows.iter().map(|r| r.pk.as_str()).collect();
    let row: Vec<&str> = rows.iter().map(|r| r.row.as_str()).collect();
    let version = versions.to_vec();
    let n = tx
        .query_typed(
            "INSERT INTO buhbot.replica AS t (tbl, pk, row, store_schema, daemon_version, updated_at)
             SELECT u.tbl, u.pk, u.row::jsonb, $5, u.v, now()
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(tbl, pk, row, v)
             ON CONFLICT (tbl, pk) DO UPDATE
                 SET row = excluded.row, store_schema = excluded.store_schema,
                     daemon_version = excluded.daemon_version, updated_at = now()
             RETURNING 1",
            &[
                (&tbl, Type::TEXT_ARRAY),
                (&pk, Type::TEXT_ARRAY),
                (&row, Type::TEXT_ARRAY),
                (&version, Type::INT8_ARRAY),
                (&schema, Type::INT4),
            ],
        )
        .await?;
    Ok(n.len() as u64)
}

pub async fn delete(tx: &Transaction<'_>, gone: &[Gone]) -> Result<u64, tokio_postgres::Error> {
    let tbl: Vec<&str> = gone.iter().map(|r| r.table.as_str()).collect();
    let pk: Vec<&str> = gone.iter().map(|r| r.pk.as_str()).collect();
    let n = tx
        .query_typed(
            "DELETE FROM buhbot.replica t USING unnest($1::text[], $2::text[]) AS u(tbl, pk)
             WHERE t.tbl = u.tbl AND t.pk = u.pk RETURNING 1",
            &[(&tbl, Type::TEXT_ARRAY), (&pk, Type::TEXT_ARRAY)],
        )
        .await?;
    Ok(n.len() as u64)
}

/// What the read of the replica sends, in order: one `Header`, the rows,
/// then `End`; or `Failed` at any point. A channel that closes without
/// `End` is a failed read too.
#[derive(Debug)]
pub enum Item {
    Header { rows: i64, schema: i64 },
    Row(Row),
    End,
    Failed(String),
}

/// Streams the whole replica into `to` (bounded: the store writes as it
/// reads, so memory stays flat however large the replica), in one
/// repeatable-read snapshot: nobody writes while this daemon holds the
/// lock, but a snapshot costs nothing and rules out a torn read.
pub async fn read(connector: &Connector, to: tokio::sync::mpsc::Sender<Item>) {
    if let Err(e) = read_into(connector, &to).await {
        let _ = to.send(Item::Failed(e.to_string())).await;
    }
}

async fn read_into(
    connector: &Connector,
    to: &tokio::sync::mpsc::Sender<Item>,
) -> Result<(), PgError> {
    use futures_util::TryStreamExt;
    let err = |what: &str, e| connector.query_error(what, e);
    let mut client = connector
        .connect(&super::pg::Login::daemon(connector.settings()))
        .await?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| err("starting the replica read", e))?;
    let head = tx
        .query_typed(
            "SELECT count(*), coalesce(max(store_schema), 0)::bigint FROM buhbot.replica",
            &[],
        )
        .await
        .map_err(|e| err("reading the replica", e))?;
    let (rows, schema): (i64, i64) = (head[0].get(0), head[0].get(1));
    if to.send(Item::Header { rows, schema }).await.is_err() {
        return Ok(());
    }
    let stream = tx
        .query_typed_raw(
            "SELECT tbl, row::text FROM buhbot.replica",
            std::iter::empty::<(&(dyn tokio_postgres::types::ToSql + Sync), Type)>(),
        )
        .await
        .map_err(|e| err("reading the replica", e))?;
    let mut stream = std::pin::pin!(stream);
    while let Some(r) = stream
        .try_next()
        .await
        .map_err(|e| err("reading the replica", e))?
    {
        let table: String = r.get(0);
        let text: String = r.get(1);
        // The push writes json_object(): always an object.
        let Ok(serde_json::Value::Object(row)) = serde_json::from_str(&text) else {
            let _ = to
                .send(Item::Failed(format!("a {table} row is not a JSON object")))
                .await;
            return Ok(());
        };
        if to.send(Item::Row(Row { table, row })).await.is_err() {
            return Ok(());
        }
    }
    tx.commit()
        .await
        .map_err(|e| err("ending the replica read", e))?;
    let _ = to.send(Item::End).await;
    Ok(())
}
