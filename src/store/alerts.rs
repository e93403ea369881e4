//! Fired alerts and their deliveries.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, codec};
use crate::domain::sla::{AlertKind, Resolution};

stored_enum!(AlertKind, "alert kind", {
    Warning => "warning",
    Breach => "breach",
    Escalation => "escalation",
});

stored_enum!(Resolution, "alert resolution", {
    Answered => "answered",
    Resolved => "resolved",
    Expired => "expired",
});

/// Records a fired alert; `None` if (request, kind, level) already fired.
pub fn insert(
    conn: &Connection,
    request_id: i64,
    kind: AlertKind,
    level: i64,
    due_at: i64,
    fired_at: i64,
) -> Result<Option<i64>> {
    let n = conn
        .prepare_cached(
            "INSERT INTO sla_alerts (request_id, kind, level, due_at, fired_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?
        .execute(params![request_id, kind, level, due_at, fired_at])?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// (kind, level) of the alerts a request already got.
pub fn fired_for_request(conn: &Connection, request_id: i64) -> Result<Vec<(AlertKind, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT kind, level FROM sla_alerts WHERE request_id = ?1")?;
    let rows = stmt.query_map([request_id], |r| {
        Ok((codec::column(r, 0, "sla_alerts", "kind")?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a request's fired alerts with how the request ended.
pub fn resolve_for_request(
    conn: &Connection,
    request_id: i64,
    resolution: Resolution,
    by: Option<i64>,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sla_alerts SET resolution = ?2, acknowledged_by = coalesce(acknowledged_by, ?3),
             acknowledged_at = coalesce(acknowledged_at, ?4)
         WHERE request_id = ?1 AND resolution IS NULL",
    )?
    .execute(params![request_id, resolution, by, at])?;
    Ok(())
}

/// Deletes the alerts of the requests `ids` (retention).
pub fn delete_for_requests(conn: &Connection, ids: &[i64]) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM sla_alerts WHERE request_id IN (SELECT value FROM json_each(?1))",
        )?
        .execute([super::retention::id_list(ids)])?)
}

/// Deletes the deliveries of the alerts of the requests `ids` (retention,
/// before [`delete_for_requests`], so that they are counted).
pub fn delete_deliveries_for_requests(conn: &Connection, ids: &[i64]) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM alert_deliveries WHERE alert_id IN (
                 SELECT id FROM sla_alerts
                 WHERE request_id IN (SELECT value FROM json_each(?1)))",
        )?
        .execute([super::retention::id_list(ids)])?)
}

/// The request a delivery's alert is about.
pub fn request_of_delivery(conn: &Connection, delivery_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.request_id FROM alert_deliveries d JOIN sla_alerts a ON a.id = d.alert_id
             WHERE d.id = ?1",
        )?
        .query_row([delivery_id], |r| r.get(0))
        .optional()?)
}

/// A delivery of an alert to one recipient through one sink.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub alert_id: i64,
    pub sink: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

pub fn insert_delivery(
    conn: &Connection,
    alert_id: i64,
    sink: &str,
    recipient: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_deliveries (alert_id, sink, recipient, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![alert_id, sink, recipient, now])?;
    Ok(())
}

/// Deliveries waiting for an attempt at or before `now`.
pub fn due_deliveries(conn: &Connection, now: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, alert_id, sink, recipient, status, attempts, next_attempt_at, created_at
         FROM alert_deliveries
         WHERE status IN ('pending', 'failed') AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(DeliveryRow {
            id: r.get(0)?,
            alert_id: r.get(1)?,
            sink: r.get(2)?,
            recipient: r.get(3)?,
            status: r.get(4)?,
            attempts: r.get(5)?,
            next_attempt_at: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The earliest pending attempt.
pub fn next_delivery_at(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT min(next_attempt_at) FROM alert_deliveries WHERE status IN ('pending', 'failed')",
        [],
        |r| r.get(0),
    )?)
}

pub fn pending_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM alert_deliveries WHERE status IN ('pending', 'failed')",
        [],
        |r| r.get(0),
    )?)
}

/// Records the outcome of an attempt.
pub fn record_attempt(
    conn: &Connection,
    id: i64,
    status: &str,
    error: Option<&str>,
    next_attempt_at: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alert_deliveries SET status = ?2, attempts = attempts + 1, last_error = ?3,
             next_attempt_at = ?4, sent_at = CASE WHEN ?2 = 'sent' THEN ?5 ELSE sent_at END
         WHERE id = ?1",
    )?
    .execute(params![id, status, error, next_attempt_at, now])?;
    Ok(())
}

/// What a delivery needs to render its text.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertContext {
    pub alert_id: i64,
    pub kind: AlertKind,
    pub level: i64,
    pub request_id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    pub client_id: i64,
    pub received_at: i64,
    pub anchor_at: i64,
    pub anchor_used_seconds: i64,
    pub due_at: i64,
}

pub fn context(conn: &Connection, alert_id: i64) -> Result<Option<AlertContext>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.kind, a.level, r.id, r.chat_id, r.message_id, r.client_id,
                    r.received_at, r.anchor_at, r.anchor_used_seconds, a.due_at
             FROM sla_alerts a JOIN client_requests r ON r.id = a.request_id WHERE a.id = ?1",
        )?
        .query_row([alert_id], |r| {
            Ok(AlertContext {
                alert_id: r.get(0)?,
                kind: codec::column(r, 1, "sla_alerts", "kind")?,
                level: r.get(2)?,
                request_id: r.get(3)?,
                chat_id: r.get(4)?,
                message_id: r.get(5)?,
                client_id: r.get(6)?,
                received_at: r.get(7)?,
                anchor_at: r.get(8)?,
                anchor_used_seconds: r.get(9)?,
                due_at: r.get(10)?,
            })
        })
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::StoredEnum;

    /// The metrics catalogue (a utility below the store) lists the label
    /// values of `buhbot_alerts_total` by hand: they must stay the stored
    /// spelling of every kind, in order.
    #[test]
    fn the_metric_labels_are_the_stored_alert_kinds() {
        let stored: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(stored, crate::metrics::catalogue::ALERT_KINDS);
    }
}
