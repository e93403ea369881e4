//! Over the wire: the real `buhbot` binary against a local MTProto server
//! (tests/mtproto-server, built from grammers' own crates). The test
//! seeds the store's session with the server's address and a known auth
//! key (no key exchange), scripts the server and reads its request log;
//! a failing wait prints that log and the daemon's.

mod chats;
mod check;
mod commands;
mod outbound;
mod run;
mod standby;
mod updates;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mtproto_test_server::{Config, Server};

pub const TOKEN: &str = "7000000001:AAH-wire-test-token";
pub const HASH: &str = "0123456789abcdef0123456789abcdef";
pub const BOT_ID: i64 = 7_000_000_001;
pub const GROUP: i64 = -4001;
pub const OTHER_GROUP: i64 = -4002;
pub const CLIENT: i64 = 5001;
pub const CLIENT2: i64 = 5002;
pub const ACC: i64 = 7000001;
pub const MANAGER: i64 = 7000009;

pub fn auth_key() -> [u8; 256] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
}

/// A server that knows the bot, the client, the staff and two groups.
pub fn server(token: &str, authorized: bool) -> Server {
    let s = Server::start(Config {
        auth_key: auth_key(),
        bot_id: BOT_ID,
        bot_first_name: "Бухбот Тест".into(),
        bot_username: "buhbot_wire_bot".into(),
        token: token.into(),
        authorized,
    });
    s.add_user(CLIENT, "Клиент", Some("client"));
    s.add_user(CLIENT2, "Клиентка", None);
    s.add_user(ACC, "Иванова", Some("ivanova"));
    s.add_user(MANAGER, "Смирнова", Some("smirnova"));
    s.add_chat(GROUP, "ООО Ромашка");
    s.add_chat(OTHER_GROUP, "ИП Лютиков");
    s
}

/// A daemon's directory: configuration, store, credentials.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    pub creds: PathBuf,
}

impl Env {
    /// A 1-minute SLA; `extra` is appended to the configuration.
    pub fn new(server: &Server, extra: &str) -> Env {
        Env::with_sla(server, 1, extra)
    }

    pub fn with_sla(server: &Server, sla_minutes: u32, extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("buhbot.db");
        let config = dir.path().join("buhbot.toml");
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join("telegram_bot_token"), TOKEN).unwrap();
        std::fs::write(creds.join("telegram_api_hash"), HASH).unwrap();
        std::fs::write(
            &config,
            format!(
                r#"[calendar]
timezone = "Europe/Moscow"
always_open = true
[sla]
threshold_minutes = {sla_minutes}
[store]
path = "{db}"
[metrics]
textfile = "{metrics}"
interval_seconds = 1
[backup]
enabled = false
dir = "{backups}"
[telegram]
api_id = 12345
[[chats]]
id = {GROUP}
title = "ООО Ромашка"
accountants = [{ACC}]
managers = [{MANAGER}]
[[chats]]
id = {OTHER_GROUP}
title = "ИП Лютиков"
accountants = [{ACC}]
managers = [{MANAGER}]
{extra}
"#,
                db = db.display(),
                metrics = dir.path().join("metrics/buhbot.prom").display(),
                backups = dir.path().join("backups").display(),
            ),
        )
        .unwrap();
        crate::telegram_check::seed_home_dc(&db, server.addr().port(), Some(auth_key()));
        Env {
            dir,
            config,
            db,
            creds,
        }
    }

    /// Rows in `messages` for `chats`.
    pub fn stored_messages(&self, chats: &[i64]) -> i64 {
        let c = crate::daemon::read_only(&self.db);
        chats
            .iter()
            .map(|chat| {
                c.query_row(
                    "SELECT count(*) FROM messages WHERE chat_id = ?1",
                    [chat],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap_or(0)
            })
            .sum()
    }

    /// The update state's pts as saved in the store.
    pub fn stored_pts(&self) -> Option<i32> {
        crate::daemon::read_only(&self.db)
            .query_row("SELECT pts FROM tg_update_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
}

/// `buhbot run` on Telegram (the local server), with its notify socket.
pub struct Daemon {
    child: super::daemon::Daemon,
    pub notes: Arc<Mutex<Vec<String>>>,
    _socket_dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start(env: &Env) -> Daemon {
        Daemon::start_logging(env, "info")
    }

    pub fn start_logging(env: &Env, filter: &str) -> Daemon {
        let socket_dir = tempfile::tempdir().unwrap();
        let path = socket_dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let notes = Arc::new(Mutex::new(Vec::new()));
        let n = Arc::clone(&notes);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the socket's directory is gone and reads fail for good.
            let mut idle = 0;
            while idle < 600 {
                match socket.recv(&mut buf) {
                    Ok(k) => {
                        idle = 0;
                        n.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..k]).into_owned());
                    }
                    Err(_) => idle += 1,
                }
            }
        });
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(env.dir.path().join("daemon.log"))
            .unwrap();
        let child = crate::buhbot()
            .args(["run", "--config", env.config.to_str().unwrap()])
            .env("BUHBOT_LOG", filter)
            .env("NOTIFY_SOCKET", &path)
            .env("CREDENTIALS_DIRECTORY", &env.creds)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start buhbot run");
        Daemon {
            child: super::daemon::Daemon(child),
            notes,
            _socket_dir: socket_dir,
        }
    }

    /// Waits for READY=1 (bounded), failing with both logs.
    pub fn wait_ready(&self, server: &Server, env: &Env) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self
                .notes
                .lock()
                .unwrap()
                .iter()
                .any(|m| m.contains("READY=1"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no READY=1 within 30 s\nnotify: {:?}\nrequest log:\n{}\ndaemon log:\n{}",
            self.notes.lock().unwrap(),
            server.log_text(),
            env.log()
        );
    }

    /// SIGKILL (a crash, the OOM killer, a host gone) and its reaping.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGTERM and a bounded wait for the exit.
    pub fn stop(self) -> std::process::ExitStatus {
        super::daemon::stop(self.child)
    }
}

/// The inline buttons of a stored message: (text, callback data).
pub fn buttons(m: &mtproto_test_server::Sent) -> Vec<(String, String)> {
    use mtproto_test_server::tl::enums::{
        InlineButtonType, KeyboardInlineButton, KeyboardInlineButtonRow, ReplyMarkup,
    };
    let mut out = Vec::new();
    if let Some(ReplyMarkup::ReplyInlineMarkup(m)) = &m.reply_markup {
        for KeyboardInlineButtonRow::Row(row) in &m.rows {
            for b in &row.buttons {
                let KeyboardInlineButton::Button(b) = b;
                let data = match &b.r#type {
                    InlineButtonType::Callback(c) => String::from_utf8_lossy(&c.data).into_owned(),
                    InlineButtonType::Url(u) => format!("url:{}", u.url),
                    _ => String::new(),
                };
                out.push((b.text.clone(), data));
            }
        }
    }
    out
}
