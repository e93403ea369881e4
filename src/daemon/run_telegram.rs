//! `buhbot run` on Telegram: the tasks of the Telegram source (the
//! connection loop, the bridge, the outbound sender) and READY=1 once the
//! first connection succeeded.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::notify::{HeartbeatRegistry, Notifier};
use super::run::{Tasks, for_source, status_line};
use super::source::SourceSpec;
use super::telegram::{Bridge, CatchUp};
use crate::bot::RateLimit;
use crate::config::{Config, TelegramCredentials};
use crate::core::delivery::RetryPolicy;
use crate::core::event::Event;
use crate::core::shared::Shared;
use crate::telegram::client::{self, LiveConnector, LoopSettings};
use crate::telegram::link::Link;
use crate::telegram::outbound::{OutboundConfig, TelegramApi, run_outbound_with};

/// The Telegram pieces several tasks share.
pub(super) struct TelegramSide {
    pub link: Arc<Link>,
    /// Nudges the outbound sender when something was queued.
    pub wake: Arc<tokio::sync::Notify>,
    pub api: Arc<dyn TelegramApi>,
}

/// The connection loop, stopped first at shutdown (its own token): it
/// drains what Telegram already sent through the still running pipeline
/// and saves the update state before the rest stops.
pub(super) struct ConnectionLoop {
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

/// The connection loop, the bridge and the outbound sender.
#[allow(clippy::too_many_arguments)]
pub(super) fn spawn_telegram(
    side: &TelegramSide,
    credentials: TelegramCredentials,
    shared: &Arc<Shared>,
    config: &Config,
    ingest: mpsc::Sender<Event>,
    heartbeats: &HeartbeatRegistry,
    cancel: &CancellationToken,
    tasks: &mut Tasks,
) -> ConnectionLoop {
    let (inbound_tx, inbound_rx) = mpsc::channel(1024);
    let connector = Arc::new(LiveConnector {
        store: shared.store.clone(),
        credentials,
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(client::run(
        connector,
        side.link.clone(),
        inbound_tx,
        shared.handled.clone(),
        LoopSettings::default(),
        stop.clone(),
    ));
    // Timers due from now on wait for what Telegram kept while we were down.
    let catch_up = CatchUp::hold(shared, shared.now().timestamp());
    let bridge = Bridge {
        shared: shared.clone(),
        link: side.link.clone(),
        api: side.api.clone(),
        limit: Arc::new(RateLimit::new(config.telegram.rate_limit_per_minute)),
        wake: side.wake.clone(),
    };
    tasks.spawn({
        let (hb, c) = (heartbeats.register("telegram"), cancel.clone());
        async move {
            let r = bridge.run(inbound_rx, ingest, catch_up, hb, c).await;
            ("telegram bridge", r.map_err(|e| e.to_string()))
        }
    });
    tasks.spawn({
        let settings = OutboundConfig {
            wake: side.wake.clone(),
            policy: RetryPolicy::from(&shared.engine().config.alerts),
            ..OutboundConfig::default()
        };
        let (s, api, clock) = (shared.store.clone(), side.api.clone(), shared.clock);
        let (hb, c) = (heartbeats.register("outbound"), cancel.clone());
        async move {
            let r = run_outbound_with(settings, s, api, clock, c, Some(hb)).await;
            ("outbound", r.map_err(|e| e.to_string()))
        }
    });
    ConnectionLoop { stop, task }
}

/// Sends READY=1 after the first connection, and learns the bot's own id
/// (its messages must never open requests) when the file does not say it.
pub(super) async fn ready_when_connected(
    link: Arc<Link>,
    shared: Arc<Shared>,
    source: SourceSpec,
    notifier: Notifier,
    db: PathBuf,
    cancel: CancellationToken,
) -> (&'static str, Result<(), String>) {
    let mut state = link.subscribe();
    tokio::select! {
        _ = cancel.cancelled() => return ("ready", Ok(())),
        r = state.wait_for(|s| s.ever_connected) => if r.is_err() {
            return ("ready", Ok(()));
        },
    }
    let me = link.state().me;
    // The configuration in force now: a SIGHUP may have replaced the one
    // the daemon started with while it waited for Telegram.
    let config = shared.engine().base_config().clone();
    if config.telegram.bot_id.is_none() && me.is_some() {
        let patched = Arc::new(for_source((*config).clone(), &source, me.as_ref()));
        if let Err(e) = crate::core::live_settings::swap(&shared, patched, false).await {
            return ("ready", Err(format!("cannot apply the bot's own id: {e}")));
        }
    }
    let status = status_line(&shared, Some(&link)).await.unwrap_or_default();
    let _ = notifier.ready(&status);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), db = %db.display(), "buhbot is running on Telegram; {status}");
    ("ready", Ok(()))
}
