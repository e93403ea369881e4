//! Which messages open, join and answer requests.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{MessageId, UserId};
use crate::domain::classify::{Category, Classification, Classifier};

/// Who the people of a chat are, as far as the SLA is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatContext {
    /// The chat's accountants: their messages answer requests.
    pub accountants: BTreeSet<UserId>,
    /// Every staff member of the firm (managers, admins, observers, other
    /// chats' accountants): their messages neither open nor answer.
    pub staff: BTreeSet<UserId>,
    /// The bot's own accounts.
    pub bots: BTreeSet<UserId>,
}

/// The sender of an inbound message, before roles are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    User(UserId),
    /// A channel or an anonymous admin posting as the chat.
    Chat(i64),
    /// Service messages (joins, title changes, …) and unknown senders.
    None,
}

/// One message of a chat, in the engine's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inbound<'a> {
    pub id: MessageId,
    pub date: DateTime<Utc>,
    pub sender: SenderKind,
    /// The text or the caption; empty for media without a caption.
    pub text: &'a str,
    pub reply_to: Option<MessageId>,
    pub service: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenRequest {
    /// The message that opened it; the request's id within the chat.
    pub message_id: MessageId,
    pub client_id: UserId,
    pub received_at: DateTime<Utc>,
    pub classification: Classification,
}

/// What one message changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Opened(OpenRequest),
    /// A further message of the client while the request is open.
    Joined {
        request: MessageId,
        message_id: MessageId,
    },
    Answered {
        request: OpenRequest,
        answered_at: DateTime<Utc>,
        answered_by: UserId,
        /// The accountant's message.
        message_id: MessageId,
    },
}

/// The request state of one chat.
#[derive(Debug, Clone, Default)]
pub struct ChatTracker {
    /// At most one open request per client.
    open: BTreeMap<UserId, OpenRequest>,
    /// Client messages (id → sender), to resolve replies. Message ids grow
    /// within a chat, so this stays sorted and compact (16 bytes a message).
    client_messages: Vec<(MessageId, UserId)>,
}

impl ChatTracker {
    pub fn new() -> ChatTracker {
        ChatTracker::default()
    }

    /// Applies one message; `classifier` is consulted only for client
    /// messages with text.
    pub fn on_message(
        &mut self,
        ctx: &ChatContext,
        msg: &Inbound<'_>,
        classifier: &Classifier,
    ) -> Vec<Change> {
        let SenderKind::User(user) = msg.sender else {
            return Vec::new();
        };
        if msg.service || ctx.bots.contains(&user) {
            return Vec::new();
        }
        if ctx.accountants.contains(&user) {
            return self.answer(user, msg);
        }
        if ctx.staff.contains(&user) {
            // Managers and other chats' accountants neither open nor answer.
            return Vec::new();
        }
        self.remember_client_message(msg.id, user);
        if let Some(open) = self.open.get(&user) {
            return vec![Change::Joined {
                request: open.message_id,
                message_id: msg.id,
            }];
        }
        if msg.text.trim().is_empty() {
            // A file or photo without a caption asks for nothing by itself.
            return Vec::new();
        }
        let classification = classifier.classify(msg.text);
        if classification.category != Category::Request {
            return Vec::new();
        }
        let request = OpenRequest {
            message_id: msg.id,
            client_id: user,
            received_at: msg.date,
            classification,
        };
        self.open.insert(user, request);
        vec![Change::Opened(request)]
    }

    fn answer(&mut self, accountant: UserId, msg: &Inbound<'_>) -> Vec<Change> {
        let answered = |request: OpenRequest| Change::Answered {
            request,
            answered_at: msg.date,
            answered_by: accountant,
            message_id: msg.id,
        };
        if let Some(client) = msg.reply_to.and_then(|id| self.client_of(id)) {
            // A reply to a client's message answers that client only.
            return self.open.remove(&client).map(answered).into_iter().collect();
        }
        std::mem::take(&mut self.open).into_values().map(answered).collect()
    }

    /// Closes a request without an answer message ("mark resolved").
    pub fn resolve(&mut self, request: MessageId) -> Option<OpenRequest> {
        let client = self
            .open
            .values()
            .find(|r| r.message_id == request)?
            .client_id;
        self.open.remove(&client)
    }

    pub fn open_requests(&self) -> impl Iterator<Item = &OpenRequest> {
        self.open.values()
    }

    /// Restores an open request (e.g. from a durable store).
    pub fn restore_open(&mut self, request: OpenRequest) {
        self.open.insert(request.client_id, request);
    }

    fn remember_client_message(&mut self, id: MessageId, client: UserId) {
        match self.client_messages.last() {
            Some(&(last, _)) if last >= id => {
                let pos = self.client_messages.partition_point(|&(m, _)| m < id);
                if self.client_messages.get(pos).map(|&(m, _)| m) != Some(id) {
                    self.client_messages.insert(pos, (id, client));
                }
            }
            _ => self.client_messages.push((id, client)),
        }
    }

    /// The client who wrote message `id`, if it was a client's.
    pub fn client_of(&self, id: MessageId) -> Option<UserId> {
        self.client_messages
            .binary_search_by_key(&id, |&(m, _)| m)
            .ok()
            .map(|i| self.client_messages[i].1)
    }
}
