//! A scriptable in-memory [`TelegramApi`] for tests: records every accepted
//! message with tokio's instant, can fail the next N calls, answer
//! FLOOD_WAIT for one chat, and "crash" (panic) after Telegram accepted a
//! message but before the call returns — the window the queue's crash
//! recovery is about. Its records outlive a crashed sender, as Telegram's
//! would, so a test can restart the sender on the same fake.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::time::Instant;

use super::{BoxFuture, Button, Kind, Lookup, OutboundMessage, SendError, TelegramApi};

/// One message Telegram accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Instant,
    pub chat_id: i64,
    pub text: String,
    pub dedupe_key: String,
    pub kind: Kind,
    /// The Telegram message id returned (for edits: the edited one).
    pub message_id: i64,
    pub buttons: Vec<Vec<Button>>,
    pub reply_to: Option<i64>,
}

/// One answer to a button press (a toast, not a message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub query_id: i64,
    pub text: String,
    pub alert: bool,
}

#[derive(Debug, Default)]
struct State {
    records: Vec<Record>,
    calls: u64,
    next_id: i64,
    fail_next: VecDeque<SendError>,
    flood: HashMap<i64, u32>,
    crash_after: Option<u64>,
    confirms: bool,
    answers: Vec<CallbackAnswer>,
    /// Like Telegram: a send whose `random_id` was seen is not posted again.
    random_ids: Option<std::collections::HashSet<i64>>,
}

/// The recording fake. Share it as `Arc<RecordingApi>`.
#[derive(Debug)]
pub struct RecordingApi {
    state: Mutex<State>,
}

impl Default for RecordingApi {
    fn default() -> Self {
        RecordingApi::new()
    }
}

impl RecordingApi {
    /// A fake that accepts everything and can confirm earlier sends.
    pub fn new() -> RecordingApi {
        RecordingApi {
            state: Mutex::new(State {
                next_id: 1,
                confirms: true,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The crash hook panics with the lock released; a poisoned lock
        // still holds consistent records.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` calls (to any chat) fail with `err`.
    pub fn fail_next(&self, n: usize, err: SendError) {
        self.lock().fail_next.extend(std::iter::repeat_n(err, n));
    }

    /// The next call for `chat` answers FLOOD_WAIT of `seconds`.
    pub fn flood_wait(&self, chat: i64, seconds: u32) {
        self.lock().flood.insert(chat, seconds);
    }

    /// The `n`-th message accepted from now on (1 = the next) is recorded,
    /// then the call panics instead of returning: the process "died"
    /// between Telegram's acceptance and the sender's commit.
    pub fn crash_after(&self, n: u64) {
        let mut s = self.lock();
        s.crash_after = Some(s.records.len() as u64 + n);
    }

    /// Whether [`TelegramApi::lookup_sent`] can confirm (default true);
    /// false models a transport without history lookup.
    pub fn set_confirms(&self, confirms: bool) {
        self.lock().confirms = confirms;
    }

    /// Answer a repeated `random_id` as Telegram does (`RANDOM_ID_DUPLICATE`,
    /// which [`crate::telegram::api::GrammersApi`] reports as a send with
    /// an unknown message id) instead of posting the message again.
    pub fn dedupe_random_ids(&self) {
        self.lock().random_ids = Some(std::collections::HashSet::new());
    }

    /// Every accepted message, in order.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// Every answered button press, in order.
    pub fn answers(&self) -> Vec<CallbackAnswer> {
        self.lock().answers.clone()
    }

    /// Every call made, failed ones included.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    fn call(&self, msg: &OutboundMessage) -> Result<i64, SendError> {
        let mut s = self.lock();
        s.calls += 1;
        if let Some(err) = s.fail_next.pop_front() {
            return Err(err);
        }
        if let Some(seconds) = s.flood.remove(&msg.chat_id) {
            return Err(SendError::TelegramRpc {
                code: 420,
                name: "FLOOD_WAIT".into(),
                value: Some(seconds),
            });
        }
        if msg.edit_of.is_none()
            && let Some(seen) = &mut s.random_ids
            && !seen.insert(crate::telegram::api::random_id(msg))
        {
            return Ok(crate::telegram::api::UNKNOWN_MESSAGE_ID);
        }
        let message_id = match msg.edit_of {
            Some(id) => id,
            None => {
                s.next_id += 1;
                s.next_id
            }
        };
        s.records.push(Record {
            at: Instant::now(),
            chat_id: msg.chat_id,
            text: msg.text.clone(),
            dedupe_key: msg.dedupe_key.clone(),
            kind: msg.kind,
            message_id,
            buttons: msg.buttons.clone(),
            reply_to: msg.reply_to,
        });
        if s.crash_after == Some(s.records.len() as u64) {
            s.crash_after = None;
            drop(s);
            panic!(
                "RecordingApi: simulated crash after Telegram accepted {}",
                msg.dedupe_key
            );
        }
        Ok(message_id)
    }
}

impl TelegramApi for RecordingApi {
    fn send<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>> {
        Box::pin(async move { self.call(msg) })
    }

    fn edit<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Result<i64, SendError>> {
        Box::pin(async move { self.call(msg) })
    }

    fn answer_callback<'a>(
        &'a self,
        query_id: i64,
        text: &'a str,
        alert: bool,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.lock().answers.push(CallbackAnswer {
                query_id,
                text: text.to_string(),
                alert,
            });
            Ok(())
        })
    }

    fn lookup_sent<'a>(&'a self, msg: &'a OutboundMessage) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            let s = self.lock();
            if !s.confirms {
                return Lookup::Unknown;
            }
            s.records
                .iter()
                .rev()
                .find(|r| r.dedupe_key == msg.dedupe_key)
                .map_or(Lookup::NotSent, |r| Lookup::Sent(r.message_id))
        })
    }
}
