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
//!   of its chat (and only of its chat). A permanently failed message is
//!   not retried and loses its place at once.
//! - **One retry policy.** Transient failures are retried with the
//!   configured [`crate::core::delivery::RetryPolicy`] (the one alerts use);
//!   permanent ones stop at once, are logged and counted
//!   (`buhbot_deliveries_failed_total`), and an alert's delivery row
//!   follows its outbound row in the same transaction.
//! - Edits are idempotent on Telegram's side (the same text twice is
//!   "not modified"), so the transport reports a repeated edit as success.

// Test-only: never in a release build (scripts/build-deb.sh checks).
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
pub mod pacer;
mod sender;

use std::future::Future;
use std::pin::Pin;

/// The queue's table and data types live in the store.
pub use crate::store::outbound as queue;
pub use pacer::{Limits, Pacer, TokioClock};
pub use queue::{
    Button, EnqueueError, Enqueued, Kind, MAX_CALLBACK_DATA, NewOutbound, OutboundMessage,
    OutboundStatus,
};
pub use sender::{OutboundConfig, OutboundError, run_outbound_with};

/// Why the transport could not send: the typed cause, which
/// [`crate::core::delivery::verdict`] turns into retry (FLOOD_WAIT: only
/// that chat waits) or stop.
pub use crate::core::delivery::Cause as SendError;

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
