//! A local MTProto server for buhbot's over-the-wire tests, built from
//! grammers' own crates: its `Full` transport for framing, its AES-IGE,
//! its TL types (with `deserializable-functions` to parse requests), and
//! MTProto 2.0's server-side key derivation redone in [`crypto`].
//!
//! There is no key exchange: the test seeds the client's session with the
//! server's address and [`Config::auth_key`]. The server answers what
//! grammers and the bot call from connect to steady state, keeps a
//! pts-numbered update log for `updates.getDifference`, and is scripted
//! from the test: push updates, drop connections, refuse or delay
//! requests by rule, and read the log of every request it got.
//!
//! It runs on its own thread and runtime, so tests drive it from plain
//! synchronous code.

pub mod crypto;
mod net;
mod rpc;
pub mod tl_util;
pub mod world;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use grammers_tl_types as tl;
use tokio::sync::mpsc;

pub use world::Sent;
use world::World;

/// Who the server is talking to.
pub struct Config {
    pub auth_key: [u8; 256],
    pub bot_id: i64,
    pub bot_first_name: String,
    pub bot_username: String,
    /// The only token `auth.importBotAuthorization` accepts.
    pub token: String,
    /// Whether the seeded auth key is already signed in as the bot.
    pub authorized: bool,
}

/// One request the server got, decoded.
#[derive(Clone, Debug)]
pub struct Request {
    /// Since the server started.
    pub at: Duration,
    pub conn: u64,
    /// TL name, e.g. `messages.sendMessage`; wrappers are unwrapped.
    pub name: String,
    /// The Bot-API chat id the request is about, if any.
    pub chat: Option<i64>,
    /// `Debug` of the decoded request (shortened).
    pub detail: String,
    /// What the server did: `ok`, `rpc_error 420 FLOOD_WAIT_3`, …
    pub outcome: String,
}

/// What a [`Rule`] does to a matching request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer with this RPC error instead of doing it.
    Fail { code: i32, message: String },
    /// Do it, but answer only after this long.
    Delay(Duration),
    /// Do it, then drop the connection without answering (the client
    /// never learns it succeeded).
    DoThenDrop,
}

/// Applied to requests of `method` (about `chat`, if given), `times`
/// times (forever when `None`).
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: String,
    pub chat: Option<i64>,
    pub action: Action,
    pub times: Option<u32>,
}

pub(crate) enum Out {
    /// A server message: body, content-related.
    Msg(Vec<u8>, bool),
    Close,
}

pub(crate) struct Inner {
    pub world: World,
    pub requests: Vec<Request>,
    pub rules: Vec<Rule>,
    pub conns: Vec<(u64, mpsc::UnboundedSender<Out>)>,
    pub next_conn: u64,
    pub refuse_until: Option<Instant>,
}

pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    pub started: Instant,
    pub key: crypto::AuthKey,
    pub salt: i64,
    pub port: u16,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(
        &self,
        inner: &mut Inner,
        conn: u64,
        name: &str,
        chat: Option<i64>,
        detail: String,
        outcome: String,
    ) {
        let mut detail = detail;
        if detail.len() > 4000 {
            let mut cut = 4000;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push('…');
        }
        inner.requests.push(Request {
            at: self.started.elapsed(),
            conn,
            name: name.to_string(),
            chat,
            detail,
            outcome,
        });
    }

    /// Sends `updates` to every live connection.
    pub fn broadcast(&self, inner: &Inner, updates: &tl::enums::Updates) {
        use tl::Serializable;
        let body = updates.to_bytes();
        for (_, tx) in &inner.conns {
            let _ = tx.send(Out::Msg(body.clone(), true));
        }
    }
}

