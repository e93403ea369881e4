//! The persistent, paced, idempotent outbound queue.
//!
//! Every message buhbot sends to Telegram is first a row of
//! `outbound_messages` ([`queue::enqueue`]); one sender loop
//! ([`run_outbound_with`]) sends the due rows through a [`TelegramApi`], paced
//! within Telegram's limits ([`pacer`]), and records every outcome.
//!
//! # What is guaranteed
//!
//! - **One logical message is enqueued once.** The `dedupe_key` is unique;
//!   enqueueing an existing key is a no-op that returns the existing row.
//! - **No resend after a recorded send.** The Telegram message id is written
//!   in the same transaction that marks the row `sent`; a `sent` row is
//!   never picked again, by this process or after a restart.
//! - **The crash window is one in-flight message, and it is closed when the
//!   transport can tell.** The row is committed as `sending` before the API
//!   call. A row still `sending` at start-up is a send whose outcome is
//!   unknown; the sender asks [`TelegramApi::lookup_sent`] whether Telegram
//!   has it. `Sent(id)` records it without resending (exactly once);
//!   `NotSent` resends; `Unknown` (a transport that cannot look up) resends
//!   and logs a warning: at-least-once, with at most one duplicate per
//!   crash, because only one message is ever in flight.
//! - **Per-chat order.** Within a chat, pending messages go in enqueue
//!   order: only the oldest unsent message of a chat is eligible, so a
//!   message waiting for a retry or a FLOOD_WAIT holds back the later ones
//!   of its chat (and only of its chat). A permanently failed message loses
//!   its place instead of blocking the chat until it is given up.
//! - Edits are idempotent on Telegram's side (the same text twice is
//!   "not modified"), so the transport reports a repeated edit as success.

// Test-only: never in a release build (scripts/build-deb.sh checks).
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod pacer;
pub mod queue;
mod sender;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use pacer::{Limits, Pacer, TokioClock};
pub use queue::{EnqueueError, Enqueued, NewOutbound};
pub use sender::{OutboundConfig, OutboundError, run_outbound_with};

/// Telegram refuses callback data longer than this (bytes).
pub const MAX_CALLBACK_DATA: usize = 64;

/// What a queued message is; stored as text in `outbound_messages.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An SLA alert to a staff member's private chat.
    Alert,
    /// A message in a chat answering a user.
    Reply,
    /// A new text for a message sent earlier (`edit_of`).
    Edit,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Alert => "alert",
            Kind::Reply => "reply",
            Kind::Edit => "edit",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "alert" => Kind::Alert,
            "reply" => Kind::Reply,
            "edit" => Kind::Edit,
            _ => return None,
        })
    }
}

/// One inline-keyboard button: either callback data or a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A queued message as the transport sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub id: i64,
    pub dedupe_key: String,
    pub chat_id: i64,
    /// HTML (Telegram's parse-mode subset).
    pub text: String,
    /// Inline keyboard rows; empty for none.
    pub buttons: Vec<Vec<Button>>,
    pub reply_to: Option<i64>,
    pub kind: Kind,
    /// For [`Kind::Edit`]: the Telegram message id (in `chat_id`) to edit.
    pub edit_of: Option<i64>,
    pub attempts: i64,
    pub created_at: i64,
}

/// Why the transport could not send, split by what the queue does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Telegram's FLOOD_WAIT_X for this chat: nothing may go to the chat
    /// for `seconds`; other chats are not affected.
    #[error("FLOOD_WAIT: Telegram asks to wait {seconds} s before sending to this chat")]
    FloodWait { seconds: u32 },
    /// Worth retrying: network trouble, timeouts, Telegram 5xx.
    #[error("transient Telegram error: {0}")]
    Transient(String),
    /// Retrying as is cannot help: chat not found, bot kicked or blocked.
    #[error("permanent Telegram error: {0}")]
    Permanent(String),
}

/// What Telegram knows of a message whose send outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// It was delivered, as this Telegram message id.
    Sent(i64),
    /// It certainly was not delivered.
    NotSent,
    /// The transport cannot tell.
    Unknown,
}

/// A boxed future, so that [`TelegramApi`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The transport the queue sends through (grammers in production, the
/// `fake::RecordingApi` in tests). Calls are made one at a time and never
/// retried by the transport: the queue decides by the error kind.
pub trait TelegramApi: Send + Sync {
    /// Sends a new message; returns its Telegram message id.
    fn send<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>>;

    /// Replaces the text (and keyboard) of message `msg.edit_of` in
    /// `msg.chat_id`; returns the edited message's id. "Not modified" is
    /// success: it means an earlier attempt already did the edit.
    fn edit<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>>;

    /// Whether `msg` (found `sending` after a crash) reached Telegram, e.g.
    /// by scanning the chat's recent messages for its dedupe marker or by
    /// resending with a `random_id` derived from the dedupe key. The
    /// default cannot tell, which makes such a message at-least-once.
    fn lookup_sent<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Lookup> {
        let _ = msg;
        Box::pin(async { Lookup::Unknown })
    }

    /// Answers a button press with a toast (`alert`: a dialog the user must
    /// close). Not a message, so not queued: Telegram wants the answer
    /// within seconds, and an unanswered press only spins for the user.
    fn answer_callback<'a>(
        &'a self,
        query_id: i64,
        text: &'a str,
        alert: bool,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}
