//! The timer loop: sleeps until the earliest due timer (no polling), fires
//! what is due in one transaction per batch, and picks up at start what
//! fell due while the daemon was down.

use std::sync::Arc;

use chrono::DateTime;
use tokio_util::sync::CancellationToken;

use super::engine::Fired;
use super::notify::Heartbeat;
use super::shared::{Shared, TICK};
use crate::metrics::catalogue as m;
use crate::store::{self, timers};

const BATCH: i64 = 200;

pub async fn run(
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    loop {
        heartbeat.beat();
        // Fire everything due (in batches, so one transaction stays short).
        loop {
            let upto = shared.fire_upto();
            let fired = fire_due(&shared, upto).await?;
            if fired < BATCH as usize {
                break;
            }
        }
        let next = shared.store.run(|c| timers::next_due(c)).await?;
        // Sleep until the next due timer or until new timers / a moved
        // watermark / cancellation; wake every TICK only to beat.
        let wake = match next {
            Some(due) if due < shared.watermark() => {
                DateTime::from_timestamp(due, 0).map(|t| shared.clock.instant_at(t))
            }
            // Due but held back by the watermark: wait for it to move.
            _ => None,
        };
        loop {
            heartbeat.beat();
            let tick = tokio::time::Instant::now() + TICK;
            let until = wake.map_or(tick, |w| w.min(tick));
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = shared.timers_changed.notified() => break,
                _ = tokio::time::sleep_until(until) => {
                    if wake.is_some_and(|w| w <= tokio::time::Instant::now()) {
                        break;
                    }
                }
            }
        }
    }
}

/// Fires timers due at or before `upto`; returns how many were handled.
async fn fire_due(shared: &Arc<Shared>, upto: i64) -> Result<usize, store::StoreError> {
    let engine = shared.engine();
    let now = shared.clock.now();
    let (handled, fired) = shared
        .store
        .run(move |conn| {
            let tx = conn.transaction()?;
            let due = timers::due(&tx, upto, BATCH)?;
            let mut fired = Vec::new();
            for t in &due {
                if let Fired::Alert {
                    deliveries, kind, ..
                } = engine.fire(&tx, t, now)?
                {
                    fired.push((t.request_id, kind, t.level, t.due_at, deliveries));
                }
            }
            tx.commit()?;
            Ok((due.len(), fired))
        })
        .await?;
    let mut deliveries = 0;
    for (request, kind, level, due, n) in fired {
        let lateness = (now.timestamp_millis() - due * 1000).max(0) as f64 / 1000.0;
        ::metrics::histogram!(m::TIMER_LATENESS_SECONDS).record(lateness);
        if kind == "breach" {
            ::metrics::counter!(m::SLA_BREACHES_TOTAL).increment(1);
        }
        tracing::info!(request, kind, level, due, lateness, "alert fired");
        deliveries += n;
    }
    if deliveries > 0 {
        shared.deliveries_changed.notify_one();
    }
    Ok(handled)
}
