//! State shared by the daemon's loops.

#[cfg(feature = "test-support")]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::core::health::Heartbeat;

use super::clock::Clock;
use super::delivery::AlertSink;
use super::engine::Engine;
use super::engine_owner::EngineOwner;
use crate::store::Store;

/// How often idle loops wake to show the watchdog they are alive.
pub const TICK: Duration = Duration::from_secs(2);

/// Sleeps until `wake` (none: until nudged), until `nudge` is notified, or
/// until cancelled (then returns false). Wakes every [`TICK`] only to beat:
/// an idle loop is not a wedged one.
pub async fn sleep_until(
    wake: Option<tokio::time::Instant>,
    nudge: &Notify,
    heartbeat: &Heartbeat,
    cancel: &CancellationToken,
) -> bool {
    loop {
        heartbeat.beat();
        let tick = tokio::time::Instant::now() + TICK;
        let until = wake.map_or(tick, |w| w.min(tick));
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = nudge.notified() => return true,
            _ = tokio::time::sleep_until(until) => {
                if wake.is_some_and(|w| w <= tokio::time::Instant::now()) {
                    return true;
                }
            }
        }
    }
}

/// Sleeps `wait` (beating every [`TICK`]), or until cancelled (then
/// returns false): the pause after a failed step.
pub async fn pause(wait: Duration, heartbeat: &Heartbeat, cancel: &CancellationToken) -> bool {
    let nobody = Notify::new();
    sleep_until(
        Some(tokio::time::Instant::now() + wait),
        &nobody,
        heartbeat,
        cancel,
    )
    .await
}

/// What the daemon's loops share: the store, the clock, the one owner of
/// the engine, the sinks in force, the replay watermark and the nudges
/// between loops.
pub struct Shared {
    pub store: Store,
    pub clock: Clock,
    /// Rebuilds go through [`EngineOwner::install_with`].
    pub engines: EngineOwner,
    sinks: RwLock<Arc<Vec<Arc<dyn AlertSink>>>>,
    /// Timers due strictly before this Unix second may fire: every event
    /// dated earlier has been ingested. A live source keeps it at MAX; a
    /// replay moves it along, so a timer never fires ahead of an answer
    /// that was already in the export.
    watermark: AtomicI64,
    pub timers_changed: Notify,
    pub deliveries_changed: Notify,
    /// Rows were committed that Postgres may not have yet: wakes the sync
    /// push before its interval.
    pub outbox_changed: Notify,
    /// Unix time of the last ingested event (0 before the first).
    pub last_event: AtomicI64,
    /// Test-only (`--wedge-on-usr1`): the ingest loop stops (and stops
    /// beating) when set, so that the e2e test sees the watchdog fire.
    #[cfg(feature = "test-support")]
    pub wedged: AtomicBool,
    /// Live-source events committed or fully handled (see
    /// [`crate::telegram::client::run`]: the update state is saved only
    /// when this caught up with what the connection loop forwarded).
    pub handled: Arc<std::sync::atomic::AtomicU64>,
}

impl Shared {
    pub fn new(
        store: Store,
        clock: Clock,
        engine: Engine,
        sinks: Vec<Arc<dyn AlertSink>>,
        live: bool,
    ) -> Shared {
        Shared {
            store,
            clock,
            engines: EngineOwner::new(engine),
            sinks: RwLock::new(Arc::new(sinks)),
            watermark: AtomicI64::new(if live { i64::MAX } else { i64::MIN }),
            timers_changed: Notify::new(),
            deliveries_changed: Notify::new(),
            outbox_changed: Notify::new(),
            last_event: AtomicI64::new(0),
            #[cfg(feature = "test-support")]
            wedged: AtomicBool::new(false),
            handled: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// The engine in force now (see [`EngineOwner::current`]).
    pub fn engine(&self) -> Arc<Engine> {
        self.engines.current()
    }

    pub fn sinks(&self) -> Arc<Vec<Arc<dyn AlertSink>>> {
        self.sinks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_sinks(&self, sinks: Vec<Arc<dyn AlertSink>>) {
        *self.sinks.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(sinks);
    }

    pub fn watermark(&self) -> i64 {
        self.watermark.load(Ordering::Acquire)
    }

    pub fn set_watermark(&self, w: i64) {
        if self.watermark.swap(w, Ordering::AcqRel) != w {
            self.timers_changed.notify_one();
        }
    }

    /// The latest instant timers may fire at now.
    pub fn fire_upto(&self) -> i64 {
        self.clock
            .now()
            .timestamp()
            .min(self.watermark().saturating_sub(1))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
