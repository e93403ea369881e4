//! Surveys (issue 13): campaigns (`survey_campaigns`), the survey sent to
//! each chat (`survey_chats`), the effective votes (`survey_votes`) and
//! every change of them (`survey_vote_history`), and the results the CLI
//! and the weekly digest read ([`results_between`]).
//!
//! All times are Unix seconds; the callers pass `now`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, StoreError};
use crate::domain::survey::{RATINGS, Results, Timeline, VoteChange};

/// How a campaign was started (`survey_campaigns.started_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartedBy {
    Schedule,
    Cli,
}
crate::stored_enum!(StartedBy, "survey start", {
    Schedule => "schedule", Cli => "cli",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: i64,
    pub slot: Option<i64>,
    pub started_by: StartedBy,
    pub started_at: i64,
    pub remind_at: i64,
    pub notice_at: i64,
    pub closes_at: i64,
    pub noticed_at: Option<i64>,
    pub closed_at: Option<i64>,
}

impl CampaignRow {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

const CAMPAIGN_COLUMNS: &str =
    "id, slot, started_by, started_at, remind_at, notice_at, closes_at, noticed_at, closed_at";

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<CampaignRow> {
    Ok(CampaignRow {
        id: r.get(0)?,
        slot: r.get(1)?,
        started_by: super::codec::column(r, 2, "survey_campaigns", "started_by")?,
        started_at: r.get(3)?,
        remind_at: r.get(4)?,
        notice_at: r.get(5)?,
        closes_at: r.get(6)?,
        noticed_at: r.get(7)?,
        closed_at: r.get(8)?,
    })
}

/// The survey of one chat in a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRow {
    pub id: i64,
    pub campaign_id: i64,
    pub chat_id: i64,
    pub sent_at: i64,
    pub reminded_at: Option<i64>,
    /// Whether its campaign is still open.
    pub open: bool,
}

fn survey_row(r: &Row<'_>) -> rusqlite::Result<SurveyRow> {
    Ok(SurveyRow {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        chat_id: r.get(2)?,
        sent_at: r.get(3)?,
        reminded_at: r.get(4)?,
        open: r.get::<_, Option<i64>>(5)?.is_none(),
    })
}

const SURVEY_SELECT: &str =
    "SELECT s.id, s.campaign_id, s.chat_id, s.sent_at, s.reminded_at, c.closed_at
     FROM survey_chats s JOIN survey_campaigns c ON c.id = s.campaign_id";

/// The schedule's baseline (see the migration); `None` before the first
/// start with surveys on.
pub fn schedule_last(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT last_slot FROM survey_schedule WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_schedule_last(conn: &Connection, slot: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO survey_schedule (id, last_slot) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET last_slot = excluded.last_slot",
        [slot],
    )?;
    Ok(())
}

/// Records a campaign; `None` when the scheduled `slot` has one already.
pub fn create_campaign(
    conn: &Connection,
    slot: Option<i64>,
    by: StartedBy,
    t: &Timeline,
) -> Result<Option<i64>> {
    let n = conn.execute(
        "INSERT INTO survey_campaigns (slot, started_by, started_at, remind_at, notice_at, closes_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        params![
            slot,
            by,
            t.started_at.timestamp(),
            t.remind_at.timestamp(),
            t.notice_at.timestamp(),
            t.closes_at.timestamp()
        ],
    )?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// Records the survey of `chat` in `campaign`; returns its id.
pub fn add_chat(conn: &Connection, campaign: i64, chat: i64, sent_at: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO survey_chats (campaign_id, chat_id, sent_at) VALUES (?1, ?2, ?3)",
        params![campaign, chat, sent_at],
    )?;
    Ok(conn.last_insert_rowid())
}

/// When `chat` last got a survey (the cooldown).
pub fn last_sent(conn: &Connection, chat: i64) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT max(sent_at) FROM survey_chats WHERE chat_id = ?1",
        [chat],
        |r| r.get(0),
    )?)
}

/// Chats with a client request received at or after `since`.
pub fn chats_with_requests_since(conn: &Connection, since: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT chat_id FROM client_requests WHERE received_at >= ?1 ORDER BY chat_id",
    )?;
    let rows = stmt.query_map([since], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn campaign(conn: &Connection, id: i64) -> Result<Option<CampaignRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM survey_campaigns WHERE id = ?1"
        ))?
        .query_row([id], campaign_row)
        .optional()?)
}

