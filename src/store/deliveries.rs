//! The `alert_deliveries` table: one row per (alert, recipient, channel),
//! and every state change of a delivery.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Result;
use super::codec::column;

const TABLE: &str = "alert_deliveries";

/// The channel an alert leaves through; stored in `alert_deliveries.sink`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Telegram,
    Email,
    Log,
}
crate::stored_enum!(Channel, "channel", {
    Telegram => "telegram", Email => "email", Log => "log",
});

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// Handed to the Telegram outbound queue; waiting for Telegram's
    /// confirmation (the sender then marks it sent or failed).
    Queued,
    /// The channel accepted it (Telegram: confirmed, with its message id).
    Sent,
    /// A transient failure; tried again at `next_attempt_at`.
    Retrying,
    /// A permanent failure (`failure_reason`); never tried again.
    Failed,
    /// Still failing at the deadline; never tried again.
    GivenUp,
}
crate::stored_enum!(DeliveryStatus, "delivery status", {
    Pending => "pending", Queued => "queued", Sent => "sent",
    Retrying => "retrying", Failed => "failed", GivenUp => "given_up",
});

/// A delivery of an alert to one recipient through one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub alert_id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub last_error: Option<String>,
    pub failure_reason: Option<String>,
    pub outbound_id: Option<i64>,
    pub telegram_message_id: Option<i64>,
}

const COLUMNS: &str = "id, alert_id, sink, recipient, status, attempts, next_attempt_at, \
     created_at, last_error, failure_reason, outbound_id, telegram_message_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(0)?,
        alert_id: r.get(1)?,
        channel: column(r, 2, TABLE, "sink")?,
        recipient: r.get(3)?,
        status: column(r, 4, TABLE, "status")?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        created_at: r.get(7)?,
        last_error: r.get(8)?,
        failure_reason: r.get(9)?,
        outbound_id: r.get(10)?,
        telegram_message_id: r.get(11)?,
    })
}

/// Records a delivery unless (alert, channel, recipient) already has one.
pub fn insert(
    conn: &Connection,
    alert_id: i64,
    channel: Channel,
    recipient: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_deliveries (alert_id, sink, recipient, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![alert_id, channel, recipient, now])?;
    Ok(())
}

/// Deliveries waiting for an attempt at or before `now` (never queued
/// Telegram ones: the outbound sender owns those).
pub fn due(conn: &Connection, now: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM alert_deliveries
         WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The earliest attempt the delivery loop has to make.
pub fn next_at(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT min(next_attempt_at) FROM alert_deliveries WHERE status IN ('pending', 'retrying')",
        [],
        |r| r.get(0),
    )?)
}

/// Deliveries not yet accepted by their channel (queued ones included).
pub fn pending_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM alert_deliveries WHERE status IN ('pending', 'queued', 'retrying')",
        [],
        |r| r.get(0),
    )?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<DeliveryRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM alert_deliveries WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// Records the outcome of one attempt of the delivery loop. `reason` is the
/// short label of a permanent failure or give-up.
pub fn record_attempt(
    conn: &Connection,
    id: i64,
    status: DeliveryStatus,
    error: Option<&str>,
    reason: Option<&str>,
    next_attempt_at: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alert_deliveries SET status = ?2, attempts = attempts + 1, last_error = ?3,
             failure_reason = ?4, next_attempt_at = ?5,
             sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END
         WHERE id = ?1",
    )?
    .execute(params![id, status, error, reason, next_attempt_at, now])?;
    Ok(())
}

/// The delivery was handed to the Telegram queue as row `outbound_id`
/// (call in the transaction of the enqueue).
pub fn mark_queued(conn: &Connection, id: i64, outbound_id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alert_deliveries SET status = 'queued', attempts = attempts + 1,
             last_error = NULL, outbound_id = ?2
         WHERE id = ?1 AND status IN ('pending', 'retrying')",
    )?
    .execute(params![id, outbound_id])?;
    // A duplicate enqueue may find its message already settled (sent or
    // failed for good): the delivery takes that state, or it would wait
    // for a confirmation that never comes.
    conn.prepare_cached(
        "UPDATE alert_deliveries SET
             status = (SELECT CASE o.status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed'
                              ELSE 'given_up' END FROM outbound_messages o WHERE o.id = ?2),
             telegram_message_id = (SELECT o.telegram_message_id FROM outbound_messages o
                                    WHERE o.id = ?2),
             sent_at = (SELECT o.sent_at FROM outbound_messages o WHERE o.id = ?2)
         WHERE id = ?1 AND status = 'queued' AND EXISTS (
             SELECT 1 FROM outbound_messages o
             WHERE o.id = ?2 AND o.status IN ('sent', 'failed', 'given_up'))",
    )?
    .execute(params![id, outbound_id])?;
    Ok(())
}

/// Telegram confirmed outbound row `outbound_id` as `telegram_message_id`
/// (call in the transaction that marks the outbound row sent).
pub fn confirm_outbound(
    conn: &Connection,
    outbound_id: i64,
    telegram_message_id: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alert_deliveries SET status = 'sent', telegram_message_id = ?2, sent_at = ?3,
             last_error = NULL
         WHERE outbound_id = ?1",
    )?
    .execute(params![outbound_id, telegram_message_id, now])?;
    Ok(())
}

/// Outbound row `outbound_id` failed for good (`status` failed or
/// given_up) (call in the transaction that records it on the row).
pub fn fail_outbound(
    conn: &Connection,
    outbound_id: i64,
    status: DeliveryStatus,
    reason: &str,
    error: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alert_deliveries SET status = ?2, failure_reason = ?3, last_error = ?4
         WHERE outbound_id = ?1",
    )?
    .execute(params![outbound_id, status, reason, error])?;
    Ok(())
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

/// Deletes the deliveries of the alerts of the requests `ids` (retention,
/// before [`super::alerts::delete_for_requests`], so that they are counted).
pub fn delete_for_requests(conn: &Connection, ids: &[i64]) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM alert_deliveries WHERE alert_id IN (
                 SELECT id FROM sla_alerts
                 WHERE request_id IN (SELECT value FROM json_each(?1)))",
        )?
        .execute([super::id_list(ids)])?)
}
