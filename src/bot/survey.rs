//! Survey votes and comments in the client chats.
//!
//! The survey message carries five buttons whose callback data is
//! `q:<survey id>:<rating>` ([`VoteButton`]). A press is decided inside the
//! caller's write transaction ([`on_vote`], from
//! [`super::callback::on_callback`]): every member of the chat may vote,
//! one effective vote per user; pressing another rating changes it,
//! pressing the same one withdraws it, and each change is a history row.
//! A voter's next message within `[surveys] comment_minutes` is the vote's
//! comment ([`capture_comment`], in the ingest transaction), confirmed by
//! a reply.
//!
//! A rating at or below `[surveys] low_rating_threshold` alerts the chat's
//! accountants and the managers (the same recipients as a breach alert):
//! queued in the press's transaction as alerts of the outbound queue, so
//! the queue's sender sends them at once, retries them by the delivery
//! policy and never twice (the dedupe key is the history row and the
//! recipient). A comment on a low rating sends it again with the comment.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::press::{CallbackOutcome, CallbackPress};
use crate::core::delivery::Channel;
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::sla::AlertKind;
use crate::domain::survey::{RATINGS, in_comment_window, is_low};
use crate::domain::survey_text as text;
use crate::store::outbound::{self as queue, Kind, NewOutbound};
use crate::store::{self, Result, messages, surveys, users};
use crate::telegram::outbound::Button;

/// A rating button of a survey message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteButton {
    pub survey: i64,
    pub rating: u8,
}

impl VoteButton {
    pub fn encode(self) -> String {
        format!("q:{}:{}", self.survey, self.rating)
    }

    /// `None` for anything [`VoteButton::encode`] did not write.
    pub fn decode(data: &[u8]) -> Option<VoteButton> {
        let s = std::str::from_utf8(data).ok()?;
        let mut parts = s.split(':');
        let (code, id, rating) = (parts.next()?, parts.next()?, parts.next()?);
        if code != "q" || parts.next().is_some() {
            return None;
        }
        let survey: i64 = id.parse().ok().filter(|n: &i64| *n > 0)?;
        let rating: u8 = rating.parse().ok().filter(|r| RATINGS.contains(r))?;
        let b = VoteButton { survey, rating };
        (b.encode() == s).then_some(b)
    }
}

/// The five rating buttons, in one row.
pub fn keyboard(survey: i64) -> Vec<Vec<Button>> {
    vec![
        RATINGS
            .map(|rating| Button {
                text: rating.to_string(),
                callback_data: Some(VoteButton { survey, rating }.encode()),
                url: None,
            })
            .collect(),
    ]
}

/// A press on a survey button; see the module documentation.
pub fn on_vote(
    conn: &Connection,
    engine: &Engine,
    press: &CallbackPress,
    button: VoteButton,
    now: DateTime<Utc>,
) -> store::Result<CallbackOutcome> {
    let toast = CallbackOutcome::toast;
    // A button copied into another chat is not that chat's survey.
    let Some(survey) = surveys::survey(conn, button.survey)?.filter(|s| s.chat_id == press.chat_id)
    else {
        return Ok(toast(super::press::STALE));
    };
    if !survey.open {
        return Ok(toast(text::CLOSED_TOAST));
    }
    // As in force now: a threshold raised in Postgres counts from the
    // next press, without waiting for the daemon's reload.
    let eff = engine.effective(conn)?;
    let settings = &eff.config.surveys;
    let (change, history) = surveys::press(
        conn,
        survey.id,
        press.user_id,
        button.rating,
        now.timestamp(),
    )?;
    tracing::info!(
        survey = survey.id,
        chat = survey.chat_id,
        user = press.user_id,
        action = change.action(),
        rating = change.rating(),
        "survey vote"
    );
    let mut queue = Vec::new();
    if let Some(r) = change.rating()
        && is_low(r, settings.low_rating_threshold)
    {
        queue = low_rating_alerts(
            conn,
            engine,
            survey.chat_id,
            press.user_id,
            r,
            None,
            history,
        )?;
    }
    Ok(CallbackOutcome {
        answer: text::vote_toast(change, settings.comment_minutes),
        alert: false,
        queue,
        changed: true,
    })
}

