//! What event sources hand to the ingest pipeline.

use chrono::{DateTime, Utc};

use crate::domain::receipts::Attachment;
use crate::domain::sla::SenderKind;

/// A new message or a new version (edit) of one.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub chat_id: i64,
    pub chat_title: Option<String>,
    pub message_id: i64,
    /// 0 for a new message; the edit's Unix date for an edit.
    pub edit_version: i64,
    pub date: DateTime<Utc>,
    pub sender: SenderKind,
    pub sender_name: Option<String>,
    /// Text, or the caption of a media message.
    pub text: String,
    pub reply_to: Option<i64>,
    pub has_media: bool,
    /// A document or photo, with its name and size (file receipts); other
    /// media (stickers, voice, links) only set `has_media`.
    pub attachment: Option<Attachment>,
    pub service: bool,
}

/// What happened: a message (or an edit), or a change to a chat itself.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Message(MessageEvent),
    /// The bot was added to a group (or a group was created with it).
    ChatAdded {
        chat_id: i64,
        title: Option<String>,
        /// Who added the bot, when Telegram says.
        by: Option<i64>,
        date: DateTime<Utc>,
    },
    /// The bot was removed from (or left) a group.
    ChatRemoved {
        chat_id: i64,
        date: DateTime<Utc>,
    },
    ChatTitle {
        chat_id: i64,
        title: String,
        date: DateTime<Utc>,
    },
    /// A basic group became a supergroup (announced in both; both sides map
    /// to this one event).
    ChatMigrated {
        old_chat_id: i64,
        new_chat_id: i64,
        date: DateTime<Utc>,
    },
}

impl EventKind {
    /// When it happened, by Telegram's own clock.
    pub fn date(&self) -> DateTime<Utc> {
        match self {
            EventKind::Message(m) => m.date,
            EventKind::ChatAdded { date, .. }
            | EventKind::ChatRemoved { date, .. }
            | EventKind::ChatTitle { date, .. }
            | EventKind::ChatMigrated { date, .. } => *date,
        }
    }
}

/// One inbound event with the source position reached after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// Stored in the same transaction, so a restart resumes after it.
    pub position: String,
}

impl Event {
    /// When it happened, by Telegram's own clock.
    pub fn date(&self) -> DateTime<Utc> {
        self.kind.date()
    }

    /// `message`, `edit` or `chat`, as the metrics name events.
    pub fn kind(&self) -> &'static str {
        match &self.kind {
            EventKind::Message(m) if m.edit_version == 0 => "message",
            EventKind::Message(_) => "edit",
            _ => "chat",
        }
    }
}
