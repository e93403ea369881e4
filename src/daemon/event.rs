//! What event sources hand to the ingest pipeline.

use chrono::{DateTime, Utc};

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
    pub service: bool,
}

/// One inbound event with the source position reached after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub message: MessageEvent,
    /// Stored in the same transaction, so a restart resumes after it.
    pub position: String,
}

impl Event {
    /// When it happened, by Telegram's own clock.
    pub fn date(&self) -> DateTime<Utc> {
        self.message.date
    }

    /// `message` or `edit`, as the metrics name events.
    pub fn kind(&self) -> &'static str {
        if self.message.edit_version == 0 {
            "message"
        } else {
            "edit"
        }
    }
}
