//! The ingest loop: events from the source go through the engine in
//! batches, each batch one transaction together with the source position,
//! and are acknowledged only after that commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::notify::Heartbeat;
use crate::bot::{self, faq::FaqCache};
use crate::core::engine::{Engine, FiredAlert};
use crate::core::event::{Event, EventKind};
use crate::core::shared::{Shared, TICK};
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::metrics::catalogue as m;
use crate::store::{self, settings, state, timers};

/// Events committed together at most (group commit: one fsync-free WAL
/// commit amortised over many events).
const BATCH: usize = 256;

pub const REPLAY_SOURCE: &str = "replay";

/// FAQ answering on a live Telegram source: the index cache, and the
/// outbound sender to wake once an answer is queued.
#[derive(Clone)]
pub struct FaqAnswers {
    pub cache: Arc<FaqCache>,
    pub wake: Arc<Notify>,
}

impl FaqAnswers {
    pub fn new(wake: Arc<Notify>) -> FaqAnswers {
        FaqAnswers {
            cache: Arc::new(FaqCache::default()),
            wake,
        }
    }
}

pub async fn run(
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Event>,
    source: &'static str,
    faq: Option<FaqAnswers>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    #[cfg(feature = "test-support")]
    {
        // Test-only (`--wedge-on-usr1`): the whole loop is dropped at
        // once, wherever it waits (a replay's virtual clock, an idle
        // source, a finished one), so it stops beating and the watchdog
        // must let systemd kill us.
        let wedge = wedged(&shared);
        tokio::select! {
            r = ingest(shared.clone(), rx, source, faq, heartbeat, cancel.clone()) => r,
            () = wedge => {
                tracing::warn!("ingest loop wedged on request (test signal)");
                cancel.cancelled().await;
                Ok(())
            }
        }
    }
    #[cfg(not(feature = "test-support"))]
    ingest(shared, rx, source, faq, heartbeat, cancel).await
}

