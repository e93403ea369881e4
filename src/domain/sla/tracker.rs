//! Which messages open, join and answer requests.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

impl ChatContext {
    /// Clients are every user who is neither staff nor a bot.
    pub fn is_client(&self, user: UserId) -> bool {
        !self.accountants.contains(&user)
            && !self.staff.contains(&user)
            && !self.bots.contains(&user)
    }
}

/// The open requests of one chat. Which message a reply points to is the
/// caller's to resolve (the replay keeps [`ClientMessages`], the daemon asks
/// its message log), so the tracker holds nothing per message.
#[derive(Debug, Clone, Default)]
pub struct ChatTracker {
    /// At most one open request per client.
    open: BTreeMap<UserId, OpenRequest>,
}

impl ChatTracker {
    pub fn new() -> ChatTracker {
        ChatTracker::default()
    }

    /// Applies one message. `reply_sender` is the author of the message it
    /// replies to, when known; `classifier` is consulted only for client
    /// messages with text.
    pub fn on_message(
        &mut self,
        ctx: &ChatContext,
        msg: &Inbound<'_>,
        reply_sender: Option<UserId>,
        classifier: &Classifier,
    ) -> Vec<Change> {
        let SenderKind::User(user) = msg.sender else {
            return Vec::new();
        };
        if msg.service || ctx.bots.contains(&user) {
            return Vec::new();
        }
        if ctx.accountants.contains(&user) {
            let client = reply_sender.filter(|&u| ctx.is_client(u));
            return self.answer(user, msg, client);
        }
        if ctx.staff.contains(&user) {
            // Managers and other chats' accountants neither open nor answer.
            return Vec::new();
        }
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

    fn answer(
        &mut self,
        accountant: UserId,
        msg: &Inbound<'_>,
        client: Option<UserId>,
    ) -> Vec<Change> {
        let answered = |request: OpenRequest| Change::Answered {
            request,
            answered_at: msg.date,
            answered_by: accountant,
            message_id: msg.id,
        };
        if let Some(client) = client {
            // A reply to a client's message answers that client only.
            return self
                .open
                .remove(&client)
                .map(answered)
                .into_iter()
                .collect();
        }
        std::mem::take(&mut self.open)
            .into_values()
            .map(answered)
            .collect()
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

    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

/// Client messages of a chat (id → sender), to resolve replies during a
/// replay. Message ids grow within a chat, so this stays sorted; each
/// message costs 10 bytes (its id, and the index of its client among the
/// chat's distinct clients, 16 bits until there are more than 65 536 of
/// them), which is what a multi-gigabyte chat needs.
#[derive(Debug, Clone, Default)]
pub struct ClientMessages {
    ids: Vec<MessageId>,
    who: Who,
    clients: Vec<UserId>,
    index: HashMap<UserId, u32>,
}

#[derive(Debug, Clone)]
enum Who {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for Who {
    fn default() -> Who {
        Who::Narrow(Vec::new())
    }
}

impl Who {
    fn insert(&mut self, pos: usize, who: u32) {
        if let (Who::Narrow(v), Err(_)) = (&*self, u16::try_from(who)) {
            *self = Who::Wide(v.iter().map(|&w| u32::from(w)).collect());
        }
        match self {
            Who::Narrow(v) => v.insert(pos, who as u16),
            Who::Wide(v) => v.insert(pos, who),
        }
    }

    fn get(&self, pos: usize) -> usize {
        match self {
            Who::Narrow(v) => usize::from(v[pos]),
            Who::Wide(v) => v[pos] as usize,
        }
    }
}

impl ClientMessages {
    pub fn insert(&mut self, id: MessageId, client: UserId) {
        let next = self.clients.len() as u32;
        let who = *self.index.entry(client).or_insert(next);
        if who == next {
            self.clients.push(client);
        }
        let pos = match self.ids.last() {
            Some(&last) if last >= id => {
                let pos = self.ids.partition_point(|&m| m < id);
                if self.ids.get(pos) == Some(&id) {
                    return;
                }
                pos
            }
            _ => self.ids.len(),
        };
        self.ids.insert(pos, id);
        self.who.insert(pos, who);
    }

    /// The client who wrote message `id`, if it was a client's.
    pub fn sender(&self, id: MessageId) -> Option<UserId> {
        self.ids
            .binary_search(&id)
            .ok()
            .map(|i| self.clients[self.who.get(i)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_resolve_in_and_out_of_order_keeping_the_first_of_a_repeated_id() {
        let mut m = ClientMessages::default();
        m.insert(10, 100);
        m.insert(12, 200);
        m.insert(11, 100);
        m.insert(12, 300);
        m.insert(5, 300);
        let got: Vec<_> = [5, 10, 11, 12, 13].iter().map(|&id| m.sender(id)).collect();
        assert_eq!(got, [Some(300), Some(100), Some(100), Some(200), None]);
        // More distinct clients than 16 bits index: the index widens.
        for c in 0..70_000 {
            m.insert(100 + c, 1_000_000 + c);
        }
        assert_eq!(m.sender(10), Some(100));
        assert_eq!(m.sender(100 + 69_999), Some(1_069_999));
        assert_eq!(m.sender(100 + 65_000), Some(1_065_000));
    }
}
