//! The statements that put the daemon's rows into Postgres: one statement
//! per table and batch (columns passed as arrays and `unnest`ed), each an
//! idempotent upsert on the row's natural key. Rows the daemon versions
//! apply only when newer (`daemon_version`), so a batch pushed twice (a
//! crash between the Postgres commit and the local one) changes nothing.
//!
//! Unnamed statements only (`query_typed`): a transaction-mode pooler has
//! no named prepared statements.

use tokio_postgres::Transaction;
use tokio_postgres::types::{ToSql, Type};

use crate::store::sync_rows::{
    AlertRow, ChatRow, DeliveryRow, MessageRow, RequestRow, UserRow, VotePlace, VoteRow,
};

type Param<'a> = (&'a (dyn ToSql + Sync), Type);

async fn exec(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, tokio_postgres::Error> {
    let rows = tx.query_typed(sql, params).await?;
    Ok(rows.len() as u64)
}

/// Telegram ids as the original keeps managers: text.
fn texts(ids: &[i64]) -> Vec<String> {
    ids.iter().map(i64::to_string).collect()
}

/// Postgres' row stays when a person edited it after the local change
/// (`u.edited`: the local row's `updated_at`): the later edit wins, a tie goes to
/// Postgres, as the pull decides (sync::pull). Rows this daemon wrote last
/// are always its to overwrite.
const NOT_LATER_EDITED: &str = "(t.updated_by IS NULL
        OR t.updated_by = current_setting('buhbot.origin', true)
        OR floor(extract(epoch FROM t.updated_at))::bigint < u.edited)";

