//! The timer loop: sleeps until the earliest due timer (no polling), fires
//! what is due in one transaction per batch, and picks up at start what
//! fell due while the daemon was down.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::notify::Heartbeat;
use crate::core::engine::FiredAlert;
use crate::core::shared::{Shared, sleep_until};
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::domain::sla::AlertKind;
use crate::metrics::catalogue as m;
use crate::store::{self, contacts, timers};

pub async fn run(
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    loop {
        heartbeat.beat();
        let step = async {
            fire_due(&shared, shared.fire_upto()).await?;
            shared
                .store
                .run(|c| {
                    let contact = contacts::next_due(c)?;
                    Ok(match (timers::next_due(c)?, contact) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    })
                })
                .await
        };
        let next = match step.await {
            Ok(next) => next,
            // A timer is never lost: it fires on the next pass.
            Err(e) if e.is_busy() => {
                tracing::warn!(error = %e, "scheduler: the database is busy; retrying");
                if !super::delivery::busy_pause(&heartbeat, &cancel).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        // Sleep until the next due timer or until new timers / a moved
        // watermark / cancellation; wake every TICK only to beat.
        let wake = match next {
            Some(due) if due < shared.watermark() => {
                DateTime::from_timestamp(due, 0).map(|t| shared.clock.instant_at(t))
            }
            // Due but held back by the watermark: wait for it to move.
            _ => None,
        };
        if !sleep_until(wake, &shared.timers_changed, &heartbeat, &cancel).await {
            return Ok(());
        }
    }
}

/// Fires timers due at or before `upto`, and runs the client menu's
/// contact steps due by then, in one transaction (the catch-up's
/// watermark holds both: an answer given while the daemon was down closes
/// a contact before its next level is told).
async fn fire_due(shared: &Arc<Shared>, upto: i64) -> Result<(), store::StoreError> {
    let engine = shared.engine();
    let now = shared.clock.now();
    let fired = shared
        .store
        .run(move |conn| {
            let tx = crate::store::write_tx(conn)?;
            let fired = engine.fire_due(&tx, upto, now)?;
            crate::bot::contact::escalate_due(&tx, &engine, upto, now)?;
            tx.commit()?;
            Ok(fired)
        })
        .await?;
    record_fired(shared, now, fired);
    Ok(())
}

/// Metrics, log lines and a nudge to the delivery loop for fired alerts.
pub fn record_fired(shared: &Shared, now: DateTime<Utc>, fired: Vec<FiredAlert>) {
    let mut deliveries = 0;
    for FiredAlert {
        request_id: request,
        kind,
        level,
        due_at: due,
        deliveries: n,
    } in fired
    {
        let lateness = (now.timestamp_millis() - due * 1000).max(0) as f64 / 1000.0;
        ::metrics::histogram!(m::TIMER_LATENESS_SECONDS).record(lateness);
        if kind == AlertKind::Breach {
            ::metrics::counter!(m::SLA_BREACHES_TOTAL).increment(1);
        }
        tracing::info!(request, %kind, level, due, lateness, "alert fired");
        deliveries += n;
    }
    if deliveries > 0 {
        shared.deliveries_changed.notify_one();
        shared.outbox_changed.notify_one();
    }
}

/// The timer loop as a worker.
pub struct SchedulerWorker(pub Arc<Shared>);

impl Worker for SchedulerWorker {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    fn beats(&self) -> bool {
        true
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        Ok(run(self.0, ctx.heartbeat, ctx.cancel).await?)
    }
}
