//! FAQ auto-answers: a client's message that matches an entry gets the
//! entry's answer in the chat, as a reply to it.
//!
//! Runs in the ingest transaction, right after the message is logged
//! ([`answer`]): the answer is queued in the outbound queue (dedupe key per
//! message) together with the message, the per-client log and the usage
//! counter, so a crash loses or doubles none of them, and a message
//! delivered again (a duplicate to the engine) is not looked at again.
//!
//! Never for staff (the firm's users, the chats' accountants and
//! managers), commands, edits, service messages or private chats; at
//! most once per client per entry per `[faq] repeat_after_minutes`.
//! With `faq_stops_sla` on for the chat the request the message opened is
//! closed as answered; by default it stays open for a human answer.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::{auth, clients};
use crate::core::engine::Engine;
use crate::core::event::MessageEvent;
use crate::domain::faq::FaqIndex;
use crate::domain::render::escape_html;
use crate::domain::sla::{Closing, RequestStatus};
use crate::store::outbound::{self as queue, Kind, NewOutbound};
use crate::store::{Result, faq, requests};

/// The match index, rebuilt only when the entries changed (their revision
/// moved): building it for every message would cost more than matching.
#[derive(Debug, Default)]
pub struct FaqCache {
    index: Mutex<Option<(i64, Arc<FaqIndex>)>>,
}

impl FaqCache {
    pub fn index(&self, conn: &Connection) -> Result<Arc<FaqIndex>> {
        let revision = faq::revision(conn)?;
        let mut slot = self.index.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((r, index)) = slot.as_ref()
            && *r == revision
        {
            return Ok(index.clone());
        }
        let index = Arc::new(FaqIndex::build(&faq::enabled_entries(conn)?));
        *slot = Some((revision, index.clone()));
        Ok(index)
    }
}

/// What [`answer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaqAnswered {
    pub entry: i64,
    pub score: u32,
    /// The message's request was closed as answered (`faq_stops_sla`).
    pub closed_request: bool,
}

/// The dedupe key of the FAQ answer to a message.
pub fn dedupe_key(chat: i64, message_id: i64) -> String {
    format!("faq:{chat}:{message_id}")
}

/// The answer's text: what was understood, then the answer.
pub fn answer_html(question: &str, answer: &str, human_follows: bool) -> String {
    let mut out = format!(
        "💡 <b>{}</b>\n{}",
        escape_html(question.trim()),
        escape_html(answer.trim())
    );
    if human_follows {
        out.push_str(
            "\n\n<i>Это автоматический ответ. Бухгалтер также ответит вам в рабочее время.</i>",
        );
    } else {
        out.push_str("\n\n<i>Это автоматический ответ. Если он не помог, напишите, пожалуйста, — бухгалтер ответит в рабочее время.</i>");
    }
    out
}

/// Answers `m` from the FAQ if it is a client's message that matches an
/// entry; call after [`Engine::ingest`] logged it (not for duplicates).
pub fn answer(
    conn: &Connection,
    engine: &Engine,
    cache: &FaqCache,
    m: &MessageEvent,
    now: DateTime<Utc>,
) -> Result<Option<FaqAnswered>> {
    let settings = engine.config.faq;
    let Some((chat, user)) = clients::group_message(engine, m) else {
        return Ok(None);
    };
    if !settings.enabled {
        return Ok(None);
    }
    // Matching first: it is pure and most messages match nothing, while
    // the staff check reads the store.
    let index = cache.index(conn)?;
    let Some(found) = index.best(&m.text, settings.min_score) else {
        return Ok(None);
    };
    let eff = engine.effective(conn)?;
    // The firm's users and everyone configured as staff anywhere.
    if auth::role_of(conn, &eff, user)?.is_staff() {
        return Ok(None);
    }
    let Some(entry) = faq::get(conn, found.id)? else {
        return Ok(None); // removed since the index was built
    };
    let repeat = i64::from(settings.repeat_after_minutes) * 60;
    if !faq::record_answer(conn, entry.id, chat, user, m.date.timestamp(), repeat)? {
        return Ok(None);
    }
    let stops = eff.config.faq_stops_sla(chat);
    let mut msg = NewOutbound::new(
        dedupe_key(chat, m.message_id),
        chat,
        Kind::Reply,
        answer_html(&entry.question, &entry.answer, !stops),
    );
    msg.reply_to = Some(m.message_id);
    queue::enqueue_built(conn, &msg, now.timestamp(), "an FAQ answer")?;
    let mut closed_request = false;
    if stops
        && let Some(row) = requests::by_message(conn, chat, m.message_id)?
        && row.status == RequestStatus::Open
    {
        closed_request = engine.close(conn, &row, Closing::Answered, now, None, None)?;
    }
    tracing::info!(
        chat,
        message = m.message_id,
        faq = entry.id,
        score = found.score,
        closed_request,
        "answered from the FAQ"
    );
    Ok(Some(FaqAnswered {
        entry: entry.id,
        score: found.score,
        closed_request,
    }))
}
