//! Connecting as the bot and the update loop: the daemon's Telegram source.
//! The loop is generic over a [`Connector`], so tests drive it with an
//! offline grammers client whose update stream they feed (no network
//! here); [`LiveConnector`] is the real one.
//!
//! grammers 0.11 facts this relies on:
//! - the sender pool's runner must be spawned and kept running; when it
//!   ends, every request fails and the whole client must be rebuilt;
//! - `UpdateStream::next()` returns an error on network loss and does not
//!   back off itself: sleep, then poll again (its own gap logic refetches
//!   what was missed with getDifference);
//! - the update state reaches the session only through
//!   `sync_update_state()`: called periodically and at shutdown, always
//!   right after a completed `next()` (see `pump`);
//! - its default retry policy sleeps through FLOOD_WAITs inside `invoke`
//!   (see [`no_flood_sleep`]).

use std::sync::Arc;
use std::time::Duration;

use grammers_client::client::UpdateStream;
use grammers_client::sender::{AutoSleep, ConnectionParams, SenderPool, UpdatesConfiguration};
use grammers_client::update::Update;
use grammers_client::{Client, InvocationError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};

use super::inbound::{InboundEvent, bot_is_admin, map_update, mentions};
use super::link::{Link, Me};
use super::outbound::BoxFuture;
use super::session::{SessionError, StoreSession};
use crate::config::TelegramCredentials;
use crate::metrics::catalogue as m;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("telegram: {0}")]
    Invocation(#[from] InvocationError),
    #[error("telegram: cannot start the update stream: {0}")]
    Updates(String),
    #[error("telegram: signed in, but the bot's own user id is unknown")]
    NoSelf,
}

/// A connected, signed-in bot.
pub struct Connection {
    pub client: Client,
    pub updates: UpdateStream,
    /// Who the bot is (its id is needed by [`map_update`]).
    pub me: Me,
    /// The sender pool's I/O task; when it ends, reconnect from scratch.
    pub runner: JoinHandle<()>,
}

/// One mapped update, as the daemon's Telegram bridge receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub event: InboundEvent,
    /// The message's date (for service messages too); for updates without
    /// one (button presses), when it was received.
    pub date: DateTime<Utc>,
    /// Text mentions that carry a user id (`@name` mentions do not).
    pub mentions: Vec<(String, Option<i64>)>,
    /// Whether the bot is an administrator of the message's group, when
    /// the update said (see [`bot_is_admin`]).
    pub bot_is_admin: Option<bool>,
}

/// How the loop gets a [`Connection`].
pub trait Connector: Send + Sync {
    fn connect(&self) -> BoxFuture<'_, Result<Connection, TelegramError>>;
}

/// Signs in to Telegram with the session in the store.
pub struct LiveConnector {
    pub store: Store,
    pub credentials: TelegramCredentials,
}

impl Connector for LiveConnector {
    fn connect(&self) -> BoxFuture<'_, Result<Connection, TelegramError>> {
        Box::pin(connect(self.store.clone(), &self.credentials))
    }
}

impl Connection {
    /// Saves the update state. Call only right after `updates.next()`
    /// completed (see `pump`).
    pub async fn sync(&self) {
        if let Err(e) = self.updates.sync_update_state().await {
            tracing::warn!(error = %e, "could not save the telegram update state");
        }
    }

    /// Stops the I/O task. Saving the update state is `pump`'s business:
    /// only it knows whether the stream was drained or cut short.
    pub fn close(self) {
        self.client.disconnect();
        self.runner.abort();
    }
}

/// Connects with the session stored in `store`, signing in with the bot
/// token unless the stored auth key is already authorized.
pub async fn connect(
    store: Store,
    credentials: &TelegramCredentials,
) -> Result<Connection, TelegramError> {
    let session = Arc::new(StoreSession::open(store).await?);
    let pool = SenderPool::with_configuration(
        Arc::clone(&session),
        credentials.api_id,
        ConnectionParams {
            retry_policy: Box::new(no_flood_sleep()),
            ..ConnectionParams::default()
        },
    );
    let client = Client::new(pool.handle);
    let runner = tokio::spawn(pool.runner.run());

    // get_me even with a stored session: the username and the privacy
    // mode may have changed in @BotFather since the last start.
    let user = if client.is_authorized().await? {
        client.get_me().await?
    } else {
        let user = client
            .bot_sign_in(
                credentials.bot_token.expose(),
                credentials.api_hash.expose(),
            )
            .await?;
        tracing::info!(
            bot_id = user.id().bare_id_unchecked(),
            "signed in to telegram"
        );
        user
    };
    let me = Me {
        id: user
            .id()
            .bot_api_dialog_id()
            .or(session.self_user_id())
            .ok_or(TelegramError::NoSelf)?,
        username: user.username().map(str::to_string),
        name: user.full_name(),
        privacy_mode: user.bot_privacy(),
    };
    let updates = client
        .stream_updates(pool.updates, UpdatesConfiguration { catch_up: true })
        .await
        .map_err(|e| TelegramError::Updates(e.to_string()))?;
    Ok(Connection {
        client,
        updates,
        me,
        runner,
    })
}