pub async fn users(tx: &Transaction<'_>, rows: &[UserRow]) -> Result<u64, tokio_postgres::Error> {
    let id: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let name: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let username: Vec<Option<&str>> = rows.iter().map(|r| r.username.as_deref()).collect();
    let role: Vec<&str> = rows.iter().map(|r| r.role.as_str()).collect();
    let email: Vec<Option<&str>> = rows.iter().map(|r| r.email.as_deref()).collect();
    let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    let edited: Vec<i64> = rows.iter().map(|r| r.updated_at).collect();
    exec(
        tx,
        &format!(
            "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],
                                             $5::text[], $6::bigint[], $7::bigint[])
                        AS u(tid, name, username, role, email, created, edited))
             INSERT INTO public.users AS t (telegram_id, full_name, telegram_username, role,
                                            email, is_active, created_at)
             SELECT u.tid, u.name, u.username, u.role, u.email, true, to_timestamp(u.created)
             FROM u
             ON CONFLICT (telegram_id) DO UPDATE
                 SET full_name = excluded.full_name,
                     telegram_username = excluded.telegram_username, role = excluded.role,
                     email = coalesce(excluded.email, t.email), is_active = true
                 WHERE (t.full_name, t.telegram_username, t.role, t.email, t.is_active)
                       IS DISTINCT FROM (excluded.full_name, excluded.telegram_username,
                                         excluded.role, coalesce(excluded.email, t.email), true)
                   AND (SELECT {NOT_LATER_EDITED} FROM u WHERE u.tid = t.telegram_id)
             RETURNING 1"
        ),
        &[
            (&id, Type::INT8_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&username, Type::TEXT_ARRAY),
            (&role, Type::TEXT_ARRAY),
            (&email, Type::TEXT_ARRAY),
            (&created, Type::INT8_ARRAY),
            (&edited, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// A user removed here is removed there (rows that name him keep their
/// history: the references are ON DELETE SET NULL).
pub async fn delete_users(tx: &Transaction<'_>, ids: &[i64]) -> Result<u64, tokio_postgres::Error> {
    let ids = ids.to_vec();
    exec(
        tx,
        "DELETE FROM public.users WHERE telegram_id = ANY($1::bigint[]) RETURNING 1",
        &[(&ids, Type::INT8_ARRAY)],
    )
    .await
}

/// `default_threshold`: the configuration's SLA threshold, for chats that
/// use the default (Postgres has no "default" for the column).
pub async fn chats(
    tx: &Transaction<'_>,
    rows: &[ChatRow],
    version: &[i64],
    default_threshold: i64,
) -> Result<u64, tokio_postgres::Error> {
    let id: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let kind: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let title: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    let invite: Vec<Option<&str>> = rows.iter().map(|r| r.invite_link.as_deref()).collect();
    let monitored: Vec<bool> = rows.iter().map(|r| r.monitored).collect();
    let sla: Vec<bool> = rows.iter().map(|r| r.sla_enabled).collect();
    let threshold: Vec<i64> = rows
        .iter()
        .map(|r| r.threshold_minutes.unwrap_or(default_threshold))
        .collect();
    let warning: Vec<Option<i64>> = rows.iter().map(|r| r.warning_percent).collect();
    let interval: Vec<Option<i64>> = rows.iter().map(|r| r.escalation_interval_minutes).collect();
    let max_esc: Vec<Option<i64>> = rows.iter().map(|r| r.max_escalations).collect();
    let migrated: Vec<Option<i64>> = rows.iter().map(|r| r.migrated_to).collect();
    // Arrays of arrays do not unnest row by row: the staff go as JSON.
    let acc: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.accountants).unwrap_or_default())
        .collect();
    let acc_names: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.accountant_usernames).unwrap_or_default())
        .collect();
    let mgr: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&texts(&r.managers)).unwrap_or_default())
        .collect();
    let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    let version = version.to_vec();
    let edited: Vec<i64> = rows.iter().map(|r| r.updated_at).collect();
    exec(
        tx,
        &format!(
            "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[],
                     $6::bool[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
                     $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[])
              AS u(id, kind, title, invite, monitored, sla, threshold, warning, interval, max_esc,
                   migrated, acc, acc_names, mgr, created, v, edited))
         INSERT INTO public.chats AS t (id, chat_type, title, invite_link, monitoring_enabled,
                 sla_enabled, sla_threshold_minutes, sla_warning_percent,
                 escalation_interval_minutes, max_escalations, migrated_to, is_migrated,
                 accountant_telegram_ids, accountant_usernames, manager_telegram_ids,
                 created_at, daemon_version, deleted_at)
         SELECT u.id, u.kind, u.title, u.invite, u.monitored, u.sla, u.threshold, u.warning,
                u.interval, u.max_esc, u.migrated, u.migrated IS NOT NULL,
                ARRAY(SELECT jsonb_array_elements_text(u.acc::jsonb)::bigint),
                ARRAY(SELECT jsonb_array_elements_text(u.acc_names::jsonb)),
                ARRAY(SELECT jsonb_array_elements_text(u.mgr::jsonb)),
                to_timestamp(u.created), u.v, NULL
         FROM u
         ON CONFLICT (id) DO UPDATE
             SET chat_type = excluded.chat_type, title = excluded.title,
                 invite_link = excluded.invite_link, monitoring_enabled = excluded.monitoring_enabled,
                 sla_enabled = excluded.sla_enabled,
                 sla_threshold_minutes = excluded.sla_threshold_minutes,
                 sla_warning_percent = excluded.sla_warning_percent,
                 escalation_interval_minutes = excluded.escalation_interval_minutes,
                 max_escalations = excluded.max_escalations, migrated_to = excluded.migrated_to,
                 is_migrated = excluded.is_migrated,
                 accountant_telegram_ids = excluded.accountant_telegram_ids,
                 accountant_usernames = excluded.accountant_usernames,
                 manager_telegram_ids = excluded.manager_telegram_ids,
                 daemon_version = excluded.daemon_version, deleted_at = NULL
             WHERE t.daemon_version < excluded.daemon_version
               AND (SELECT {NOT_LATER_EDITED} FROM u WHERE u.id = t.id)
         RETURNING 1"
        ),
        &[
            (&id, Type::INT8_ARRAY),
            (&kind, Type::TEXT_ARRAY),
            (&title, Type::TEXT_ARRAY),
            (&invite, Type::TEXT_ARRAY),
            (&monitored, Type::BOOL_ARRAY),
            (&sla, Type::BOOL_ARRAY),
            (&threshold, Type::INT8_ARRAY),
            (&warning, Type::INT8_ARRAY),
            (&interval, Type::INT8_ARRAY),
            (&max_esc, Type::INT8_ARRAY),
            (&migrated, Type::INT8_ARRAY),
            (&acc, Type::TEXT_ARRAY),
            (&acc_names, Type::TEXT_ARRAY),
            (&mgr, Type::TEXT_ARRAY),
            (&created, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
            (&edited, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// Rows of chats Postgres does not know yet, so that messages and requests
/// can reference them (a chat seen before anyone configured it). An
/// existing chat is left alone.
pub async fn ensure_chats(
    tx: &Transaction<'_>,
    ids: &[i64],
    default_threshold: i64,
) -> Result<u64, tokio_postgres::Error> {
    let ids = ids.to_vec();
    exec(
        tx,
        "INSERT INTO public.chats (id, chat_type, sla_enabled, sla_threshold_minutes)
         SELECT u.id, CASE WHEN u.id < -1000000000000 THEN 'supergroup'
                           WHEN u.id < 0 THEN 'group' ELSE 'private' END,
                true, $2
         FROM unnest($1::bigint[]) AS u(id)
         ON CONFLICT (id) DO NOTHING
         RETURNING 1",
        &[(&ids, Type::INT8_ARRAY), (&default_threshold, Type::INT8)],
    )
    .await
}

/// Chats removed here are marked deleted there: Postgres keeps their
/// history (a real delete would cascade to every request).
pub async fn delete_chats(tx: &Transaction<'_>, ids: &[i64]) -> Result<u64, tokio_postgres::Error> {
    let ids = ids.to_vec();
    exec(
        tx,
        "UPDATE public.chats SET deleted_at = now(), monitoring_enabled = false
         WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL RETURNING 1",
        &[(&ids, Type::INT8_ARRAY)],
    )
    .await
}

/// A group became a supergroup: its rows follow it. A row already under
/// the new id (pushed there before the move arrived) wins.
pub async fn move_chat(
    tx: &Transaction<'_>,
    old: i64,
    new: i64,
) -> Result<u64, tokio_postgres::Error> {
    let mut n = 0;
    for sql in [
        // Message ids negated, as the store moves them
        // (store::messages::move_chat): the supergroup numbers from 1.
        "DELETE FROM public.chat_messages o WHERE o.chat_id = $1 AND EXISTS (
             SELECT 1 FROM public.chat_messages x WHERE x.chat_id = $2
             AND x.message_id = -o.message_id AND x.edit_version = o.edit_version) RETURNING 1",
        "UPDATE public.chat_messages SET chat_id = $2, message_id = -message_id,
             reply_to_message_id = -reply_to_message_id WHERE chat_id = $1 RETURNING 1",
        "DELETE FROM public.client_requests o WHERE o.chat_id = $1 AND EXISTS (
             SELECT 1 FROM public.client_requests x WHERE x.chat_id = $2
             AND x.message_id = -o.message_id) RETURNING 1",
        "UPDATE public.client_requests SET chat_id = $2, message_id = -message_id,
             response_message_id = -response_message_id WHERE chat_id = $1 RETURNING 1",
        "UPDATE public.sla_alerts SET chat_id = $2 WHERE chat_id = $1 RETURNING 1",
        "UPDATE public.alert_deliveries SET chat_id = $2 WHERE chat_id = $1 RETURNING 1",
        "DELETE FROM public.feedback_responses o WHERE o.chat_id = $1 AND EXISTS (
             SELECT 1 FROM public.feedback_responses x WHERE x.chat_id = $2
             AND x.campaign = o.campaign AND x.telegram_user_id = o.telegram_user_id) RETURNING 1",
        "UPDATE public.feedback_responses SET chat_id = $2 WHERE chat_id = $1 RETURNING 1",
    ] {
        n += exec(tx, sql, &[(&old, Type::INT8), (&new, Type::INT8)]).await?;
    }
    Ok(n)
}

