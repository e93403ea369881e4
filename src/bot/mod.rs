//! The bot's commands: parsed from a message text ([`parse`]), authorised
//! against the store's `users` table and chat staff, executed against the
//! store ([`handle`]), and rate-limited per user ([`ratelimit`]).
//!
//! Nothing here knows Telegram: the transport maps an incoming message to a
//! [`CommandContext`] and queues the [`Reply`] (see [`Reply::outbound`]).
//! Settings changes go through `store::chats` (validation, settings
//! revision, audit with `by` = the user id), so a running daemon picks them
//! up and re-times open requests exactly as after `buhbot chats set`.

mod alert_sink;
pub(crate) mod auth;
pub mod buttons;
pub mod callback;
pub mod faq;
pub mod handle;
pub mod parse;
mod press;
pub mod ratelimit;
mod report;
pub mod survey;
pub mod survey_steps;
mod template;
mod texts;

use chrono::{DateTime, Utc};
use governor::clock::Clock;
use rusqlite::Connection;

use crate::core::engine::Engine;
use crate::telegram::outbound::{Kind, NewOutbound};

pub use alert_sink::{EngineSource, TelegramSink};
pub use auth::Role;
pub use callback::{CallbackOutcome, CallbackPress, on_callback};
pub use handle::handle;
pub use parse::{Command, ParseError, Sla, Target, parse};
pub use ratelimit::{RateLimit, Verdict};

/// Where a command came from and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub chat_id: i64,
    /// The user's private chat with the bot (not a group).
    pub chat_is_private: bool,
    pub from: i64,
    pub message_id: i64,
    /// The message the command replies to, if any.
    pub reply_to: Option<i64>,
    /// The author of the message the command replies to, if any.
    pub reply_to_author: Option<i64>,
    /// Mentions in the message: (`@username` or the text of a text
    /// mention, the user id when Telegram gave it).
    pub mention_ids: Vec<(String, Option<i64>)>,
    /// Whether the bot sees every message of the chat (privacy mode off,
    /// or an administrator there); `None` when the transport cannot tell.
    pub bot_reads_all: Option<bool>,
    /// Whether the sender administers the group (Telegram's own rights,
    /// not a buhbot role); asked of Telegram only for `/diagnose`.
    pub sender_is_chat_admin: Option<bool>,
    pub now: DateTime<Utc>,
}

/// The bot's answer to a command: in the chat the command came from, or
/// (a template's errors) privately to the staff member who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Telegram HTML (parse mode HTML), user content escaped.
    pub text_html: String,
    /// The chat the command came from.
    pub to_chat: i64,
    pub route: Route,
}

/// How a [`Reply`] is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// A reply to the command in its chat.
    #[default]
    Reply,
    /// A message of its own in the chat (a filled template), replying to
    /// the message the command replied to, if any.
    Post { reply_to: Option<i64> },
    /// A private message to this user: what the chat must not see.
    Private(i64),
}

impl Reply {
    /// A reply to the command in its chat.
    pub fn in_chat(text_html: impl Into<String>, chat: i64) -> Reply {
        Reply {
            text_html: text_html.into(),
            to_chat: chat,
            route: Route::Reply,
        }
    }
}

impl Reply {
    /// The dedupe key of the answer to message `message_id` of `chat`.
    pub fn dedupe_key(chat: i64, message_id: i64) -> String {
        format!("reply:{chat}:{message_id}")
    }

    /// The outbound-queue message answering `message_id`. The dedupe key is
    /// per command message (whatever the route), so a redelivered command
    /// is answered once.
    pub fn outbound(&self, message_id: i64) -> NewOutbound {
        let (chat, reply_to) = match self.route {
            Route::Reply => (self.to_chat, Some(message_id)),
            Route::Post { reply_to } => (self.to_chat, reply_to),
            Route::Private(user) => (user, None),
        };
        let mut msg = NewOutbound::new(
            Reply::dedupe_key(self.to_chat, message_id),
            chat,
            Kind::Reply,
            self.text_html.clone(),
        );
        msg.reply_to = reply_to;
        msg
    }
}

/// The whole path of one message addressed to the bot: rate limit, parse,
/// execute. Returns the reply to queue, if any.
///
/// Only messages addressed to the bot count against the rate limit
/// (commands, and anything in a private chat with it): ordinary group
/// chatter is the clients' business and must never draw a notice. The
/// caller logs every message regardless (SLA tracking needs them all).
/// A command for another bot, or an unknown command in a group (likely
/// another bot's), gets no answer.
pub fn respond<C: Clock + Clone>(
    conn: &Connection,
    engine: &Engine,
    limit: &RateLimit<C>,
    ctx: CommandContext,
    text: &str,
    bot_username: Option<&str>,
) -> crate::store::Result<Option<Reply>> {
    let parsed = parse(text, bot_username);
    if matches!(parsed, Ok(None)) && !ctx.chat_is_private {
        return Ok(None);
    }
    // Staff (exempt from the limit): in `users` or named in the settings.
    let eff = engine.effective(conn)?;
    let staff = auth::role_of(conn, &eff, ctx.from)?.is_staff();
    let reply = |text: &str| Reply::in_chat(text, ctx.chat_id);
    match limit.check(ctx.from, staff) {
        Verdict::Limited { notify: true } => return Ok(Some(reply(ratelimit::NOTICE_HTML))),
        Verdict::Limited { notify: false } => return Ok(None),
        Verdict::Allowed => {}
    }
    match parsed {
        Ok(Some(cmd)) => handle(conn, engine, ctx, cmd).map(Some),
        // A private message that is not a command: point to the help.
        Ok(None) => Ok(Some(reply(
            "Я понимаю только команды. Список команд: /help",
        ))),
        Err(e @ ParseError::Unknown(_)) if !ctx.chat_is_private => {
            tracing::debug!(chat = ctx.chat_id, "ignoring {e}");
            Ok(None)
        }
        Err(e) => Ok(Some(reply(&parse::escape_hint(&e)))),
    }
}