/// grammers' default policy sleeps inside `invoke` on any FLOOD_WAIT of
/// up to 60 s and then retries: the outbound sender (one call at a time)
/// would stall every chat behind the one that is rate-limited, and never
/// see the error. With a zero threshold the wait reaches the queue, which
/// holds back that chat only (`core::delivery::cause`). One retry after a
/// second on I/O errors stays (grammers' default): a resend of a message
/// Telegram already took is caught by its `random_id`.
fn no_flood_sleep() -> AutoSleep {
    AutoSleep {
        tries: std::num::NonZeroU32::MIN,
        threshold: Duration::ZERO,
        io_errors_as_flood_of: Some(Duration::from_secs(1)),
    }
}

/// The reconnect backoff is the delivery policy's backoff function (one
/// implementation), with equal jitter.
pub use crate::core::delivery::Backoff;

/// How the update loop paces itself.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How often the update state is saved.
    pub sync_every: Duration,
    /// After this many consecutive stream errors the client is rebuilt.
    pub rebuild_after: u32,
}

impl Default for LoopSettings {
    fn default() -> Self {
        LoopSettings {
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            // "Every few seconds": a restart re-reads at most this much,
            // which the pipeline's dedupe absorbs.
            sync_every: Duration::from_secs(5),
            rebuild_after: 8,
        }
    }
}

/// How far the pipeline got: the receiving side adds one for every
/// forwarded [`Inbound`] once it is committed (or fully handled), so the
/// loop knows when everything it forwarded is safe.
pub type Handled = Arc<std::sync::atomic::AtomicU64>;

/// Connects and forwards mapped updates to `events` until `shutdown`,
/// reconnecting with capped exponential backoff and jitter. `link` follows
/// the connection state (and holds the current client for the outbound
/// transport).
///
/// The update state is saved only when `handled` has caught up with what
/// was forwarded: saved earlier, a crash would lose the updates still
/// queued between here and the store (Telegram would not send them
/// again). Saved later or not at all, the same updates come again and the
/// pipeline's dedupe absorbs them.
pub async fn run(
    connector: Arc<dyn Connector>,
    link: Arc<Link>,
    events: mpsc::Sender<Inbound>,
    handled: Handled,
    settings: LoopSettings,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_cap);
    let mut forwarded = 0u64;
    while !shutdown.is_cancelled() {
        let conn = tokio::select! {
            c = connector.connect() => c,
            () = shutdown.cancelled() => return,
        };
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                link.disconnected(Utc::now());
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, ?delay, "cannot connect to telegram; retrying");
                if sleep_or_shutdown(delay, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        link.connected(Some(conn.client.clone()), conn.me.clone(), Utc::now());
        tracing::info!(
            bot_id = conn.me.id,
            username = conn.me.username.as_deref().unwrap_or(""),
            privacy_mode = conn.me.privacy_mode,
            "connected to telegram"
        );
        let flow = Flow {
            events: &events,
            handled: &handled,
            forwarded: &mut forwarded,
        };
        let done = pump(&mut conn, flow, &settings, &mut backoff, &link, &shutdown).await;
        conn.close();
        if done {
            return;
        }
        link.disconnected(Utc::now());
    }
}