/// Resolves once the test signal has wedged the loop.
#[cfg(feature = "test-support")]
async fn wedged(shared: &Shared) {
    while !shared.wedged.load(Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn ingest(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Event>,
    source: &'static str,
    faq: Option<FaqAnswers>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    let mut pending: Option<Event> = None;
    loop {
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
        // A replay waits for its virtual clock to reach the event's date. A
        // live source never waits: Telegram's clock may run a little ahead
        // of ours, and its events are due when they arrive.
        if source == REPLAY_SOURCE {
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
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) if source != REPLAY_SOURCE || e.date() <= shared.clock.now() => batch.push(e),
                Ok(e) => {
                    pending = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
        commit(&shared, batch, source, faq.as_ref()).await?;
    }
}

/// What one batch did.
#[derive(Default)]
pub struct BatchOutcome {
    pub opened: usize,
    pub answered: usize,
    pub duplicates: usize,
    /// Client messages answered from the FAQ (queued with the batch).
    pub faq_answers: usize,
    /// Client messages taken as survey comments (replies queued).
    pub survey_comments: usize,
    /// Client files confirmed (one per burst).
    pub receipts: usize,
    /// Requests answered with the out-of-hours reply.
    pub out_of_hours: usize,
    /// Client menu contacts closed by a staff member's message.
    pub contacts_answered: usize,
    /// Chat events that changed the chat settings.
    pub chat_changes: usize,
    /// The earliest new timer, to wake the scheduler if it is sooner.
    pub earliest: Option<i64>,
    /// Alerts fired before events (replays only).
    pub fired: Vec<FiredAlert>,
    /// The engine rebuilt after chat events changed the settings, to run
    /// from now on.
    pub engine: Option<Arc<Engine>>,
}

impl BatchOutcome {
    /// The engine rebuilt from the store with open requests re-timed, as
    /// [`crate::core::live_settings::swap`] does; it runs from here on.
    fn rebuild(
        &mut self,
        tx: &Connection,
        old: &Arc<Engine>,
        now: DateTime<Utc>,
    ) -> store::Result<Arc<Engine>> {
        let new = Arc::new(Engine::from_config_and_store(
            old.base_config().clone(),
            tx,
        )?);
        if new.retime(tx, old, now)? > 0 {
            self.earliest_at(timers::next_due(tx)?);
        }
        self.engine = Some(new.clone());
        Ok(new)
    }

    fn earliest_at(&mut self, t: Option<i64>) {
        self.earliest = match (self.earliest, t) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Applies a batch in one IMMEDIATE transaction and stores `position`
/// (the source's, after the last event) with it. Messages go through
/// [`Engine::ingest`], chat events through [`Engine::chat_event`]; after a
/// chat event that changed the settings the engine is rebuilt from the
/// store and open requests re-timed, as [`crate::core::live_settings::swap`]
/// does, so the next event of the same batch sees the new settings (a
/// message right after the bot was added to a group is not tracked when
/// SLA starts off). Settings changed from the shell or by a command since
/// the engine was built are picked up the same way, in the transaction,
/// so no event of the batch is judged on settings already replaced.
pub fn apply_batch(
    conn: &mut Connection,
    engine: Arc<Engine>,
    batch: &[Event],
    source: &str,
    now: DateTime<Utc>,
    replay: bool,
    faq: Option<&FaqCache>,
) -> store::Result<BatchOutcome> {
    let tx = crate::store::write_tx(conn)?;
    let mut engine = engine;
    let mut out = BatchOutcome::default();
    if let Some(built) = engine.settings_revision()
        && built != settings::revision(&tx)?
    {
        engine = out.rebuild(&tx, &engine, now)?;
    }
    for e in batch {
        if replay {
            // A replay fires, in order, the timers due before each
            // event: the alert decisions then do not depend on how
            // events happen to be batched.
            out.fired
                .extend(engine.fire_due(&tx, e.date().timestamp() - 1, now)?);
        }
        match &e.kind {
            EventKind::Message(m) => {
                let r = engine.ingest(&tx, m, now)?;
                out.opened += r.opened;
                out.answered += r.answered;
                out.duplicates += usize::from(r.duplicate);
                out.earliest_at(r.earliest_timer);
                // The bot's answers to clients: live sources only (the FAQ
                // cache is only given there; a replay never answers).
                if let Some(cache) = faq
                    && !r.duplicate
                {
                    // A voter's next message may be a survey comment, which
                    // is then not looked up in the FAQ.
                    if bot::survey::capture_comment(&tx, &engine, m, now)?.is_some() {
                        out.survey_comments += 1;
                    } else if bot::faq::answer(&tx, &engine, cache, m, now)?.is_some() {
                        out.faq_answers += 1;
                    }
                    if bot::receipts::confirm(&tx, &engine, m, now)?.is_some() {
                        out.receipts += 1;
                    }
                    if r.opened > 0 && bot::out_of_hours::reply(&tx, &engine, m, now)? {
                        out.out_of_hours += 1;
                    }
                    out.contacts_answered += bot::contact::staff_answered(&tx, &engine, m, now)?;
                }
            }
            chat => {
                if !engine.chat_event(&tx, chat, now)?.changed {
                    continue;
                }
                out.chat_changes += 1;
                engine = out.rebuild(&tx, &engine, now)?;
            }
        }
    }
    if let Some(last) = batch.last() {
        state::set_position(&tx, source, &last.position, now.timestamp())?;
    }
    tx.commit()?;
    Ok(out)
}

/// Ingests a batch in one transaction with the source position.
async fn commit(
    shared: &Arc<Shared>,
    batch: Vec<Event>,
    source: &'static str,
    faq: Option<&FaqAnswers>,
) -> Result<(), store::StoreError> {
    let now = shared.clock.now();
    let replay = source == REPLAY_SOURCE;
    let started = Instant::now();
    let kinds: Vec<&'static str> = batch.iter().map(Event::kind).collect();
    let last_date = batch
        .iter()
        .map(|e| e.date().timestamp())
        .max()
        .unwrap_or(0);
    let s = shared.clone();
    let cache = faq.map(|f| f.cache.clone());
    let outcome = shared
        .store
        .run(move |conn| {
            // A batch may rebuild the engine (chat events, or settings
            // changed since it was built): serialised with every other
            // rebuild, so that none re-times open requests from an engine
            // another replaced.
            s.engines.install_with(|engine| {
                let out = apply_batch(
                    conn,
                    engine.clone(),
                    &batch,
                    source,
                    now,
                    replay,
                    cache.as_deref(),
                )?;
                let new = out.engine.clone();
                Ok((out, new))
            })
        })
        .await?;
    // Committed: a live source may now save its position past these.
    shared
        .handled
        .fetch_add(kinds.len() as u64, Ordering::AcqRel);
    super::scheduler::record_fired(shared, now, outcome.fired);
    let per_event = started.elapsed().as_secs_f64() / kinds.len().max(1) as f64;
    for kind in &kinds {
        ::metrics::counter!(m::EVENTS_RECEIVED_TOTAL, "kind" => *kind).increment(1);
        ::metrics::histogram!(m::INGEST_DURATION_SECONDS).record(per_event);
    }
    ::metrics::counter!(m::REQUESTS_OPENED_TOTAL).increment(outcome.opened as u64);
    ::metrics::counter!(m::REQUESTS_ANSWERED_TOTAL).increment(outcome.answered as u64);
    ::metrics::gauge!(m::LAST_EVENT_TIMESTAMP_SECONDS).set(last_date as f64);
    shared.last_event.fetch_max(last_date, Ordering::Relaxed);
    if outcome.duplicates > 0 {
        tracing::debug!(
            duplicates = outcome.duplicates,
            "skipped events processed before"
        );
    }
    if outcome.chat_changes > 0 {
        tracing::info!(
            changes = outcome.chat_changes,
            "chat settings changed by chat events"
        );
    }
    if outcome.earliest.is_some() {
        shared.timers_changed.notify_one();
    }
    if outcome.faq_answers + outcome.survey_comments + outcome.receipts + outcome.out_of_hours > 0
        && let Some(f) = faq
    {
        f.wake.notify_one();
    }
    shared.outbox_changed.notify_one();
    Ok(())
}

/// The ingest loop as a worker.
pub struct IngestWorker {
    pub shared: Arc<Shared>,
    pub rx: mpsc::Receiver<Event>,
    pub source: &'static str,
    /// Set on a live Telegram source: client messages may be answered
    /// from the FAQ.
    pub faq: Option<FaqAnswers>,
}

impl Worker for IngestWorker {
    fn name(&self) -> &'static str {
        "ingest"
    }

    fn beats(&self) -> bool {
        true
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        Ok(run(
            self.shared,
            self.rx,
            self.source,
            self.faq,
            ctx.heartbeat,
            ctx.cancel,
        )
        .await?)
    }
}
