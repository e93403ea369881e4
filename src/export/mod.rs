//! Streaming reader of Telegram Desktop chat exports (`result.json`).
//!
//! Accepts a single-chat export (an object with `messages`) and a full
//! export (`chats.list[]`). The reader never holds more than one message in
//! memory: it hands each chat header and message to a callback as it goes.
//!
//! Layout: [`parse`] holds the serde `DeserializeSeed`/`Visitor` machinery
//! (the only place that knows the JSON shape), [`dates`] turns the export's
//! date strings into instants. Parsing is driven by serde_json's streaming
//! deserializer, so memory stays flat however big the export is: a message
//! is built, handed to the callback and dropped before the next one is read.
//!
//! Key order: real exports write a chat's `name`, `type` and `id` before its
//! `messages`. The reader emits [`ExportEvent::Chat`] when it reaches
//! `messages`, with what it knows by then; a chat whose `id` or `type` come
//! after `messages` is rejected with a clear syntax error rather than
//! guessed at (a wrong chat id would silently merge or split chats in the
//! replay). A chat without `messages` is announced at the end of its object.

mod dates;
mod parse;
pub mod synth;

use std::io::{BufReader, Read};

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
    /// A channel or an anonymous group admin posting as the chat, with its
    /// Bot-API id: `from_id` `"channel123"` → `-100…123`, `"chat123"` → `-123`.
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
    // serde_json reads byte by byte from the reader; a large buffer keeps
    // that cheap even when `reader` is an unbuffered `File`.
    let buffered = BufReader::with_capacity(64 * 1024, reader);
    let mut de = serde_json::Deserializer::from_reader(buffered);
    let mut ctx = parse::Ctx {
        visit,
        tz: export_tz,
    };
    let result = serde::de::DeserializeSeed::deserialize(parse::RootSeed(&mut ctx), &mut de)
        .and_then(|()| de.end());
    result.map_err(|e| convert_error(e, file))
}

/// Splits a serde_json error into our two kinds, keeping its position but
/// not repeating it in the message.
fn convert_error(e: serde_json::Error, file: &str) -> ExportError {
    if e.is_io() {
        return ExportError::Io {
            file: file.to_owned(),
            source: std::io::Error::from(e),
        };
    }
    let (line, column) = (e.line(), e.column());
    let mut message = e.to_string();
    if line != 0 {
        let suffix = format!(" at line {line} column {column}");
        if message.ends_with(&suffix) {
            message.truncate(message.len() - suffix.len());
        }
    }
    ExportError::Syntax {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

/// Maps the export's chat id to the Bot API form, which is what the live bot
/// sees, so that replayed and live chats share ids. `None` on overflow.
pub fn bot_api_chat_id(kind: &str, id: i64) -> Option<i64> {
    if id < 0 {
        // Some tools already write Bot-API ids; keep them.
        return Some(id);
    }
    match kind {
        "private_supergroup" | "public_supergroup" | "private_channel" | "public_channel" => {
            id.checked_add(1_000_000_000_000).map(|v| -v)
        }
        "private_group" => Some(-id),
        _ => Some(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_follow_the_bot_api() {
        assert_eq!(
            bot_api_chat_id("private_supergroup", 1987654321),
            Some(-1001987654321)
        );
        assert_eq!(bot_api_chat_id("public_channel", 5), Some(-1000000000005));
        assert_eq!(bot_api_chat_id("private_group", 42), Some(-42));
        assert_eq!(bot_api_chat_id("personal_chat", 42), Some(42));
        assert_eq!(
            bot_api_chat_id("private_supergroup", -100123),
            Some(-100123)
        );
        assert_eq!(bot_api_chat_id("public_supergroup", i64::MAX), None);
    }

    #[test]
    fn error_message_loses_the_duplicate_position() {
        let e = serde_json::from_str::<u8>("x").unwrap_err();
        match convert_error(e, "f.json") {
            ExportError::Syntax {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((line, column), (1, 1));
                assert_eq!(message, "expected value");
            }
            other => panic!("{other:?}"),
        }
    }
}
