//! Event sources. `replay:FILE[?speed=N]` feeds a Telegram Desktop export
//! (or a JSON-lines file of events) through the real pipeline; the default
//! source is Telegram (see [`super::telegram`]).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::event::{Event, EventKind, MessageEvent};
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::domain::sla::SenderKind;
use crate::export::{self, ExportEvent, ExportMessage, Sender};
use crate::telegram::link::Me;

/// What `--source` names.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Replay { file: PathBuf, speed: f64 },
    Telegram,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("unknown source {0:?}: expected replay:FILE[?speed=N] or telegram")]
    Unknown(String),
    #[error("bad replay speed {0:?}: expected a positive number")]
    Speed(String),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error("{file}: line {line}: {message}")]
    Lines {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot open {file}: {source}")]
    Open {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl std::str::FromStr for SourceSpec {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        if s == "telegram" {
            return Ok(SourceSpec::Telegram);
        }
        let Some(rest) = s.strip_prefix("replay:") else {
            return Err(SourceError::Unknown(s.to_string()));
        };
        let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut speed = 1.0;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("speed", v)) => {
                    speed = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| SourceError::Speed(v.to_string()))?;
                }
                _ => return Err(SourceError::Unknown(s.to_string())),
            }
        }
        Ok(SourceSpec::Replay {
            file: PathBuf::from(file),
            speed,
        })
    }
}

/// Where a replay stands: `N@UNIX` — N events processed, the last one
/// dated UNIX (the virtual clock resumes there).
pub fn parse_position(p: &str) -> Option<(u64, i64)> {
    let (n, t) = p.split_once('@')?;
    Some((n.parse().ok()?, t.parse().ok()?))
}

fn message_event(chat_id: i64, chat_title: Option<&str>, m: ExportMessage) -> MessageEvent {
    MessageEvent {
        chat_id,
        chat_title: chat_title.map(str::to_string),
        message_id: m.id,
        edit_version: 0,
        date: m.date,
        sender: match m.sender {
            Some(Sender::User(id)) => SenderKind::User(id),
            Some(Sender::Chat(id)) => SenderKind::Chat(id),
            None => SenderKind::None,
        },
        sender_name: m.sender_name,
        // As `buhbot replay` reads it: forwarded words are not a request.
        text: if m.forwarded { String::new() } else { m.text },
        reply_to: m.reply_to,
        has_media: m.has_media,
        attachment: None,
        service: m.service,
    }
}

/// The date of the first event of a replay file (the virtual clock's
/// origin on a first start).
pub fn first_date(file: &std::path::Path, tz: Tz) -> Result<Option<DateTime<Utc>>, SourceError> {
    let (tx, mut rx) = mpsc::channel(1);
    let path = file.to_path_buf();
    let handle = std::thread::spawn(move || read_replay(&path, tz, 0, &tx));
    let first = rx.blocking_recv().map(|e| e.date());
    drop(rx);
    let _ = handle.join();
    Ok(first)
}

/// Reads a replay file on the calling (blocking) thread, sending events
/// after the first `skip` into `tx`. Stops early when the receiver is gone.
pub fn read_replay(
    file: &std::path::Path,
    tz: Tz,
    skip: u64,
    tx: &mpsc::Sender<Event>,
) -> Result<(), SourceError> {
    let name = file.display().to_string();
    let f = File::open(file).map_err(|source| SourceError::Open {
        file: name.clone(),
        source,
    })?;
    let mut ordinal = 0u64;
    let mut send = |message: MessageEvent| -> bool {
        ordinal += 1;
        if ordinal <= skip {
            return true;
        }
        let position = format!("{ordinal}@{}", message.date.timestamp());
        tx.blocking_send(Event {
            kind: EventKind::Message(message),
            position,
        })
        .is_ok()
    };
    if file.extension().is_some_and(|e| e == "jsonl") {
        return read_jsonl(BufReader::new(f), &name, &mut send);
    }
    let mut chat: Option<(i64, Option<String>)> = None;
    let mut open = true;
    let mut visit = |e: ExportEvent| match e {
        ExportEvent::Chat(c) => chat = Some((c.id, c.name)),
        ExportEvent::Message(m) if open => {
            let (id, title) = chat.as_ref().map_or((0, None), |(i, t)| (*i, t.as_deref()));
            open = send(message_event(id, title, m));
        }
        ExportEvent::Message(_) | ExportEvent::Unsupported(_) => {}
    };
    export::read_export(f, &name, tz, &mut visit)?;
    Ok(())
}

/// JSON lines: one object per line, `{"chat_id", "message_id", "date"
/// (RFC 3339), "from" (user id), "text", "reply_to", "edit_version"}`.
fn read_jsonl(
    r: impl BufRead,
    name: &str,
    send: &mut dyn FnMut(MessageEvent) -> bool,
) -> Result<(), SourceError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        chat_id: i64,
        #[serde(default)]
        chat_title: Option<String>,
        message_id: i64,
        #[serde(default)]
        edit_version: i64,
        date: DateTime<Utc>,
        #[serde(default)]
        from: Option<i64>,
        #[serde(default)]
        from_name: Option<String>,
        #[serde(default)]
        text: String,
        #[serde(default)]
        reply_to: Option<i64>,
        #[serde(default)]
        has_media: bool,
        #[serde(default)]
        service: bool,
    }
    for (i, line) in r.lines().enumerate() {
        let bad = |message: String| SourceError::Lines {
            file: name.to_string(),
            line: i + 1,
            message,
        };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let ev = MessageEvent {
            chat_id: l.chat_id,
            chat_title: l.chat_title,
            message_id: l.message_id,
            edit_version: l.edit_version,
            date: l.date,
            sender: l.from.map_or(SenderKind::None, SenderKind::User),
            sender_name: l.from_name,
            text: l.text,
            reply_to: l.reply_to,
            has_media: l.has_media,
            attachment: None,
            service: l.service,
        };
        if !send(ev) {
            break;
        }
    }
    Ok(())
}

/// What the source implies for the configuration: a replay never talks to
/// Telegram (its alerts go to the log and e-mail only); on Telegram, the
/// bot's own id is known from sign-in when the file does not say it.
pub fn for_source(mut config: Config, source: &SourceSpec, me: Option<&Me>) -> Config {
    if matches!(source, SourceSpec::Replay { .. }) {
        config.alerts.telegram = false;
    }
    if let Some(me) = me {
        config.telegram.bot_id.get_or_insert(me.id);
    }
    config
}

/// The replay reader (a blocking task feeding the ingest channel) as a
/// worker: it ends Ok by design when the file is read. Once cancelled, its
/// error (the channel closed under it) is no failure.
pub struct ReplayWorker {
    pub reader: tokio::task::JoinHandle<Result<(), SourceError>>,
}

impl Worker for ReplayWorker {
    fn name(&self) -> &'static str {
        "source"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        match self.reader.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if !ctx.cancel.is_cancelled() => Err(e.into()),
            Ok(Err(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs() {
        assert_eq!(
            "replay:/tmp/x.json?speed=600"
                .parse::<SourceSpec>()
                .unwrap(),
            SourceSpec::Replay {
                file: "/tmp/x.json".into(),
                speed: 600.0
            }
        );
        assert!(
            matches!("replay:x.json".parse::<SourceSpec>(), Ok(SourceSpec::Replay { speed, .. }) if speed == 1.0)
        );
        assert!("replay:x?speed=0".parse::<SourceSpec>().is_err());
        assert!("kafka:x".parse::<SourceSpec>().is_err());
        assert_eq!(parse_position("12@1700000000"), Some((12, 1_700_000_000)));
    }
}