/// Every campaign, newest first.
pub fn campaigns(conn: &Connection) -> Result<Vec<CampaignRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM survey_campaigns ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map([], campaign_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn survey(conn: &Connection, id: i64) -> Result<Option<SurveyRow>> {
    Ok(conn
        .prepare_cached(&format!("{SURVEY_SELECT} WHERE s.id = ?1"))?
        .query_row([id], survey_row)
        .optional()?)
}

/// The surveys of a campaign, by chat.
pub fn surveys_of(conn: &Connection, campaign: i64) -> Result<Vec<SurveyRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SURVEY_SELECT} WHERE s.campaign_id = ?1 ORDER BY s.chat_id"
    ))?;
    let rows = stmt.query_map([campaign], survey_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A user's effective vote: (rating, voted_at, comment).
pub fn vote_of(
    conn: &Connection,
    survey: i64,
    user: i64,
) -> Result<Option<(u8, i64, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT rating, voted_at, comment FROM survey_votes WHERE survey_id = ?1 AND user_id = ?2",
        )?
        .query_row([survey, user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

fn history(
    conn: &Connection,
    survey: i64,
    user: i64,
    action: &str,
    rating: Option<u8>,
    comment: Option<&str>,
    at: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO survey_vote_history (survey_id, user_id, action, rating, comment, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![survey, user, action, rating, comment, at])?;
    Ok(conn.last_insert_rowid())
}

/// Applies a press of `pressed` by `user`: the change and its history row
/// id. A changed vote keeps no comment of the old one (the comment window
/// opens again with the new rating).
pub fn press(
    conn: &Connection,
    survey: i64,
    user: i64,
    pressed: u8,
    now: i64,
) -> Result<(VoteChange, i64)> {
    let current = vote_of(conn, survey, user)?.map(|v| v.0);
    let change = VoteChange::of(current, pressed);
    match change.rating() {
        Some(r) => {
            conn.prepare_cached(
                "INSERT INTO survey_votes (survey_id, user_id, rating, voted_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (survey_id, user_id) DO UPDATE SET
                     rating = excluded.rating, voted_at = excluded.voted_at, comment = NULL",
            )?
            .execute(params![survey, user, r, now])?;
        }
        None => {
            conn.prepare_cached("DELETE FROM survey_votes WHERE survey_id = ?1 AND user_id = ?2")?
                .execute([survey, user])?;
        }
    }
    let id = history(
        conn,
        survey,
        user,
        change.action(),
        change.rating(),
        None,
        now,
    )?;
    Ok((change, id))
}

/// The vote a message of `user` in `chat` at `now` may comment on: the
/// latest vote without a comment, in an open campaign, given at most
/// `window` seconds before. (survey id, rating, voted_at).
pub fn comment_target(
    conn: &Connection,
    chat: i64,
    user: i64,
    now: i64,
    window: i64,
) -> Result<Option<(i64, u8, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT v.survey_id, v.rating, v.voted_at FROM survey_votes v
             JOIN survey_chats s ON s.id = v.survey_id
             JOIN survey_campaigns c ON c.id = s.campaign_id
             WHERE s.chat_id = ?1 AND v.user_id = ?2 AND v.comment IS NULL
               AND c.closed_at IS NULL AND v.voted_at <= ?3 AND v.voted_at >= ?3 - ?4
             ORDER BY v.voted_at DESC LIMIT 1",
        )?
        .query_row(params![chat, user, now, window], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
}

/// Stores `comment` on the user's vote; returns the history row id.
pub fn set_comment(
    conn: &Connection,
    survey: i64,
    user: i64,
    rating: u8,
    comment: &str,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "UPDATE survey_votes SET comment = ?3 WHERE survey_id = ?1 AND user_id = ?2",
    )?
    .execute(params![survey, user, comment])?;
    history(
        conn,
        survey,
        user,
        "comment",
        Some(rating),
        Some(comment),
        now,
    )
}

/// One row of a survey's history: (user, action, rating, comment, at).
pub type HistoryRow = (i64, String, Option<u8>, Option<String>, i64);

pub fn history_of(conn: &Connection, survey: i64) -> Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, action, rating, comment, at FROM survey_vote_history
         WHERE survey_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([survey], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Surveys of open campaigns due a reminder: the reminder time passed,
/// none sent yet, and nobody voted.
pub fn due_reminders(conn: &Connection, now: i64) -> Result<Vec<SurveyRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SURVEY_SELECT} WHERE c.closed_at IS NULL AND c.remind_at <= ?1 AND c.closes_at > ?1
           AND s.reminded_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM survey_votes v WHERE v.survey_id = s.id)
         ORDER BY s.id"
    ))?;
    let rows = stmt.query_map([now], survey_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn mark_reminded(conn: &Connection, survey: i64, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE survey_chats SET reminded_at = ?2 WHERE id = ?1",
        [survey, now],
    )?;
    Ok(())
}

