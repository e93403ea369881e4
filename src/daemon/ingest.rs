//! The ingest loop: events from the source go through the engine in
//! batches, each batch one transaction together with the source position,
//! and are acknowledged only after that commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use super::notify::Heartbeat;
use super::shared::{Shared, TICK};
use crate::metrics::catalogue as m;
use crate::store::{self, state};

/// Events committed together at most (group commit: one fsync-free WAL
/// commit amortised over many events).
const BATCH: usize = 256;

pub const REPLAY_SOURCE: &str = "replay";

pub async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Event>,
    source: &'static str,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    let mut pending: Option<Event> = None;
    loop {
        if shared.wedged.load(Ordering::Relaxed) {
            // Test-only: a wedged loop stops beating, and the watchdog must
            // then let systemd kill us.
            tracing::warn!("ingest loop wedged on request (test signal)");
            cancel.cancelled().await;
            return Ok(());
        }
        heartbeat.beat();
        let first = match pending.take() {
            Some(e) => e,
            None => tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(TICK) => continue,
                e = rx.recv() => match e {
                    Some(e) => e,
                    None => {
                        // The source is exhausted: every remaining timer may fire.
                        shared.set_watermark(i64::MAX);
                        tracing::info!("event source finished");
                        loop {
                            heartbeat.beat();
                            tokio::select! {
                                _ = cancel.cancelled() => return Ok(()),
                                _ = tokio::time::sleep(TICK) => {}
                            }
                        }
                    }
                },
            },
        };
        // Timers due before this event may fire; those at or after it wait
        // until it is in, so an answer in the export wins over its alert.
        if source == REPLAY_SOURCE {
            shared.set_watermark(first.date().timestamp());
        }
        // A replay waits for its virtual clock to reach the event's date.
        loop {
            let wait = shared.clock.real_until(first.date());
            if wait.is_zero() {
                break;
            }
            heartbeat.beat();
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait.min(TICK)) => {}
            }
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) if e.date() <= shared.clock.now() => batch.push(e),
                Ok(e) => {
                    pending = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
        commit(&shared, batch, source).await?;
    }
}

/// Ingests a batch in one transaction with the source position.
async fn commit(
    shared: &Arc<Shared>,
    batch: Vec<Event>,
    source: &'static str,
) -> Result<(), store::StoreError> {
    // Chat settings changed from the shell apply from this batch on.
    super::live_settings::refresh(shared).await?;
    let engine = shared.engine();
    let now = shared.clock.now();
    let replay = source == REPLAY_SOURCE;
    let started = Instant::now();
    let kinds: Vec<&'static str> = batch.iter().map(Event::kind).collect();
    let last_date = batch
        .iter()
        .map(|e| e.date().timestamp())
        .max()
        .unwrap_or(0);
    let outcome = shared
        .store
        .run(move |conn| {
            let tx = crate::store::write_tx(conn)?;
            let mut opened = 0;
            let mut answered = 0;
            let mut duplicates = 0;
            let mut earliest: Option<i64> = None;
            let mut fired = Vec::new();
            for e in &batch {
                if replay {
                    // A replay fires, in order, the timers due before each
                    // event: the alert decisions then do not depend on how
                    // events happen to be batched.
                    fired.extend(engine.fire_due(&tx, e.date().timestamp() - 1, now)?);
                }
                let r = engine.ingest(&tx, &e.message, now)?;
                opened += r.opened;
                answered += r.answered;
                duplicates += usize::from(r.duplicate);
                earliest = match (earliest, r.earliest_timer) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            if let Some(last) = batch.last() {
                state::set_position(&tx, source, &last.position, now.timestamp())?;
            }
            tx.commit()?;
            Ok((opened, answered, duplicates, earliest, fired))
        })
        .await?;
    let (opened, answered, duplicates, earliest, fired) = outcome;
    super::scheduler::record_fired(shared, now, fired);
    let per_event = started.elapsed().as_secs_f64() / kinds.len().max(1) as f64;
    for kind in &kinds {
        ::metrics::counter!(m::EVENTS_RECEIVED_TOTAL, "kind" => *kind).increment(1);
        ::metrics::histogram!(m::INGEST_DURATION_SECONDS).record(per_event);
    }
    ::metrics::counter!(m::REQUESTS_OPENED_TOTAL).increment(opened as u64);
    ::metrics::counter!(m::REQUESTS_ANSWERED_TOTAL).increment(answered as u64);
    ::metrics::gauge!(m::LAST_EVENT_TIMESTAMP_SECONDS).set(last_date as f64);
    shared.last_event.fetch_max(last_date, Ordering::Relaxed);
    if duplicates > 0 {
        tracing::debug!(duplicates, "skipped events processed before");
    }
    if earliest.is_some() {
        shared.timers_changed.notify_one();
    }
    Ok(())
}