/// Drains the stream. Returns true when the loop should stop for good,
/// false when the client must be rebuilt.
///
/// Cancellation: grammers' `UpdateStream::next()` is not cancel-safe in
/// one spot (a batch taken from the receiver is lost if the future is
/// dropped while its peers are being cached, although the message box has
/// already advanced past it). So `next()` is never cancelled: at shutdown
/// the client is disconnected, which makes the pending `next()` return
/// the buffered updates and then an error; they are forwarded, and once
/// the pipeline committed them the state is saved. Only if that drain gets
/// stuck is `next()` dropped, and then nothing is saved (a restart re-reads
/// from the last save and the dedupe absorbs the repeats). Residual window
/// (a grammers limitation): updates still buffered from a batch when a
/// periodic save is taken are lost if the process dies before they are
/// delivered.
async fn pump(
    conn: &mut Connection,
    flow: Flow<'_>,
    settings: &LoopSettings,
    backoff: &mut Backoff,
    link: &Link,
    shutdown: &CancellationToken,
) -> bool {
    let mut last_sync = tokio::time::Instant::now();
    let mut failures = 0u32;
    // After shutdown: the client is disconnected and the stream drained
    // without cancelling `next()` (see above), so the state can be saved.
    let mut draining = false;
    loop {
        let next: Result<Update, InvocationError> = if draining {
            match tokio::time::timeout(DRAIN, conn.updates.next()).await {
                Ok(u) => u,
                // Stuck: give up without saving (the updates come again).
                Err(_) => return true,
            }
        } else {
            let fut = conn.updates.next();
            tokio::pin!(fut);
            tokio::select! {
                biased;
                u = &mut fut => u,
                () = shutdown.cancelled() => {
                    // Disconnecting ends the stream: `next()` returns what is
                    // buffered, then an error, and is never cut short.
                    conn.client.disconnect();
                    draining = true;
                    match tokio::time::timeout(DRAIN, fut).await {
                        Ok(u) => u,
                        Err(_) => return true,
                    }
                }
            }
        };
        // A `next()` that completed as the stop came: drain from here on.
        if shutdown.is_cancelled() && !draining {
            conn.client.disconnect();
            draining = true;
        }
        match next {
            Ok(update) => {
                if failures > 0 && !draining {
                    link.connected(Some(conn.client.clone()), conn.me.clone(), Utc::now());
                }
                failures = 0;
                backoff.reset();
                let now = Utc::now();
                ::metrics::gauge!(m::TELEGRAM_LAST_UPDATE_TIMESTAMP_SECONDS)
                    .set(now.timestamp() as f64);
                if let Some(event) = to_inbound(&update, conn.me.id, now) {
                    // A slot first (cancel-safe), so that a stop while the
                    // pipeline is busy turns into a drain and loses nothing.
                    let permit = if draining {
                        tokio::time::timeout(DRAIN, flow.events.reserve())
                            .await
                            .ok()
                    } else {
                        tokio::select! {
                            p = flow.events.reserve() => Some(p),
                            () = shutdown.cancelled() => {
                                conn.client.disconnect();
                                draining = true;
                                tokio::time::timeout(DRAIN, flow.events.reserve()).await.ok()
                            }
                        }
                    };
                    match permit {
                        Some(Ok(p)) => p.send(event),
                        // The pipeline is gone, or stuck while stopping:
                        // not saved past it, so delivered again next time.
                        _ => return true,
                    }
                    *flow.forwarded += 1;
                }
                // Due: give the pipeline a moment to commit what it got,
                // and skip this round if it is still behind.
                if !draining
                    && last_sync.elapsed() >= settings.sync_every
                    && caught_up(flow.handled, *flow.forwarded, PATIENCE).await
                {
                    conn.sync().await;
                    last_sync = tokio::time::Instant::now();
                }
            }
            Err(_) if draining => {
                // Drained: save the state once the pipeline committed it all.
                if caught_up(flow.handled, *flow.forwarded, DRAIN).await {
                    conn.sync().await;
                    tracing::debug!("telegram update state saved at shutdown");
                }
                return true;
            }
            Err(e) => {
                failures += 1;
                link.disconnected(Utc::now());
                if conn.runner.is_finished() || failures >= settings.rebuild_after {
                    tracing::warn!(error = %e, "telegram connection lost; reconnecting");
                    return false;
                }
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, ?delay, "telegram update stream failed; retrying");
                if sleep_or_shutdown(delay, shutdown).await {
                    return true;
                }
            }
        }
    }
}

/// How long a periodic save waits for the pipeline to catch up.
const PATIENCE: Duration = Duration::from_millis(250);
/// Bound of each step of the shutdown drain.
const DRAIN: Duration = Duration::from_secs(3);

/// The update as the bridge wants it, dated (`now` for updates without a
/// date of their own).
pub fn to_inbound(update: &Update, bot_id: i64, now: DateTime<Utc>) -> Option<Inbound> {
    let event = map_update(update, bot_id)?;
    let (date, mentions, admin) = match update {
        Update::NewMessage(m) | Update::MessageEdited(m) => (
            DateTime::from_timestamp(m.date().as_second(), 0).unwrap_or(now),
            mentions(m),
            bot_is_admin(m),
        ),
        _ => (now, Vec::new(), None),
    };
    Some(Inbound {
        event,
        date,
        mentions,
        bot_is_admin: admin,
    })
}

/// Waits (at most `patience`) until the pipeline handled everything
/// forwarded.
async fn caught_up(handled: &Handled, forwarded: u64, patience: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if handled.load(std::sync::atomic::Ordering::Acquire) >= forwarded {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where updates go, and how far the pipeline got with them.
struct Flow<'a> {
    events: &'a mpsc::Sender<Inbound>,
    handled: &'a Handled,
    /// Forwarded by this process so far (all connections).
    forwarded: &'a mut u64,
}

/// Sleeps; true when shutdown came first.
async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = shutdown.cancelled() => true,
    }
}
