//! STATUS= for `systemctl status`: open requests, the last event, alerts to
//! deliver, the outbox, with an outage first; and the gauges behind it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::DateTime;

use super::notify::Notifier;
use crate::core::shared::Shared;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::metrics::catalogue as m;
use crate::store::{outbox, requests};
use crate::telegram::link::Link;

pub async fn status_line(
    shared: &Arc<Shared>,
    link: Option<&Link>,
) -> Result<String, crate::store::StoreError> {
    let (open, pending, sync) = shared
        .store
        .run(|c| {
            Ok((
                requests::count_open(c)?,
                crate::store::deliveries::pending_count(c)?,
                outbox::stats(c)?,
            ))
        })
        .await?;
    let now = shared.clock.now().timestamp();
    ::metrics::gauge!(m::REQUESTS_OPEN).set(open as f64);
    ::metrics::gauge!(m::ALERT_DELIVERIES_PENDING).set(pending as f64);
    ::metrics::gauge!(m::OUTBOX_DEPTH).set(sync.depth as f64);
    ::metrics::gauge!(m::OUTBOX_OLDEST_AGE_SECONDS)
        .set(sync.oldest_at.map_or(0, |o| (now - o).max(0)) as f64);
    ::metrics::gauge!(m::SYNC_DEAD_LETTERS).set(sync.dead_letters as f64);
    let last = shared.last_event.load(Ordering::Relaxed);
    let last = DateTime::from_timestamp(last, 0)
        .filter(|_| last > 0)
        .map_or_else(
            || "none yet".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        );
    let mut line = format!("{open} open requests, last event {last}, {pending} alerts to deliver");
    if sync.enabled {
        line.push_str(&format!(", {} changes to push to Postgres", sync.depth));
    }
    // An outage comes first: STATUS= is what `systemctl status` shows.
    Ok(match link.map(Link::status).filter(|s| !s.is_empty()) {
        Some(outage) => format!("{outage}; {line}"),
        None => line,
    })
}

/// Sends STATUS= every 5 s.
pub struct StatusWorker {
    pub shared: Arc<Shared>,
    pub notifier: Notifier,
    pub link: Option<Arc<Link>>,
}

impl Worker for StatusWorker {
    fn name(&self) -> &'static str {
        "status"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        loop {
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            let line = status_line(&self.shared, self.link.as_deref()).await?;
            let _ = self.notifier.status(&line);
        }
    }
}
