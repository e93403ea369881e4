//! One press of an inline button and what to do about it: the types every
//! button handler (alerts in [`super::callback`], survey votes in
//! [`super::survey`]) shares, apart from the dispatcher so that handlers
//! do not import the module that calls them.

use rusqlite::Connection;

use crate::telegram::outbound::queue::{self, EnqueueError, Enqueued, NewOutbound};

/// One press of an inline button, as the transport received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPress {
    pub query_id: i64,
    /// The chat of the pressed message: the presser's private chat.
    pub chat_id: i64,
    /// Telegram's id of the pressed (alert) message.
    pub message_id: i64,
    pub user_id: i64,
    pub data: Vec<u8>,
}

/// What to do about a press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOutcome {
    /// The toast (plain text, not HTML).
    pub answer: String,
    /// Show the answer as a dialog rather than a toast.
    pub alert: bool,
    /// Edits and reminders to queue in the same transaction.
    pub queue: Vec<NewOutbound>,
    /// Whether the store changed (a request resolved, reminders queued).
    pub changed: bool,
}

impl CallbackOutcome {
    pub(super) fn toast(answer: impl Into<String>) -> CallbackOutcome {
        CallbackOutcome {
            answer: answer.into(),
            alert: false,
            queue: Vec::new(),
            changed: false,
        }
    }

    /// Queues [`Self::queue`]; returns how many rows were new (a repeated
    /// press finds them queued already).
    pub fn enqueue(&self, conn: &Connection, now: i64) -> Result<usize, EnqueueError> {
        let mut new = 0;
        for msg in &self.queue {
            if let Enqueued::New(_) = queue::enqueue(conn, msg, now)? {
                new += 1;
            }
        }
        Ok(new)
    }
}

/// The answer to a press the bot no longer knows (an old message, a
/// button of an earlier version).
pub const STALE: &str = "Эта кнопка устарела. Пожалуйста, откройте свежее уведомление.";
