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
//!
//! What is not an export at all (an HTML export, a zip, UTF-16 text) is
//! recognised from its first bytes ([`sniff`]); a UTF-8 byte order mark is
//! skipped. Every error names the file and the position (line, column and
//! byte offset) and says what was expected there.

mod dates;
mod parse;
mod sniff;
pub mod synth;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

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
    /// Forwarded from someone else (`forwarded_from`): the words are not
    /// the sender's own.
    pub forwarded: bool,
    /// The `action` of a service entry; `None` for plain messages and for
    /// service entries without one (custom service texts).
    pub action: Option<Action>,
}

impl ExportMessage {
    /// The text as the sender's own words: empty for a forwarded message,
    /// which asks for nothing by itself whatever it says.
    pub fn own_text(&self) -> &str {
        if self.forwarded { "" } else { &self.text }
    }
}

/// The service actions that change how a chat is replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The last entry of a basic group upgraded to a supergroup.
    MigrateToSupergroup,
    /// The first entry of a supergroup made from a basic group, with the
    /// group's title.
    MigrateFromGroup {
        title: Option<String>,
    },
    /// A forum topic opened; messages in it reply to this entry's id.
    TopicCreated {
        title: Option<String>,
    },
    Other,
}

impl Action {
    fn from_export(action: &str, title: Option<String>) -> Action {
        match action {
            "migrate_to_supergroup" => Action::MigrateToSupergroup,
            "migrate_from_group" => Action::MigrateFromGroup { title },
            "topic_created" => Action::TopicCreated { title },
            _ => Action::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportEvent {
    /// Starts a chat; its messages follow.
    Chat(ExportChat),
    Message(ExportMessage),
    /// A `type: "unsupported"` entry (a message this Telegram Desktop could
    /// not export), with its id: no date, no sender, no text.
    Unsupported(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{file}: line {line}, column {column} (byte {offset}): {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        /// The position as a byte count from the start of the file,
        /// 1-based like `column` (a cut file's error is at its length).
        offset: u64,
        message: String,
    },
    /// Not a JSON export at all, recognised from its first bytes.
    #[error(
        "{file}: byte 0: {found}, expected a Telegram Desktop JSON export (result.json): {hint}"
    )]
    NotAnExport {
        file: String,
        found: &'static str,
        hint: &'static str,
    },
    #[error("cannot open {file}: {reason}")]
    Open { file: String, reason: String },
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// sysexits(3): the input is not an export (EX_DATAERR), cannot be opened
/// (EX_NOINPUT), or reading it failed (EX_IOERR).
pub const EX_DATAERR: u8 = 65;
pub const EX_NOINPUT: u8 = 66;
pub const EX_IOERR: u8 = 74;

impl ExportError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ExportError::Syntax { .. } | ExportError::NotAnExport { .. } => EX_DATAERR,
            ExportError::Open { .. } => EX_NOINPUT,
            ExportError::Io { .. } => EX_IOERR,
        }
    }
}

/// Opens an export by path. A directory stands for the `result.json` in
/// it (Telegram Desktop writes `ChatExport_…/result.json`); one holding
/// only `messages.html` is an HTML export, said so.
pub fn open_export(path: &Path) -> Result<(std::fs::File, String), ExportError> {
    let mut path = path.to_path_buf();
    if path.is_dir() {
        let json = path.join("result.json");
        if !json.exists() && path.join("messages.html").exists() {
            return Err(ExportError::NotAnExport {
                file: path.display().to_string(),
                found: "a directory with messages.html (an HTML export)",
                hint: sniff::HTML_HINT,
            });
        }
        path = json;
    }
    let name = path.display().to_string();
    match std::fs::File::open(&path) {
        Ok(f) => Ok((f, name)),
        Err(e) => Err(ExportError::Open {
            file: name,
            reason: e.to_string(),
        }),
    }
}

/// Remembers where the last lines began, so that an error's line and
/// column become a byte offset. serde_json reads one byte at a time; after
/// an error it still reads a little (each enclosing object checks its
/// end), possibly past a line break or two, so a few line starts are kept.
struct Counting<R> {
    inner: R,
    read: u64,
    line: usize,
    /// (line number, offset of its first byte), the latest last.
    starts: std::collections::VecDeque<(usize, u64)>,
}

const LINE_STARTS_KEPT: usize = 64;

impl<R> Counting<R> {
    fn new(inner: R, skip: u64) -> Counting<R> {
        Counting {
            inner,
            read: skip,
            line: 1,
            starts: std::collections::VecDeque::from([(1, skip)]),
        }
    }

    /// 1-based like the column: the bytes up to and including (line,
    /// column). Falls back to the bytes read for a line long gone.
    fn offset(&self, line: usize, column: usize) -> u64 {
        self.starts
            .iter()
            .find(|(l, _)| *l == line)
            .map_or(self.read, |(_, start)| start + column as u64)
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                self.line += 1;
                if self.starts.len() == LINE_STARTS_KEPT {
                    self.starts.pop_front();
                }
                self.starts.push_back((self.line, self.read + i as u64 + 1));
            }
        }
        self.read += n as u64;
        Ok(n)
    }
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
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let io = |source| ExportError::Io {
        file: file.to_owned(),
        source,
    };
    let head = buffered.fill_buf().map_err(io)?;
    let skip = match sniff::sniff(head) {
        sniff::Head::Json { skip } => skip,
        sniff::Head::Not { found, hint } => {
            return Err(ExportError::NotAnExport {
                file: file.to_owned(),
                found,
                hint,
            });
        }
    };
    buffered.consume(skip);
    let mut counting = Counting::new(buffered, skip as u64);
    let mut de = serde_json::Deserializer::from_reader(&mut counting);
    let mut ctx = parse::Ctx {
        visit,
        tz: export_tz,
    };
    let result = serde::de::DeserializeSeed::deserialize(parse::RootSeed(&mut ctx), &mut de)
        .and_then(|()| de.end());
    drop(de);
    result.map_err(|e| {
        let offset = counting.offset(e.line(), e.column());
        convert_error(e, file, offset)
    })
}

/// Splits a serde_json error into our kinds, keeping its position but not
/// repeating it in the message, and saying what a bare serde_json message
/// leaves the reader to guess.
fn convert_error(e: serde_json::Error, file: &str, offset: u64) -> ExportError {
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
    if e.is_eof() {
        message.push_str(
            ": the file ends before the export does (truncated, or not fully downloaded or copied?)",
        );
    } else if message.contains("invalid unicode code point") {
        message.push_str(": expected UTF-8 text (the file has bytes that are not UTF-8)");
    }
    ExportError::Syntax {
        file: file.to_owned(),
        line,
        column,
        offset,
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
        match convert_error(e, "f.json", 1) {
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