/// Open campaigns whose managers' notice is due.
pub fn due_notices(conn: &Connection, now: i64) -> Result<Vec<CampaignRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM survey_campaigns
         WHERE closed_at IS NULL AND noticed_at IS NULL AND notice_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([now], campaign_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn mark_noticed(conn: &Connection, campaign: i64, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE survey_campaigns SET noticed_at = ?2 WHERE id = ?1",
        [campaign, now],
    )?;
    Ok(())
}

/// The chats of a campaign where nobody voted.
pub fn unanswered(conn: &Connection, campaign: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.chat_id FROM survey_chats s WHERE s.campaign_id = ?1
           AND NOT EXISTS (SELECT 1 FROM survey_votes v WHERE v.survey_id = s.id)
         ORDER BY s.chat_id",
    )?;
    let rows = stmt.query_map([campaign], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Open campaigns whose validity ended.
pub fn due_closes(conn: &Connection, now: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM survey_campaigns WHERE closed_at IS NULL AND closes_at <= ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Closes a campaign; false if it was closed already. Unknown: NotFound.
pub fn close(conn: &Connection, campaign: i64, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE survey_campaigns SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL",
        [campaign, now],
    )?;
    if n == 0 && self::campaign(conn, campaign)?.is_none() {
        return Err(StoreError::NotFound(format!(
            "no survey campaign {campaign}"
        )));
    }
    Ok(n == 1)
}

/// The results of one chat's survey in one campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResults {
    pub campaign_id: i64,
    pub chat_id: i64,
    pub results: Results,
}

/// Per campaign and chat, the results of the campaigns started in
/// `[from, to)`: effective votes per rating; `chats` is 1 and
/// `answered_chats` 0 or 1, so that merging rows gives the response rate
/// over chats. For the weekly digest and `buhbot surveys show`.
pub fn results_between(conn: &Connection, from: i64, to: i64) -> Result<Vec<ChatResults>> {
    results_where(
        conn,
        "c.started_at >= ?1 AND c.started_at < ?2",
        params![from, to],
    )
}

/// [`results_between`] for one campaign.
pub fn results_of(conn: &Connection, campaign: i64) -> Result<Vec<ChatResults>> {
    results_where(conn, "c.id = ?1", params![campaign])
}

fn results_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ChatResults>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT s.campaign_id, s.chat_id, v.rating, count(v.rating)
         FROM survey_chats s JOIN survey_campaigns c ON c.id = s.campaign_id
         LEFT JOIN survey_votes v ON v.survey_id = s.id
         WHERE {filter}
         GROUP BY s.campaign_id, s.chat_id, v.rating
         ORDER BY s.campaign_id, s.chat_id"
    ))?;
    let rows = stmt.query_map(args, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<u8>>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out: Vec<ChatResults> = Vec::new();
    for row in rows {
        let (campaign_id, chat_id, rating, n) = row?;
        if out
            .last()
            .is_none_or(|l| (l.campaign_id, l.chat_id) != (campaign_id, chat_id))
        {
            out.push(ChatResults {
                campaign_id,
                chat_id,
                results: Results {
                    chats: 1,
                    ..Results::default()
                },
            });
        }
        let last = out.last_mut().expect("pushed above");
        if let Some(r) = rating.filter(|r| RATINGS.contains(r)) {
            last.results.votes[usize::from(r - 1)] += n.unsigned_abs();
            last.results.answered_chats = 1;
        }
    }
    Ok(out)
}
