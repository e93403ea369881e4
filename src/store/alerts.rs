//! The `sla_alerts` table: fired alerts (their deliveries: [`super::deliveries`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, codec};
use crate::domain::sla::{AlertKind, Resolution, SlaClock};

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
        .execute([super::id_list(ids)])?)
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
    pub threshold_minutes: i64,
    pub deadline_at: Option<i64>,
    pub due_at: i64,
}

impl AlertContext {
    /// The request's SLA clock, as stored with it.
    pub fn clock(&self) -> SlaClock {
        SlaClock::stored(
            self.anchor_at,
            self.anchor_used_seconds,
            self.threshold_minutes,
            self.deadline_at,
        )
    }
}

pub fn context(conn: &Connection, alert_id: i64) -> Result<Option<AlertContext>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.kind, a.level, r.id, r.chat_id, r.message_id, r.client_id,
                    r.received_at, r.anchor_at, r.anchor_used_seconds, a.due_at,
                    r.threshold_minutes, r.deadline_at
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
                threshold_minutes: r.get(11)?,
                deadline_at: r.get(12)?,
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
