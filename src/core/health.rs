//! Heartbeats: every long-running loop beats each time round, and the
//! progress-gated systemd watchdog (`crate::daemon::notify`) pings only
//! while every registered loop has beaten recently. Here, below the
//! daemon, so that workers of any layer can carry one.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The set of loops the watchdog waits for. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct HeartbeatRegistry {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    /// Beats are stored as milliseconds since this instant so that a beat is
    /// one relaxed atomic store. tokio's clock, so paused-time tests work.
    epoch: Instant,
    loops: Mutex<Vec<Arc<LoopState>>>,
}

#[derive(Debug)]
struct LoopState {
    name: String,
    last_beat_ms: AtomicU64,
    retired: AtomicBool,
}

/// One loop's handle. Clone it to move into the loop's task; beating from
/// any clone counts for the loop.
///
/// Dropping a handle does *not* unregister the loop: a task that panicked or
/// was aborted drops its handle too, and that is exactly the failure the
/// watchdog must not hide. A loop that ends by design calls
/// [`Heartbeat::retire`].
#[derive(Debug, Clone)]
pub struct Heartbeat {
    state: Arc<LoopState>,
    epoch: Instant,
}

impl Default for HeartbeatRegistry {
    fn default() -> Self {
        HeartbeatRegistry::new()
    }
}

impl HeartbeatRegistry {
    pub fn new() -> HeartbeatRegistry {
        HeartbeatRegistry {
            inner: Arc::new(Registry {
                epoch: Instant::now(),
                loops: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Registers a loop under `name` (used in log messages). Registration
    /// counts as a beat, so a loop has `stall_after` to get going.
    pub fn register(&self, name: impl Into<String>) -> Heartbeat {
        let state = Arc::new(LoopState {
            name: name.into(),
            last_beat_ms: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        });
        let beat = Heartbeat {
            state: Arc::clone(&state),
            epoch: self.inner.epoch,
        };
        beat.beat();
        self.lock().push(state);
        beat
    }

    /// A heartbeat for a loop the watchdog does not wait for (one that
    /// sleeps for long by design and so does not beat): beating it is
    /// harmless, and it never shows as stalled.
    pub fn unwatched(&self, name: impl Into<String>) -> Heartbeat {
        Heartbeat {
            state: Arc::new(LoopState {
                name: name.into(),
                last_beat_ms: AtomicU64::new(0),
                retired: AtomicBool::new(true),
            }),
            epoch: self.inner.epoch,
        }
    }

    /// Names of the live loops that have not beaten within `stall_after`
    /// before `now`.
    pub fn stalled(&self, now: Instant, stall_after: Duration) -> BTreeSet<String> {
        let now_ms = millis_since(self.inner.epoch, now);
        let limit = u64::try_from(stall_after.as_millis()).unwrap_or(u64::MAX);
        self.lock()
            .iter()
            .filter(|l| !l.retired.load(Ordering::Relaxed))
            .filter(|l| now_ms.saturating_sub(l.last_beat_ms.load(Ordering::Relaxed)) > limit)
            .map(|l| l.name.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<LoopState>>> {
        // The list is only pushed to and read; a panic elsewhere while
        // holding the lock cannot leave it half-updated.
        self.inner.loops.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Heartbeat {
    /// Records progress. One atomic store; call it every time round the loop.
    pub fn beat(&self) {
        let now = millis_since(self.epoch, Instant::now());
        // fetch_max: clones beating concurrently must not move time backwards.
        self.state.last_beat_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// The loop finished by design; the watchdog stops waiting for it.
    pub fn retire(self) {
        self.state.retired.store(true, Ordering::Relaxed);
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }
}

fn millis_since(epoch: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}
