//! Streaming reader of Telegram Desktop chat exports (`result.json`).
//!
//! Accepts a single-chat export (an object with `messages`) and a full
//! export (`chats.list[]`). The reader never holds more than one message in
//! memory: it hands each chat header and message to a callback as it goes.

use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A chat as the export describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportChat {
    /// Bot-API-style id: `-100…` for supergroups and channels, negative for
    /// basic groups, positive for private chats.
    pub id: i64,
    pub name: Option<String>,
    /// The export's `type`, e.g. `private_supergroup`.
    pub kind: String,
}

/// Who sent a message, from the export's `from_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    User(i64),
    /// A channel or an anonymous group admin posting as the chat.
    Chat(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportMessage {
    pub id: i64,
    /// `type: "service"` entries (joins, title changes, pins, …).
    pub service: bool,
    pub date: DateTime<Utc>,
    pub sender: Option<Sender>,
    pub sender_name: Option<String>,
    /// Plain text (entities flattened); for media, the caption; may be empty.
    pub text: String,
    pub reply_to: Option<i64>,
    /// A document, photo, sticker, voice message, … is attached.
    pub has_media: bool,
    pub edited: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportEvent {
    /// Starts a chat; its messages follow.
    Chat(ExportChat),
    Message(ExportMessage),
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{file}: line {line}, column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads an export from `reader`, calling `visit` for each chat and message
/// in file order. `file` names the input in errors; `export_tz` interprets
/// local `date` strings of exports that lack `date_unixtime`.
pub fn read_export<R: Read>(
    reader: R,
    file: &str,
    export_tz: Tz,
    visit: &mut dyn FnMut(ExportEvent),
) -> Result<(), ExportError> {
    let _ = (reader, file, export_tz, visit);
    todo!("export reader")
}