/// The running server; dropping it stops it and closes every connection.
pub struct Server {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(config: Config) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt).unwrap();
        let mut world = World::new(world::Bot {
            id: config.bot_id,
            access_hash: 0x0b07_0b07,
            first_name: config.bot_first_name,
            username: config.bot_username,
            token: config.token,
        });
        world.authorized = config.authorized;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                world,
                requests: Vec::new(),
                rules: Vec::new(),
                conns: Vec::new(),
                next_conn: 1,
                refuse_until: None,
            }),
            started: Instant::now(),
            key: crypto::AuthKey::new(config.auth_key),
            salt: i64::from_le_bytes(salt) | 1,
            port,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("mtproto-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(net::serve(s, listener, stopped));
            })
            .unwrap();
        Server {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.shared.port))
    }

    pub fn add_user(&self, id: i64, first_name: &str, username: Option<&str>) {
        self.shared.lock().world.add_user(id, first_name, username);
    }

    /// A chat by Bot-API id (`-N` basic group, `-100…` supergroup).
    pub fn add_chat(&self, chat: i64, title: &str) {
        self.shared.lock().world.add_chat(chat, title);
    }

    /// A new text message from `from` in `chat` (`chat == from` for a
    /// private chat with the bot), dated `date` (Unix seconds; now when
    /// `None`). Pushed to live connections, and logged for getDifference
    /// either way. Returns the message id.
    pub fn push_message(&self, chat: i64, from: i64, text: &str, date: Option<i32>) -> i32 {
        let mut inner = self.shared.lock();
        let date = date.unwrap_or_else(world::now);
        let m = inner.world.message(chat, from, text, date);
        let id = m.id;
        let u = inner.world.log_message(chat, m, false);
        let updates = inner.world.updates(vec![u]);
        self.shared.broadcast(&inner, &updates);
        id
    }

    /// A press of an inline button under the bot's message `msg_id`.
    /// Returns the query id.
    pub fn push_callback(&self, chat: i64, msg_id: i32, from: i64, data: &[u8]) -> i64 {
        let mut inner = self.shared.lock();
        let query_id = inner.world.next_query_id;
        inner.world.next_query_id += 1;
        let u = tl::types::UpdateBotCallbackQuery {
            query_id,
            user_id: from,
            peer: tl_util::peer(chat),
            msg_id,
            chat_instance: chat ^ 0x1234,
            data: Some(data.to_vec()),
            game_short_name: None,
        };
        let updates = inner.world.updates(vec![u.into()]);
        self.shared.broadcast(&inner, &updates);
        query_id
    }

    /// Basic group `group` becomes supergroup `supergroup` (a `-100…` id):
    /// the service message in the old group, as Telegram sends it.
    pub fn push_migration(&self, group: i64, supergroup: i64, title: &str, by: i64) {
        let mut inner = self.shared.lock();
        inner.world.add_chat(supergroup, title);
        let channel_id = -supergroup - 1_000_000_000_000;
        let m = inner.world.message(group, by, "", world::now());
        let mut prefix = Vec::new();
        {
            use tl::Serializable;
            0u32.serialize(&mut prefix);
            m.id.serialize(&mut prefix);
            m.peer_id.serialize(&mut prefix);
            m.date.serialize(&mut prefix);
            tl::enums::MessageAction::ChatMigrateTo(tl::types::MessageActionChatMigrateTo {
                channel_id,
            })
            .serialize(&mut prefix);
        }
        let mut service: tl::types::MessageService = tl_util::blank(&prefix);
        service.from_id = Some(tl_util::peer(by));
        if let Some(g) = inner.world.groups.get_mut(&-group) {
            g.deactivated = true;
            g.migrated_to = Some(
                tl::types::InputChannel {
                    channel_id,
                    access_hash: channel_id ^ 0x5555_aaaa,
                }
                .into(),
            );
        }
        inner.world.common.pts += 1;
        let pts = inner.world.common.pts;
        let u: tl::enums::Update = tl::types::UpdateNewMessage {
            message: service.into(),
            pts,
            pts_count: 1,
        }
        .into();
        inner.world.common.log.push(world::Logged {
            pts,
            update: u.clone(),
            date: world::now(),
        });
        let updates = inner.world.updates(vec![u]);
        self.shared.broadcast(&inner, &updates);
    }

    /// Closes every connection; new ones are refused (accepted and closed
    /// at once) for `refuse_for`.
    pub fn drop_connections(&self, refuse_for: Duration) {
        let mut inner = self.shared.lock();
        inner.refuse_until = Some(Instant::now() + refuse_for);
        for (_, tx) in inner.conns.drain(..) {
            let _ = tx.send(Out::Close);
        }
    }

    pub fn add_rule(&self, rule: Rule) {
        self.shared.lock().rules.push(rule);
    }

    pub fn set_authorized(&self, yes: bool) {
        self.shared.lock().world.authorized = yes;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// The bot's messages as the server stores them (edits applied).
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().world.sent.clone()
    }

    /// The common box's pts (private chats and basic groups).
    pub fn pts(&self) -> i32 {
        self.shared.lock().world.common.pts
    }

    pub fn live_connections(&self) -> usize {
        self.shared.lock().conns.len()
    }

    /// The request log, one line a request, for a failing test to print.
    pub fn log_text(&self) -> String {
        let mut out = String::new();
        for r in self.shared.lock().requests.iter() {
            let _ = writeln!(
                out,
                "{:>8.3}s #{} {} chat={} -> {} | {:.300}",
                r.at.as_secs_f64(),
                r.conn,
                r.name,
                r.chat.map_or("-".into(), |c| c.to_string()),
                r.outcome,
                r.detail
            );
        }
        out
    }

    /// Polls `f` over the request log and the stored messages until it
    /// returns `Some`, at most `timeout`; panics with the request log
    /// otherwise.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&[Request], &[Sent]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let inner = self.shared.lock();
                if let Some(v) = f(&inner.requests, &inner.world.sent) {
                    return v;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; the server's request log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
