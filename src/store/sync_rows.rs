//! The rows as the Postgres push needs them: full rows of the pushed
//! tables by key, with what Postgres keeps on the row itself (a chat's
//! staff as id arrays, a request's text, an alert's delivery status).
//! Read-only: each table's writes stay with its own module.

use rusqlite::Connection;

use super::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub role: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    pub id: i64,
    pub title: String,
    pub kind: String,
    pub monitored: bool,
    pub sla_enabled: bool,
    pub threshold_minutes: Option<i64>,
    pub warning_percent: Option<i64>,
    pub escalation_interval_minutes: Option<i64>,
    pub max_escalations: Option<i64>,
    pub invite_link: Option<String>,
    pub migrated_to: Option<i64>,
    pub accountants: Vec<i64>,
    pub accountant_usernames: Vec<String>,
    pub managers: Vec<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub chat_id: i64,
    pub message_id: i64,
    pub edit_version: i64,
    pub date: i64,
    pub sender_id: Option<i64>,
    pub sender_kind: String,
    pub sender_name: Option<String>,
    pub text: String,
    pub reply_to: Option<i64>,
    pub has_media: bool,
    pub service: bool,
    pub category: Option<String>,
    pub confidence: Option<f64>,
    pub is_accountant: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    pub client_id: i64,
    pub client_name: Option<String>,
    pub text: String,
    pub received_at: i64,
    pub category: String,
    pub confidence: f64,
    pub status: String,
    pub threshold_minutes: i64,
    pub deadline_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub answered_by: Option<i64>,
    pub answer_message_id: Option<i64>,
    pub working_minutes: Option<i64>,
    pub breached: bool,
    pub breached_at: Option<i64>,
    pub excess_minutes: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    pub kind: String,
    pub level: i64,
    pub due_at: i64,
    pub fired_at: i64,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub resolution: Option<String>,
    /// Over its deliveries: sent (one got through), failed (all failed
    /// for good) or pending.
    pub delivery_status: String,
    pub delivered_at: Option<i64>,
    pub telegram_message_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    pub alert_kind: String,
    pub alert_level: i64,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub failure_reason: Option<String>,
    pub telegram_message_id: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}

/// A survey vote as `feedback_responses` keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteRow {
    pub survey_id: i64,
    pub user_id: i64,
    /// [`CAMPAIGN`]: the campaign's name upstream.
    pub campaign: String,
    pub chat_id: i64,
    pub rating: i64,
    pub comment: Option<String>,
    pub voted_at: i64,
    /// The last change (vote, change or comment).
    pub changed_at: i64,
}

/// Where a withdrawn vote is upstream: (survey, user) → (campaign, chat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VotePlace {
    pub survey_id: i64,
    pub user_id: i64,
    pub campaign: String,
    pub chat_id: i64,
}

/// A campaign's name upstream (`feedback_responses.campaign`, part of the
/// natural key), made of what the campaign row itself records rather than
/// of its local id alone: a store restored from an older backup, or a
/// standby's, numbers the campaigns it starts afterwards from where the
/// backup stopped, so "survey-5" could name two campaigns and the second
/// would overwrite the first one's answers. A scheduled campaign is its
/// occurrence (`slot`, unique); one started by hand is its start time
/// (UTC, to the second) — with its local id, as two started within the
/// same second are possible with no cooldown; a campaign started after a
/// restore starts later than the lost one, so the pair never repeats.
/// The quarter alone would not do: the schedule is a cron of any period.
const CAMPAIGN: &str = "CASE WHEN c.slot IS NOT NULL
        THEN 'scheduled:' || strftime('%Y-%m-%dT%H:%M:%SZ', c.slot, 'unixepoch')
        ELSE 'cli:' || strftime('%Y-%m-%dT%H:%M:%SZ', c.started_at, 'unixepoch') || '#' || c.id
    END";

/// The keys as a JSON array, for `json_each`: one statement per table
/// whatever the batch size.
fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

fn split_ids(v: Option<String>) -> Vec<i64> {
    v.unwrap_or_default()
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect()
}

