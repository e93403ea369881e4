//! `buhbot run` on Telegram: the workers of the Telegram source (the
//! connection loop, the bridge, the outbound sender) and READY=1 once the
//! first connection succeeded.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::notify::Notifier;
use super::source::{SourceSpec, for_source};
use super::status::status_line;
use super::supervisor::Supervisor;
use super::telegram::{Bridge, CatchUp};
use crate::bot::RateLimit;
use crate::config::{Config, TelegramCredentials};
use crate::core::delivery::RetryPolicy;
use crate::core::event::Event;
use crate::core::shared::Shared;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::telegram::client::{self, Inbound, LiveConnector, LoopSettings};
use crate::telegram::link::Link;
use crate::telegram::outbound::{OutboundConfig, TelegramApi, run_outbound_with};

/// The Telegram pieces several workers share.
pub(super) struct TelegramSide {
    pub link: Arc<Link>,
    /// Nudges the outbound sender when something was queued.
    pub wake: Arc<tokio::sync::Notify>,
    pub api: Arc<dyn TelegramApi>,
}

/// Starts the connection loop (stopped first at shutdown, see
/// [`Supervisor::spawn_first`]), the bridge and the outbound sender.
pub(super) fn spawn_telegram(
    supervisor: &mut Supervisor,
    side: &TelegramSide,
    credentials: TelegramCredentials,
    shared: &Arc<Shared>,
    config: &Config,
    ingest: mpsc::Sender<Event>,
) {
    let (inbound_tx, inbound_rx) = mpsc::channel(1024);
    supervisor.spawn_first(ConnectionWorker {
        connector: Arc::new(LiveConnector {
            store: shared.store.clone(),
            credentials,
        }),
        link: side.link.clone(),
        inbound: inbound_tx,
        handled: shared.handled.clone(),
    });
    // Timers due from now on wait for what Telegram kept while we were down.
    let catch_up = CatchUp::hold(shared, shared.now().timestamp());
    supervisor.spawn(BridgeWorker {
        bridge: Bridge {
            shared: shared.clone(),
            link: side.link.clone(),
            api: side.api.clone(),
            limit: Arc::new(RateLimit::new(config.telegram.rate_limit_per_minute)),
            wake: side.wake.clone(),
        },
        inbound: inbound_rx,
        ingest,
        catch_up,
    });
    supervisor.spawn(OutboundWorker {
        settings: OutboundConfig {
            wake: side.wake.clone(),
            policy: RetryPolicy::from(&shared.engine().config.alerts),
            ..OutboundConfig::default()
        },
        shared: shared.clone(),
        api: side.api.clone(),
    });
}

/// The reconnecting connection loop: it drains what Telegram already sent
/// through the still running pipeline and saves the update state before
/// the rest stops.
struct ConnectionWorker {
    connector: Arc<LiveConnector>,
    link: Arc<Link>,
    inbound: mpsc::Sender<Inbound>,
    handled: client::Handled,
}

impl Worker for ConnectionWorker {
    fn name(&self) -> &'static str {
        "telegram connection"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        client::run(
            self.connector,
            self.link,
            self.inbound,
            self.handled,
            LoopSettings::default(),
            ctx.cancel,
        )
        .await;
        Ok(())
    }
}

/// Updates → events, commands and button presses.
struct BridgeWorker {
    bridge: Bridge,
    inbound: mpsc::Receiver<Inbound>,
    ingest: mpsc::Sender<Event>,
    catch_up: CatchUp,
}

impl Worker for BridgeWorker {
    fn name(&self) -> &'static str {
        "telegram bridge"
    }

    fn beats(&self) -> bool {
        true
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        let (hb, cancel) = (ctx.heartbeat, ctx.cancel);
        Ok(self
            .bridge
            .run(self.inbound, self.ingest, self.catch_up, hb, cancel)
            .await?)
    }
}

/// The outbound queue sent to Telegram.
struct OutboundWorker {
    settings: OutboundConfig,
    shared: Arc<Shared>,
    api: Arc<dyn TelegramApi>,
}

impl Worker for OutboundWorker {
    fn name(&self) -> &'static str {
        "outbound"
    }

    fn beats(&self) -> bool {
        true
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        let (store, clock) = (self.shared.store.clone(), self.shared.clock);
        Ok(run_outbound_with(
            self.settings,
            store,
            self.api,
            clock,
            ctx.cancel,
            Some(ctx.heartbeat),
        )
        .await?)
    }
}

/// Sends READY=1 after the first connection, and learns the bot's own id
/// (its messages must never open requests) when the file does not say it.
pub(super) struct ReadyWorker {
    pub link: Arc<Link>,
    pub shared: Arc<Shared>,
    pub source: SourceSpec,
    pub notifier: Notifier,
    pub db: PathBuf,
    pub start: Arc<super::starts::StartLog>,
}

/// The bot's own id could not be applied at READY.
#[derive(Debug, thiserror::Error)]
#[error("cannot apply the bot's own id: {0}")]
pub struct BotIdError(#[source] crate::store::StoreError);

impl Worker for ReadyWorker {
    fn name(&self) -> &'static str {
        "ready"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        let mut state = self.link.subscribe();
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            r = state.wait_for(|s| s.ever_connected) => if r.is_err() {
                return Ok(());
            },
        }
        let me = self.link.state().me;
        // The configuration in force now: a SIGHUP may have replaced the
        // one the daemon started with while it waited for Telegram.
        let config = self.shared.engine().base_config().clone();
        if config.telegram.bot_id.is_none() && me.is_some() {
            let patched = Arc::new(for_source((*config).clone(), &self.source, me.as_ref()));
            crate::core::live_settings::swap(&self.shared, patched, false)
                .await
                .map_err(BotIdError)?;
        }
        let status = status_line(&self.shared, Some(&self.link))
            .await
            .unwrap_or_default();
        let _ = self.notifier.ready(&status);
        // A notice never fails the daemon: it is logged and the next start
        // hands it on (its row has no ready_at).
        if let Err(e) =
            super::starts::at_ready(&self.shared, &self.start, chrono::Utc::now(), true).await
        {
            tracing::warn!("{e}");
        }
        tracing::info!(version = env!("CARGO_PKG_VERSION"), db = %self.db.display(), "buhbot is running on Telegram; {status}");
        Ok(())
    }
}
