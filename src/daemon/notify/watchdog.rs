//! The progress-gated watchdog.
//!
//! Pinging systemd from a timer task alone proves only that the runtime
//! still schedules timers; a wedged ingest loop (stuck on a lock, a hung
//! HTTP call) would go unnoticed forever. Instead every long-running loop
//! holds a [`Heartbeat`] and calls [`Heartbeat::beat`] each time round, and
//! [`run_watchdog`] pings only while *every* loop has beaten recently. When
//! one stalls the pings stop and systemd's `WatchdogSec=` restarts us.
//!
//! Loops that are idle by design (the scheduler sleeping until the next due
//! timer, the ingest loop waiting on a quiet long poll) must still beat: they
//! `select!` on a tick of at most the watchdog interval besides their real
//! work, and beat on every wake-up.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::Notifier;
pub use crate::core::health::{Heartbeat, HeartbeatRegistry};
use crate::core::worker::{BoxError, Worker, WorkerContext};

/// Pings `WATCHDOG=1` every [`Notifier::watchdog_interval`] while every
/// registered loop has beaten within `stall_after` (twice the interval is a
/// sensible choice: one missed tick is tolerated, a second means stuck — and
/// with `WatchdogSec=30s` systemd then fires 15 s after the last ping at the
/// latest). Returns when `cancel` fires. Without a watchdog it just waits for
/// `cancel`.
///
/// A stalled loop is logged once (warn) by name, and again (info) when it
/// recovers.
pub async fn run_watchdog(
    notifier: Notifier,
    heartbeats: HeartbeatRegistry,
    stall_after: Duration,
    cancel: CancellationToken,
) {
    let Some(period) = notifier.watchdog_interval() else {
        tracing::debug!("no systemd watchdog configured");
        cancel.cancelled().await;
        return;
    };
    tracing::debug!(?period, ?stall_after, "systemd watchdog running");
    let mut tick = tokio::time::interval(period);
    // After a long stall of the runtime itself, do not burst pings.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stalled = BTreeSet::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now_stalled = heartbeats.stalled(Instant::now(), stall_after);
        for name in now_stalled.difference(&stalled) {
            tracing::warn!(
                loop_name = %name,
                ?stall_after,
                "loop made no progress; withholding the systemd watchdog ping"
            );
        }
        for name in stalled.difference(&now_stalled) {
            tracing::info!(loop_name = %name, "loop made progress again");
        }
        stalled = now_stalled;
        if stalled.is_empty()
            && let Err(e) = notifier.watchdog_ping()
        {
            tracing::warn!("systemd watchdog ping failed: {e}");
        }
    }
}

/// The watchdog as a worker. A loop that has not beaten for `stall_after`
/// stops the pings.
pub struct WatchdogWorker {
    pub notifier: Notifier,
    pub heartbeats: HeartbeatRegistry,
    pub stall_after: Duration,
}

impl Worker for WatchdogWorker {
    fn name(&self) -> &'static str {
        "watchdog"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        run_watchdog(self.notifier, self.heartbeats, self.stall_after, ctx.cancel).await;
        Ok(())
    }
}