pub fn users(conn: &Connection, ids: &[i64]) -> Result<Vec<UserRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, username, role, email, created_at, updated_at FROM users
         WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )?;
    let rows = stmt.query_map([ids_json(ids)], |r| {
        Ok(UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            username: r.get(2)?,
            role: r.get(3)?,
            email: r.get(4)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn chats(conn: &Connection, ids: &[i64]) -> Result<Vec<ChatRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.title, c.kind, c.monitored, c.sla_enabled, c.threshold_minutes,
                c.warning_percent, c.escalation_interval_minutes, c.max_escalations,
                c.invite_link, c.migrated_to, c.created_at, c.updated_at,
                (SELECT group_concat(user_id) FROM
                    (SELECT user_id FROM chat_staff WHERE chat_id = c.id AND role = 'accountant' ORDER BY user_id)),
                (SELECT group_concat(user_id) FROM
                    (SELECT user_id FROM chat_staff WHERE chat_id = c.id AND role = 'manager' ORDER BY user_id)),
                (SELECT json_group_array(u.username) FROM
                    (SELECT u.username FROM chat_staff s JOIN users u ON u.id = s.user_id
                     WHERE s.chat_id = c.id AND s.role = 'accountant' AND u.username IS NOT NULL
                     ORDER BY s.user_id) u)
         FROM chats c WHERE c.id IN (SELECT value FROM json_each(?1)) ORDER BY c.id",
    )?;
    let rows = stmt.query_map([ids_json(ids)], |r| {
        let usernames: String = r.get(15)?;
        Ok(ChatRow {
            id: r.get(0)?,
            title: r.get(1)?,
            kind: r.get(2)?,
            monitored: r.get(3)?,
            sla_enabled: r.get(4)?,
            threshold_minutes: r.get(5)?,
            warning_percent: r.get(6)?,
            escalation_interval_minutes: r.get(7)?,
            max_escalations: r.get(8)?,
            invite_link: r.get(9)?,
            migrated_to: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
            accountants: split_ids(r.get(13)?),
            managers: split_ids(r.get(14)?),
            accountant_usernames: serde_json::from_str(&usernames).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Messages by (chat, message, edit version).
pub fn messages(conn: &Connection, keys: &[(i64, i64, i64)]) -> Result<Vec<MessageRow>> {
    let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT m.chat_id, m.message_id, m.edit_version, m.date, m.sender_id, m.sender_kind,
                m.sender_name, m.text, m.reply_to, m.has_media, m.service, m.category,
                m.confidence,
                EXISTS (SELECT 1 FROM chat_staff s WHERE s.chat_id = m.chat_id
                        AND s.user_id = m.sender_id AND s.role = 'accountant')
         FROM json_each(?1) k
         JOIN messages m ON m.chat_id = k.value ->> 0 AND m.message_id = k.value ->> 1
                        AND m.edit_version = k.value ->> 2",
    )?;
    let rows = stmt.query_map([json], |r| {
        Ok(MessageRow {
            chat_id: r.get(0)?,
            message_id: r.get(1)?,
            edit_version: r.get(2)?,
            date: r.get(3)?,
            sender_id: r.get(4)?,
            sender_kind: r.get(5)?,
            sender_name: r.get(6)?,
            text: r.get(7)?,
            reply_to: r.get(8)?,
            has_media: r.get(9)?,
            service: r.get(10)?,
            category: r.get(11)?,
            confidence: r.get(12)?,
            is_accountant: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn requests(conn: &Connection, ids: &[i64]) -> Result<Vec<RequestRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.chat_id, r.message_id, r.client_id, m.sender_name, coalesce(m.text, ''),
                r.received_at, r.category, r.confidence, r.status, r.threshold_minutes,
                r.deadline_at, r.answered_at, r.answered_by, r.answer_message_id,
                r.working_minutes, r.breached, r.breached_at, r.excess_minutes, r.updated_at
         FROM client_requests r
         LEFT JOIN messages m ON m.chat_id = r.chat_id AND m.message_id = r.message_id
                             AND m.edit_version = 0
         WHERE r.id IN (SELECT value FROM json_each(?1)) ORDER BY r.id",
    )?;
    let rows = stmt.query_map([ids_json(ids)], |r| {
        Ok(RequestRow {
            id: r.get(0)?,
            chat_id: r.get(1)?,
            message_id: r.get(2)?,
            client_id: r.get(3)?,
            client_name: r.get(4)?,
            text: r.get(5)?,
            received_at: r.get(6)?,
            category: r.get(7)?,
            confidence: r.get(8)?,
            status: r.get(9)?,
            threshold_minutes: r.get(10)?,
            deadline_at: r.get(11)?,
            answered_at: r.get(12)?,
            answered_by: r.get(13)?,
            answer_message_id: r.get(14)?,
            working_minutes: r.get(15)?,
            breached: r.get(16)?,
            breached_at: r.get(17)?,
            excess_minutes: r.get(18)?,
            updated_at: r.get(19)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn alerts(conn: &Connection, ids: &[i64]) -> Result<Vec<AlertRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, r.chat_id, r.message_id, a.kind, a.level, a.due_at, a.fired_at,
                a.acknowledged_by, a.acknowledged_at, a.resolution,
                (SELECT CASE WHEN sum(d.status = 'sent') > 0 THEN 'sent'
                             WHEN count(*) > 0 AND sum(d.status IN ('failed', 'given_up')) = count(*)
                                  THEN 'failed'
                             ELSE 'pending' END
                 FROM alert_deliveries d WHERE d.alert_id = a.id),
                (SELECT min(d.sent_at) FROM alert_deliveries d WHERE d.alert_id = a.id),
                (SELECT d.telegram_message_id FROM alert_deliveries d
                 WHERE d.alert_id = a.id AND d.telegram_message_id IS NOT NULL
                 ORDER BY d.sent_at, d.id LIMIT 1)
         FROM sla_alerts a JOIN client_requests r ON r.id = a.request_id
         WHERE a.id IN (SELECT value FROM json_each(?1)) ORDER BY a.id",
    )?;
    let rows = stmt.query_map([ids_json(ids)], |r| {
        Ok(AlertRow {
            id: r.get(0)?,
            chat_id: r.get(1)?,
            message_id: r.get(2)?,
            kind: r.get(3)?,
            level: r.get(4)?,
            due_at: r.get(5)?,
            fired_at: r.get(6)?,
            acknowledged_by: r.get(7)?,
            acknowledged_at: r.get(8)?,
            resolution: r.get(9)?,
            delivery_status: r.get(10)?,
            delivered_at: r.get(11)?,
            telegram_message_id: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn deliveries(conn: &Connection, ids: &[i64]) -> Result<Vec<DeliveryRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, r.chat_id, r.message_id, a.kind, a.level, d.sink, d.recipient, d.status,
                d.attempts, d.failure_reason, d.telegram_message_id,
                CASE WHEN d.status IN ('pending', 'retrying') THEN d.next_attempt_at END,
                d.sent_at, d.created_at
         FROM alert_deliveries d
         JOIN sla_alerts a ON a.id = d.alert_id
         JOIN client_requests r ON r.id = a.request_id
         WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.id",
    )?;
    let rows = stmt.query_map([ids_json(ids)], |r| {
        Ok(DeliveryRow {
            id: r.get(0)?,
            chat_id: r.get(1)?,
            message_id: r.get(2)?,
            alert_kind: r.get(3)?,
            alert_level: r.get(4)?,
            channel: r.get(5)?,
            recipient: r.get(6)?,
            status: r.get(7)?,
            attempts: r.get(8)?,
            failure_reason: r.get(9)?,
            telegram_message_id: r.get(10)?,
            next_attempt_at: r.get(11)?,
            sent_at: r.get(12)?,
            created_at: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Votes by (survey, user); a withdrawn one is not among them.
pub fn votes(conn: &Connection, keys: &[(i64, i64)]) -> Result<Vec<VoteRow>> {
    let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT v.survey_id, v.user_id, {CAMPAIGN}, s.chat_id, v.rating, v.comment, v.voted_at,
                coalesce((SELECT max(h.at) FROM survey_vote_history h
                          WHERE h.survey_id = v.survey_id AND h.user_id = v.user_id), v.voted_at)
         FROM json_each(?1) k
         JOIN survey_votes v ON v.survey_id = k.value ->> 0 AND v.user_id = k.value ->> 1
         JOIN survey_chats s ON s.id = v.survey_id
         JOIN survey_campaigns c ON c.id = s.campaign_id"
    ))?;
    let rows = stmt.query_map([json], |r| {
        Ok(VoteRow {
            survey_id: r.get(0)?,
            user_id: r.get(1)?,
            campaign: r.get(2)?,
            chat_id: r.get(3)?,
            rating: r.get(4)?,
            comment: r.get(5)?,
            voted_at: r.get(6)?,
            changed_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Where withdrawn votes are upstream. A survey gone locally (retention)
/// has no place: Postgres keeps the history, as for the other tables.
pub fn vote_places(conn: &Connection, keys: &[(i64, i64)]) -> Result<Vec<VotePlace>> {
    let json = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.id, k.value ->> 1, {CAMPAIGN}, s.chat_id
         FROM json_each(?1) k
         JOIN survey_chats s ON s.id = k.value ->> 0
         JOIN survey_campaigns c ON c.id = s.campaign_id"
    ))?;
    let rows = stmt.query_map([json], |r| {
        Ok(VotePlace {
            survey_id: r.get(0)?,
            user_id: r.get(1)?,
            campaign: r.get(2)?,
            chat_id: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
