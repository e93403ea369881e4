//! One integration-test binary (one link step) with a module per concept.

mod admin;
mod backup;
mod bot;
mod buttons;
mod calendar;
mod chat_events;
mod classify;
mod cli;
mod config;
mod daemon;
mod daemon_email;
mod daemon_telegram;
mod delivery;
mod digest;
mod docs;
mod email;
mod engine;
mod export;
mod export_errors;
mod export_fuzz;
mod faq;
mod heartbeat;
mod jobs;
mod layers;
mod man;
mod menu;
mod metrics;
mod outbound;
mod pg;
mod prometheus;
mod receipts;
mod replay;
mod replay_cli;
mod replay_shapes;
mod report;
mod sla;
mod starts;
mod store;
mod stored_values;
mod surveys;
mod telegram;
mod telegram_check;
mod telegram_live;
mod templates;
mod watchdog;
mod wire;

/// The `buhbot` binary with a clean environment: figment::Jail tests set
/// `BUHBOT_*` variables process-wide while they run, and a child spawned
/// by another test thread must not inherit them.
pub fn buhbot() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_buhbot"));
    cmd.env_clear();
    for key in ["PATH", "HOME", "TMPDIR", "LANG"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}

/// A user's text message as the pipeline sees it (the common case of the
/// engine, admin, jobs and bot tests).
pub fn user_message(
    chat_id: i64,
    message_id: i64,
    from: i64,
    date: chrono::DateTime<chrono::Utc>,
    text: &str,
) -> buhbot::core::event::MessageEvent {
    buhbot::core::event::MessageEvent {
        chat_id,
        chat_title: None,
        message_id,
        edit_version: 0,
        date,
        sender: buhbot::domain::sla::SenderKind::User(from),
        sender_name: None,
        text: text.into(),
        reply_to: None,
        has_media: false,
        attachment: None,
        service: false,
    }
}

/// One message through the ingest batch as of its own date, as from a live
/// source when `cache` is given (the bot answers clients), as from a replay
/// otherwise.
pub fn apply_one(
    env: &StaffEnv,
    ev: buhbot::core::event::MessageEvent,
    cache: Option<&buhbot::bot::faq::FaqCache>,
) -> buhbot::daemon::ingest::BatchOutcome {
    let now = ev.date;
    let batch = [buhbot::core::event::Event {
        kind: buhbot::core::event::EventKind::Message(ev),
        position: "1".into(),
    }];
    let mut conn = env.store.conn().unwrap();
    let engine = std::sync::Arc::new(env.engine());
    buhbot::daemon::ingest::apply_batch(&mut conn, engine, &batch, "telegram", now, false, cache)
        .unwrap()
}

/// Ingests one event in its own write transaction, as of its own date.
pub fn ingest_one(
    store: &buhbot::store::Store,
    engine: &buhbot::core::engine::Engine,
    ev: &buhbot::core::event::MessageEvent,
) -> buhbot::core::engine::Ingested {
    let mut c = store.conn().unwrap();
    let tx = buhbot::store::write_tx(&mut c).unwrap();
    let r = engine.ingest(&tx, ev, ev.date).unwrap();
    tx.commit().unwrap();
    r
}

/// An RFC 3339 instant with an offset, as UTC.
pub fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// A store with a configuration and staff in `users`, for the bot and
/// button tests (each wraps it with its own helpers).
pub struct StaffEnv {
    _dir: tempfile::TempDir,
    pub store: buhbot::store::Store,
    pub config: std::sync::Arc<buhbot::config::Config>,
}

impl StaffEnv {
    /// `users`: (id, role, name, username).
    pub fn new(toml: &str, users: &[(i64, &str, &str, Option<&str>)]) -> StaffEnv {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buhbot.toml");
        std::fs::write(&path, toml).unwrap();
        let config = std::sync::Arc::new(buhbot::config::Config::load(Some(&path)).unwrap());
        let (store, _) = buhbot::store::Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let conn = store.conn().unwrap();
        // As with a [postgres] section: every change is queued for it.
        buhbot::store::outbox::set_enabled(&conn, true).unwrap();
        for &(id, role, name, username) in users {
            let user = buhbot::store::users::UserRow {
                id,
                name: name.into(),
                username: username.map(Into::into),
                role: role.parse().unwrap(),
                email: None,
            };
            buhbot::store::users::add(&conn, &user, "test", 0).unwrap();
        }
        StaffEnv {
            _dir: dir,
            store,
            config,
        }
    }

    /// The store opened afresh on the same file, as after a daemon
    /// restart (the old handle is dropped).
    pub fn reopen(&mut self) {
        let (store, _) =
            buhbot::store::Store::open_migrated(&self._dir.path().join("b.db")).unwrap();
        self.store = store;
    }

    /// The engine over the configuration and the store, as the daemon
    /// builds it.
    pub fn engine(&self) -> buhbot::core::engine::Engine {
        buhbot::core::engine::Engine::from_config_and_store(
            self.config.clone(),
            &self.store.conn().unwrap(),
        )
        .unwrap()
    }
}

/// Runs the outbound queue's sender on the recording Telegram fake (on
/// tokio's paused clock) until `want` messages went out, then 2 s more so
/// that anything extra would show; returns what Telegram got.
pub async fn send_queued(
    store: &buhbot::store::Store,
    origin: chrono::DateTime<chrono::Utc>,
    want: usize,
) -> Vec<buhbot::telegram::outbound::fake::Record> {
    use std::time::Duration;
    let api = std::sync::Arc::new(buhbot::telegram::outbound::fake::RecordingApi::new());
    let cancel = tokio_util::sync::CancellationToken::new();
    let sender = tokio::spawn(buhbot::telegram::outbound::run_outbound_with(
        buhbot::telegram::outbound::OutboundConfig::default(),
        store.clone(),
        api.clone(),
        buhbot::core::clock::Clock::virtual_from(origin, 1.0),
        cancel.clone(),
        None,
    ));
    for _ in 0..100 {
        if api.records().len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    cancel.cancel();
    sender.await.unwrap().unwrap();
    api.records()
}
