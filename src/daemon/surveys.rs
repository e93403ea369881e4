//! The survey loop: every [`POLL`] one [`crate::bot::survey_steps::step`]
//! in a write transaction on the daemon's clock — the scheduled campaign,
//! reminders, managers' notices, closes. Everything it does is decided
//! from the store, so a step missed while the daemon was down is made up
//! by the first one after the start, and a step done is never done again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bot::survey_steps;
use crate::core::shared::Shared;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::store::{self, StoreError};

/// How often the loop looks for due steps: the steps are days apart, and
/// a scheduled campaign may start this much late.
pub const POLL: Duration = Duration::from_secs(30);

/// Runs the survey steps every `poll` until `cancel`; `wake` nudges the
/// outbound sender after something was queued.
pub async fn run(
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    poll: Duration,
    cancel: CancellationToken,
) -> Result<(), StoreError> {
    loop {
        let engine = shared.engine();
        let now = shared.clock.now();
        let stepped = shared
            .store
            .run(move |c| {
                let tx = store::write_tx(c)?;
                let report = survey_steps::step(&tx, &engine, now)?;
                tx.commit()?;
                Ok(report)
            })
            .await;
        match stepped {
            Ok(report) if report.queued() => wake.notify_one(),
            Ok(_) => {}
            // Busy past the timeout: the next poll tries again.
            Err(e) if e.is_busy() => tracing::debug!(error = %e, "survey step: database busy"),
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// The survey loop as a worker (with a Telegram source only: surveys are
/// posted in the chats by the bot).
pub struct SurveysWorker {
    pub shared: Arc<Shared>,
    pub wake: Arc<Notify>,
}

impl Worker for SurveysWorker {
    fn name(&self) -> &'static str {
        "surveys"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        Ok(run(self.shared, self.wake, POLL, ctx.cancel).await?)
    }
}