pub async fn messages(
    tx: &Transaction<'_>,
    rows: &[MessageRow],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let chat: Vec<i64> = rows.iter().map(|r| r.chat_id).collect();
    let msg: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let ev: Vec<i64> = rows.iter().map(|r| r.edit_version).collect();
    let date: Vec<i64> = rows.iter().map(|r| r.date).collect();
    let sender: Vec<Option<i64>> = rows.iter().map(|r| r.sender_id).collect();
    let kind: Vec<&str> = rows.iter().map(|r| r.sender_kind.as_str()).collect();
    let name: Vec<Option<&str>> = rows.iter().map(|r| r.sender_name.as_deref()).collect();
    let text: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let reply: Vec<Option<i64>> = rows.iter().map(|r| r.reply_to).collect();
    let mtype: Vec<&str> = rows
        .iter()
        .map(|r| match (r.service, r.has_media) {
            (true, _) => "service",
            (false, true) => "media",
            _ => "text",
        })
        .collect();
    let acc: Vec<bool> = rows.iter().map(|r| r.is_accountant).collect();
    let cat: Vec<Option<&str>> = rows.iter().map(|r| r.category.as_deref()).collect();
    let score: Vec<Option<f64>> = rows.iter().map(|r| r.confidence).collect();
    let version = version.to_vec();
    exec(
        tx,
        "INSERT INTO public.chat_messages AS t (chat_id, message_id, edit_version, telegram_date,
                 telegram_user_id, sender_kind, username, message_text, reply_to_message_id,
                 message_type, is_accountant, classification, classification_score, daemon_version)
         SELECT u.chat, u.msg, u.ev, to_timestamp(u.date), u.sender, u.kind, u.name, u.text,
                u.reply, u.mtype, u.acc, u.cat, u.score, u.v
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bool[],
                     $12::text[], $13::float8[], $14::bigint[])
              AS u(chat, msg, ev, date, sender, kind, name, text, reply, mtype, acc, cat, score, v)
         ON CONFLICT (chat_id, message_id, edit_version) DO UPDATE
             SET telegram_date = excluded.telegram_date, telegram_user_id = excluded.telegram_user_id,
                 sender_kind = excluded.sender_kind, username = excluded.username,
                 message_text = excluded.message_text,
                 reply_to_message_id = excluded.reply_to_message_id,
                 message_type = excluded.message_type, is_accountant = excluded.is_accountant,
                 classification = excluded.classification,
                 classification_score = excluded.classification_score,
                 daemon_version = excluded.daemon_version
             WHERE t.daemon_version < excluded.daemon_version
         RETURNING 1",
        &[
            (&chat, Type::INT8_ARRAY),
            (&msg, Type::INT8_ARRAY),
            (&ev, Type::INT8_ARRAY),
            (&date, Type::INT8_ARRAY),
            (&sender, Type::INT8_ARRAY),
            (&kind, Type::TEXT_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&text, Type::TEXT_ARRAY),
            (&reply, Type::INT8_ARRAY),
            (&mtype, Type::TEXT_ARRAY),
            (&acc, Type::BOOL_ARRAY),
            (&cat, Type::TEXT_ARRAY),
            (&score, Type::FLOAT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// buhbot's request status in the original's words: open is 'pending'
/// ('escalated' once breached), answered 'answered', resolved 'closed'.
fn request_status(r: &RequestRow) -> &'static str {
    match (r.status.as_str(), r.breached) {
        ("answered", _) => "answered",
        ("resolved", _) => "closed",
        (_, true) => "escalated",
        _ => "pending",
    }
}

pub async fn requests(
    tx: &Transaction<'_>,
    rows: &[RequestRow],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let chat: Vec<i64> = rows.iter().map(|r| r.chat_id).collect();
    let msg: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let text: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let name: Vec<Option<&str>> = rows.iter().map(|r| r.client_name.as_deref()).collect();
    let client: Vec<i64> = rows.iter().map(|r| r.client_id).collect();
    let received: Vec<i64> = rows.iter().map(|r| r.received_at).collect();
    let status: Vec<&str> = rows.iter().map(request_status).collect();
    let cat: Vec<&str> = rows.iter().map(|r| r.category.as_str()).collect();
    let score: Vec<f64> = rows.iter().map(|r| r.confidence).collect();
    let wm: Vec<Option<i64>> = rows.iter().map(|r| r.working_minutes).collect();
    let breached: Vec<bool> = rows.iter().map(|r| r.breached).collect();
    let breached_at: Vec<Option<i64>> = rows.iter().map(|r| r.breached_at).collect();
    let excess: Vec<Option<i64>> = rows.iter().map(|r| r.excess_minutes).collect();
    let answered_at: Vec<Option<i64>> = rows.iter().map(|r| r.answered_at).collect();
    let answered_by: Vec<Option<i64>> = rows.iter().map(|r| r.answered_by).collect();
    let answer_msg: Vec<Option<i64>> = rows.iter().map(|r| r.answer_message_id).collect();
    let threshold: Vec<i64> = rows.iter().map(|r| r.threshold_minutes).collect();
    let deadline: Vec<Option<i64>> = rows.iter().map(|r| r.deadline_at).collect();
    let version = version.to_vec();
    exec(
        tx,
        "INSERT INTO public.client_requests AS t (chat_id, message_id, message_text,
                 client_username, client_telegram_id, received_at, status, classification,
                 classification_score, classification_model, sla_timer_started_at,
                 sla_working_minutes, sla_breached, sla_breached_at, sla_excess_minutes,
                 response_at, response_time_minutes, responded_by_telegram_id, responded_by,
                 response_message_id, sla_threshold_minutes, sla_deadline_at, daemon_version)
         SELECT u.chat, u.msg, u.text, u.name, u.client, to_timestamp(u.received), u.status,
                u.cat, u.score, 'buhbot', to_timestamp(u.received), u.wm, u.breached,
                to_timestamp(u.breached_at), u.excess, to_timestamp(u.answered_at), u.wm,
                u.answered_by, (SELECT p.id FROM public.users p WHERE p.telegram_id = u.answered_by),
                u.answer_msg, u.threshold, to_timestamp(u.deadline), u.v
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[],
                     $6::bigint[], $7::text[], $8::text[], $9::float8[], $10::bigint[],
                     $11::bool[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],
                     $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[])
              AS u(chat, msg, text, name, client, received, status, cat, score, wm, breached,
                   breached_at, excess, answered_at, answered_by, answer_msg, threshold,
                   deadline, v)
         ON CONFLICT (chat_id, message_id) DO UPDATE
             SET message_text = excluded.message_text, client_username = excluded.client_username,
                 client_telegram_id = excluded.client_telegram_id,
                 received_at = excluded.received_at, status = excluded.status,
                 classification = excluded.classification,
                 classification_score = excluded.classification_score,
                 classification_model = excluded.classification_model,
                 sla_timer_started_at = excluded.sla_timer_started_at,
                 sla_working_minutes = excluded.sla_working_minutes,
                 sla_breached = excluded.sla_breached, sla_breached_at = excluded.sla_breached_at,
                 sla_excess_minutes = excluded.sla_excess_minutes,
                 response_at = excluded.response_at,
                 response_time_minutes = excluded.response_time_minutes,
                 responded_by_telegram_id = excluded.responded_by_telegram_id,
                 responded_by = excluded.responded_by,
                 response_message_id = excluded.response_message_id,
                 sla_threshold_minutes = excluded.sla_threshold_minutes,
                 sla_deadline_at = excluded.sla_deadline_at,
                 daemon_version = excluded.daemon_version
             WHERE t.daemon_version < excluded.daemon_version
         RETURNING 1",
        &[
            (&chat, Type::INT8_ARRAY),
            (&msg, Type::INT8_ARRAY),
            (&text, Type::TEXT_ARRAY),
            (&name, Type::TEXT_ARRAY),
            (&client, Type::INT8_ARRAY),
            (&received, Type::INT8_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&cat, Type::TEXT_ARRAY),
            (&score, Type::FLOAT8_ARRAY),
            (&wm, Type::INT8_ARRAY),
            (&breached, Type::BOOL_ARRAY),
            (&breached_at, Type::INT8_ARRAY),
            (&excess, Type::INT8_ARRAY),
            (&answered_at, Type::INT8_ARRAY),
            (&answered_by, Type::INT8_ARRAY),
            (&answer_msg, Type::INT8_ARRAY),
            (&threshold, Type::INT8_ARRAY),
            (&deadline, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// The original's alert_type of a stored alert kind: escalations are
/// breaches of a higher level in its model.
pub fn alert_type(kind: &str) -> &'static str {
    if kind == "warning" {
        "warning"
    } else {
        "breach"
    }
}

/// The original's resolution words.
fn resolved_action(resolution: Option<&str>) -> Option<&'static str> {
    match resolution? {
        "answered" => Some("accountant_responded"),
        "resolved" => Some("mark_resolved"),
        "expired" => Some("auto_expired"),
        _ => None,
    }
}

pub async fn alerts(
    tx: &Transaction<'_>,
    rows: &[AlertRow],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let chat: Vec<i64> = rows.iter().map(|r| r.chat_id).collect();
    let msg: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let atype: Vec<&str> = rows.iter().map(|r| alert_type(&r.kind)).collect();
    let level: Vec<i64> = rows.iter().map(|r| r.level).collect();
    let due: Vec<i64> = rows.iter().map(|r| r.due_at).collect();
    let fired: Vec<i64> = rows.iter().map(|r| r.fired_at).collect();
    let ack_by: Vec<Option<i64>> = rows.iter().map(|r| r.acknowledged_by).collect();
    let ack_at: Vec<Option<i64>> = rows.iter().map(|r| r.acknowledged_at).collect();
    let action: Vec<Option<&str>> = rows
        .iter()
        .map(|r| resolved_action(r.resolution.as_deref()))
        .collect();
    let dstatus: Vec<&str> = rows.iter().map(|r| r.delivery_status.as_str()).collect();
    let delivered: Vec<Option<i64>> = rows.iter().map(|r| r.delivered_at).collect();
    let tg: Vec<Option<i64>> = rows.iter().map(|r| r.telegram_message_id).collect();
    let version = version.to_vec();
    exec(
        tx,
        "INSERT INTO public.sla_alerts AS t (request_id, chat_id, alert_type, escalation_level,
                 due_at, alert_sent_at, acknowledged_by_telegram_id, acknowledged_by,
                 acknowledged_at, resolved_action, delivery_status, delivered_at,
                 telegram_message_id, minutes_elapsed, daemon_version)
         SELECT r.id, u.chat, u.atype, u.level, to_timestamp(u.due), to_timestamp(u.fired),
                u.ack_by, (SELECT p.id FROM public.users p WHERE p.telegram_id = u.ack_by),
                to_timestamp(u.ack_at), u.action, u.dstatus, to_timestamp(u.delivered), u.tg,
                CASE WHEN u.atype = 'warning' THEN 0 ELSE coalesce(r.sla_threshold_minutes, 0) END,
                u.v
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[],
                     $11::bigint[], $12::bigint[], $13::bigint[])
              AS u(chat, msg, atype, level, due, fired, ack_by, ack_at, action, dstatus,
                   delivered, tg, v)
         JOIN public.client_requests r ON r.chat_id = u.chat AND r.message_id = u.msg
         ON CONFLICT (request_id, alert_type, escalation_level) DO UPDATE
             SET chat_id = excluded.chat_id, due_at = excluded.due_at,
                 alert_sent_at = excluded.alert_sent_at,
                 acknowledged_by_telegram_id = excluded.acknowledged_by_telegram_id,
                 acknowledged_by = excluded.acknowledged_by,
                 acknowledged_at = excluded.acknowledged_at,
                 resolved_action = excluded.resolved_action,
                 delivery_status = excluded.delivery_status, delivered_at = excluded.delivered_at,
                 telegram_message_id = excluded.telegram_message_id,
                 daemon_version = excluded.daemon_version
             WHERE t.daemon_version < excluded.daemon_version
         RETURNING 1",
        &[
            (&chat, Type::INT8_ARRAY),
            (&msg, Type::INT8_ARRAY),
            (&atype, Type::TEXT_ARRAY),
            (&level, Type::INT8_ARRAY),
            (&due, Type::INT8_ARRAY),
            (&fired, Type::INT8_ARRAY),
            (&ack_by, Type::INT8_ARRAY),
            (&ack_at, Type::INT8_ARRAY),
            (&action, Type::TEXT_ARRAY),
            (&dstatus, Type::TEXT_ARRAY),
            (&delivered, Type::INT8_ARRAY),
            (&tg, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}

pub async fn deliveries(
    tx: &Transaction<'_>,
    rows: &[DeliveryRow],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let chat: Vec<i64> = rows.iter().map(|r| r.chat_id).collect();
    let msg: Vec<i64> = rows.iter().map(|r| r.message_id).collect();
    let atype: Vec<&str> = rows.iter().map(|r| alert_type(&r.alert_kind)).collect();
    let level: Vec<i64> = rows.iter().map(|r| r.alert_level).collect();
    let channel: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    let recipient: Vec<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
    let status: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    let attempts: Vec<i64> = rows.iter().map(|r| r.attempts).collect();
    let reason: Vec<Option<&str>> = rows.iter().map(|r| r.failure_reason.as_deref()).collect();
    let tg: Vec<Option<i64>> = rows.iter().map(|r| r.telegram_message_id).collect();
    let next: Vec<Option<i64>> = rows.iter().map(|r| r.next_attempt_at).collect();
    let sent: Vec<Option<i64>> = rows.iter().map(|r| r.sent_at).collect();
    let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    let version = version.to_vec();
    exec(
        tx,
        "INSERT INTO public.alert_deliveries AS t (alert_id, chat_id, channel, recipient, status,
                 attempts, failure_reason, telegram_message_id, next_attempt_at, sent_at,
                 created_at, daemon_version)
         SELECT a.id, u.chat, u.channel, u.recipient, u.status, u.attempts, u.reason, u.tg,
                to_timestamp(u.next), to_timestamp(u.sent), to_timestamp(u.created), u.v
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                     $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[],
                     $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
              AS u(chat, msg, atype, level, channel, recipient, status, attempts, reason, tg,
                   next, sent, created, v)
         JOIN public.client_requests r ON r.chat_id = u.chat AND r.message_id = u.msg
         JOIN public.sla_alerts a ON a.request_id = r.id AND a.alert_type = u.atype
                                 AND a.escalation_level = u.level
         ON CONFLICT (alert_id, channel, recipient) DO UPDATE
             SET chat_id = excluded.chat_id, status = excluded.status,
                 attempts = excluded.attempts, failure_reason = excluded.failure_reason,
                 telegram_message_id = excluded.telegram_message_id,
                 next_attempt_at = excluded.next_attempt_at, sent_at = excluded.sent_at,
                 daemon_version = excluded.daemon_version
             WHERE t.daemon_version < excluded.daemon_version
         RETURNING 1",
        &[
            (&chat, Type::INT8_ARRAY),
            (&msg, Type::INT8_ARRAY),
            (&atype, Type::TEXT_ARRAY),
            (&level, Type::INT8_ARRAY),
            (&channel, Type::TEXT_ARRAY),
            (&recipient, Type::TEXT_ARRAY),
            (&status, Type::TEXT_ARRAY),
            (&attempts, Type::INT8_ARRAY),
            (&reason, Type::TEXT_ARRAY),
            (&tg, Type::INT8_ARRAY),
            (&next, Type::INT8_ARRAY),
            (&sent, Type::INT8_ARRAY),
            (&created, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// A survey vote: one row per campaign, chat and voter, changed in place
/// by a change of rating or a comment.
pub async fn votes(
    tx: &Transaction<'_>,
    rows: &[VoteRow],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let campaign: Vec<&str> = rows.iter().map(|r| r.campaign.as_str()).collect();
    let chat: Vec<i64> = rows.iter().map(|r| r.chat_id).collect();
    let user: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    let rating: Vec<i64> = rows.iter().map(|r| r.rating).collect();
    let comment: Vec<Option<&str>> = rows.iter().map(|r| r.comment.as_deref()).collect();
    let voted: Vec<i64> = rows.iter().map(|r| r.voted_at).collect();
    let changed: Vec<i64> = rows.iter().map(|r| r.changed_at).collect();
    let version = version.to_vec();
    exec(
        tx,
        "INSERT INTO public.feedback_responses AS t (campaign, chat_id, telegram_user_id, rating,
                 comment, submitted_at, updated_at, daemon_version)
         SELECT u.campaign, u.chat, u.usr, u.rating, u.comment, to_timestamp(u.voted),
                to_timestamp(u.changed), u.v
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                     $6::bigint[], $7::bigint[], $8::bigint[])
              AS u(campaign, chat, usr, rating, comment, voted, changed, v)
         ON CONFLICT (campaign, chat_id, telegram_user_id) DO UPDATE
             SET rating = excluded.rating, comment = excluded.comment,
                 submitted_at = excluded.submitted_at, updated_at = excluded.updated_at,
                 daemon_version = excluded.daemon_version
             WHERE t.daemon_version < excluded.daemon_version
         RETURNING 1",
        &[
            (&campaign, Type::TEXT_ARRAY),
            (&chat, Type::INT8_ARRAY),
            (&user, Type::INT8_ARRAY),
            (&rating, Type::INT8_ARRAY),
            (&comment, Type::TEXT_ARRAY),
            (&voted, Type::INT8_ARRAY),
            (&changed, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}

/// Withdrawn votes leave Postgres too (the history stays in the daemon's
/// `survey_vote_history`); only a row older than the withdrawal goes.
pub async fn delete_votes(
    tx: &Transaction<'_>,
    places: &[VotePlace],
    version: &[i64],
) -> Result<u64, tokio_postgres::Error> {
    let campaign: Vec<&str> = places.iter().map(|p| p.campaign.as_str()).collect();
    let chat: Vec<i64> = places.iter().map(|p| p.chat_id).collect();
    let user: Vec<i64> = places.iter().map(|p| p.user_id).collect();
    let version = version.to_vec();
    exec(
        tx,
        "DELETE FROM public.feedback_responses t
         USING unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(campaign, chat, usr, v)
         WHERE t.campaign = u.campaign AND t.chat_id = u.chat AND t.telegram_user_id = u.usr
           AND t.daemon_version < u.v
         RETURNING 1",
        &[
            (&campaign, Type::TEXT_ARRAY),
            (&chat, Type::INT8_ARRAY),
            (&user, Type::INT8_ARRAY),
            (&version, Type::INT8_ARRAY),
        ],
    )
    .await
}