/// The name a voter wrote under in the chat, else their staff name.
fn voter_name(conn: &Connection, chat: i64, user: i64) -> Result<String> {
    if let Some(name) = messages::sender_name(conn, chat, user)? {
        return Ok(format!("{name} (id {user})"));
    }
    Ok(match users::get(conn, user)? {
        Some(u) if !u.name.trim().is_empty() => format!("{} (id {user})", u.name.trim()),
        _ => format!("id {user}"),
    })
}

/// The low-rating alerts for history row `history`, one per Telegram
/// recipient of a breach alert about `chat` (accountants and managers).
fn low_rating_alerts(
    conn: &Connection,
    engine: &Engine,
    chat: i64,
    voter: i64,
    rating: u8,
    comment: Option<&str>,
    history: i64,
) -> Result<Vec<NewOutbound>> {
    let title = engine.chat_label(chat);
    let html = text::low_rating_html(&title, &voter_name(conn, chat, voter)?, rating, comment);
    let mut link = Vec::new();
    if let Some(url) = super::buttons::chat_link(
        chat,
        0,
        crate::store::chats::invite_link(conn, chat)?.as_deref(),
    ) {
        link.push(super::buttons::url_row(url));
    }
    Ok(engine
        .recipients(chat, AlertKind::Breach)
        .into_iter()
        .filter(|(c, _)| *c == Channel::Telegram)
        .filter_map(|(_, r)| r.parse::<i64>().ok())
        .filter(|&r| r > 0)
        .map(|r| {
            let mut msg = NewOutbound::new(
                format!("survey-alert:{history}:{r}"),
                r,
                Kind::Alert,
                html.clone(),
            );
            msg.buttons = link.clone();
            msg
        })
        .collect())
}

/// What [`capture_comment`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentCaptured {
    pub survey: i64,
    pub rating: u8,
    /// Low-rating alerts queued with the comment.
    pub alerts: usize,
}

/// Takes a chat message as the comment on its author's vote when it comes
/// within the window after the vote (and the vote has none yet); queues
/// the confirmation (a reply to it) and, for a low rating, the alert
/// again with the comment.
pub fn capture_comment(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
    now: DateTime<Utc>,
) -> Result<Option<CommentCaptured>> {
    let Some((_, user)) = super::clients::group_message(engine, m) else {
        return Ok(None);
    };
    let comment = m.text.trim();
    if comment.is_empty() {
        return Ok(None);
    }
    // As in force now: a threshold raised in Postgres counts from the
    // next press, without waiting for the daemon's reload.
    let eff = engine.effective(conn)?;
    let settings = &eff.config.surveys;
    let window = Duration::minutes(i64::from(settings.comment_minutes));
    let at = m.date;
    let Some((survey, rating, voted_at)) =
        surveys::comment_target(conn, m.chat_id, user, at.timestamp(), window.num_seconds())?
    else {
        return Ok(None);
    };
    let voted = DateTime::from_timestamp(voted_at, 0).unwrap_or(at);
    if !in_comment_window(voted, at, window) {
        return Ok(None);
    }
    let history = surveys::set_comment(conn, survey, user, rating, comment, at.timestamp())?;
    let mut reply = NewOutbound::new(
        format!("survey-comment:{}:{}", m.chat_id, m.message_id),
        m.chat_id,
        Kind::Reply,
        text::COMMENT_SAVED_HTML,
    );
    reply.reply_to = Some(m.message_id);
    let ts = now.timestamp();
    queue::enqueue_built(conn, &reply, ts, "a survey comment's confirmation")?;
    let mut alerts = 0;
    if is_low(rating, settings.low_rating_threshold) {
        for msg in low_rating_alerts(
            conn,
            engine,
            m.chat_id,
            user,
            rating,
            Some(comment),
            history,
        )? {
            queue::enqueue_built(conn, &msg, ts, "a low-rating alert")?;
            alerts += 1;
        }
    }
    tracing::info!(survey, chat = m.chat_id, user, "survey comment saved");
    Ok(Some(CommentCaptured {
        survey,
        rating,
        alerts,
    }))
}
