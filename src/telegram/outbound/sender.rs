//! The sender loop: resolves messages a crash left in flight, then sends
//! due messages one at a time, paced, recording every outcome.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pacer::{Limits, Pacer};
use super::queue::{self, OutboundStatus};
use super::{Kind, Lookup, OutboundMessage, SendError, TelegramApi};
use crate::core::clock::Clock;
use crate::core::delivery::{
    Channel, DEADLINE, Jitter, Next, RetryPolicy, Verdict, report_final_failure, verdict,
};
use crate::core::health::Heartbeat;
use crate::store::{Store, StoreError};

/// Settings of the sender.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub limits: Limits,
    /// Retries of transient failures and the deadline: the configured
    /// policy, the same as for alerts on every channel. Permanent failures
    /// are not retried.
    pub policy: RetryPolicy,
    /// One API call longer than this counts as a transient failure.
    pub send_timeout: Duration,
    /// Longest idle sleep: the heartbeat's pace and the poll for rows
    /// enqueued without a `wake`.
    pub idle: Duration,
    /// Due rows read per round.
    pub batch: i64,
    /// Notified by enqueuers ([`super::TelegramSink`]) to end an idle sleep.
    pub wake: Arc<Notify>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            limits: Limits::default(),
            policy: RetryPolicy::default(),
            send_timeout: Duration::from_secs(60),
            idle: crate::core::shared::TICK,
            batch: 200,
            wake: Arc::new(Notify::new()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("outbound queue: cannot {action}: {source}")]
    Store {
        action: &'static str,
        #[source]
        source: StoreError,
    },
}

fn ctx(action: &'static str) -> impl FnOnce(StoreError) -> OutboundError {
    move |source| OutboundError::Store { action, source }
}

/// Runs the sender until `cancel`. `clock` gives the Unix times stored in
/// the table; pacing runs on tokio's clock (a `Clock::Virtual` under paused
/// time keeps both in step in tests).
pub async fn run_outbound_with(
    config: OutboundConfig,
    store: Store,
    api: Arc<dyn TelegramApi>,
    clock: Clock,
    cancel: CancellationToken,
    heartbeat: Option<Heartbeat>,
) -> Result<(), OutboundError> {
    let beat = || {
        if let Some(h) = &heartbeat {
            h.beat();
        }
    };
    let mut s = Sender {
        config: &config,
        store: &store,
        api: &*api,
        clock,
        jitter: Jitter::new(Jitter::seed_from_time()),
    };
    s.recover().await?;
    let mut pacer = Pacer::new(&config.limits);
    let mut rounds = 0u64;
    loop {
        beat();
        if cancel.is_cancelled() {
            return Ok(());
        }
        rounds += 1;
        if rounds.is_multiple_of(1000) {
            pacer.shrink();
        }
        let now_unix = s.unix();
        let batch = config.batch;
        let due = store
            .run(move |c| queue::due(c, now_unix, batch))
            .await
            .map_err(ctx("read due messages"))?;
        let mut sent = false;
        // Earliest instant a held-back chat of this batch may go.
        let mut wake_at = Instant::now() + config.idle;
        for msg in &due {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if let Some(t) = pacer.blocked_until(msg.chat_id, Instant::now()) {
                wake_at = wake_at.min(t);
                continue;
            }
            // The global slot comes first and is used at once (see Pacer).
            while let Err(at) = pacer.take_global() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(at) => {}
                }
            }
            if let Err(t) = pacer.take_chat(msg.chat_id) {
                // The global slot is lost; it happens only when the group
                // quota binds, i.e. when the global rate is not the limit.
                wake_at = wake_at.min(t);
                continue;
            }
            // Not raced against `cancel`: a call once started is finished
            // and recorded, so a graceful stop never leaves a row `sending`.
            s.attempt(&mut pacer, msg).await?;
            sent = true;
            beat();
        }
        if sent {
            continue;
        }
        let next = store
            .run(move |c| queue::next_due_after(c, now_unix))
            .await
            .map_err(ctx("read the next retry time"))?;
        if let Some(t) = next.and_then(|t| DateTime::from_timestamp(t, 0)) {
            wake_at = wake_at.min(clock.instant_at(t));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = config.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

struct Sender<'a> {
    config: &'a OutboundConfig,
    store: &'a Store,
    api: &'a dyn TelegramApi,
    clock: Clock,
    jitter: Jitter,
}

impl Sender<'_> {
    fn unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Settles rows a previous process left `sending` (see the module
    /// guarantees): recorded as sent if Telegram has them, else resent.
    async fn recover(&self) -> Result<(), OutboundError> {
        let rows = self
            .store
            .run(|c| queue::in_flight(c))
            .await
            .map_err(ctx("read messages left in flight"))?;
        for msg in rows {
            // A lookup that hangs must not keep the queue from starting.
            let lookup = tokio::time::timeout(self.config.send_timeout, self.api.lookup_sent(&msg))
                .await
                .unwrap_or(Lookup::Unknown);
            let (id, now) = (msg.id, self.unix());
            let write = match lookup {
                Lookup::Sent(tg) => {
                    tracing::info!(key = %msg.dedupe_key, telegram_id = tg,
                        "message left in flight was delivered; not resending");
                    self.store
                        .run(move |c| queue::confirm_sent(c, id, tg, now))
                        .await
                }
                Lookup::NotSent => {
                    tracing::info!(key = %msg.dedupe_key, "message left in flight was not delivered; resending");
                    self.store
                        .run(move |c| {
                            queue::record_failure(
                                c,
                                id,
                                OutboundStatus::Pending,
                                "interrupted; not delivered",
                                now,
                            )
                        })
                        .await
                }
                Lookup::Unknown => {
                    tracing::warn!(key = %msg.dedupe_key, chat = msg.chat_id,
                        "message left in flight has an unknown outcome; resending (it may arrive twice)");
                    self.store
                        .run(move |c| {
                            queue::record_failure(
                                c,
                                id,
                                OutboundStatus::Pending,
                                "interrupted; outcome unknown",
                                now,
                            )
                        })
                        .await
                }
            };
            write.map_err(ctx("settle a message left in flight"))?;
        }
        Ok(())
    }

    /// One API call for `msg`, with its outcome recorded.
    async fn attempt(
        &mut self,
        pacer: &mut Pacer,
        msg: &OutboundMessage,
    ) -> Result<(), OutboundError> {
        let (id, started) = (msg.id, self.unix());
        self.store
            .run(move |c| queue::mark_sending(c, id, started))
            .await
            .map_err(ctx("mark a message as sending"))?;
        let call = match msg.kind {
            Kind::Edit => self.api.edit(msg),
            _ => self.api.send(msg),
        };
        let result = tokio::time::timeout(self.config.send_timeout, call)
            .await
            .unwrap_or(Err(SendError::Timeout(self.config.send_timeout)));
        let now = self.unix();
        let err = match result {
            Ok(tg) => {
                // Status and Telegram id together: once this commits the row
                // is never sent again; an alert's delivery becomes sent in
                // the same transaction.
                self.store
                    .run(move |c| queue::confirm_sent(c, id, tg, now))
                    .await
                    .map_err(ctx("record a sent message"))?;
                tracing::debug!(key = %msg.dedupe_key, chat = msg.chat_id, telegram_id = tg, "message sent");
                return Ok(());
            }
            Err(e) => e,
        };
        let age = Duration::from_secs((now - msg.created_at).max(0).unsigned_abs());
        let text = err.to_string();
        let next = match verdict(&err) {
            Verdict::Permanent { reason } => Err((OutboundStatus::Failed, reason)),
            Verdict::Transient { wait } => {
                match self
                    .config
                    .policy
                    .next(msg.attempts, age, wait, self.jitter.unit())
                {
                    Next::GiveUp => Err((OutboundStatus::GivenUp, DEADLINE.to_string())),
                    Next::RetryIn(delay) => {
                        if let Some(wait) = wait {
                            // FLOOD_WAIT: only this chat waits; the row keeps
                            // its place in the chat's order and carries the
                            // wait across restarts.
                            pacer.block(msg.chat_id, Instant::now() + wait);
                        }
                        // Rounded up: a restart must not retry early and
                        // earn a longer FLOOD_WAIT.
                        let until = self.clock.now() + delay;
                        Ok(until.timestamp() + i64::from(until.timestamp_subsec_nanos() > 0))
                    }
                }
            }
        };
        match next {
            Ok(next) => {
                let t = text.clone();
                self.store
                    .run(move |c| queue::record_failure(c, id, OutboundStatus::Pending, &t, next))
                    .await
                    .map_err(ctx("record a failed send"))?;
                tracing::warn!(key = %msg.dedupe_key, chat = msg.chat_id,
                    attempts = msg.attempts + 1, retry_at = next, error = %err,
                    "outbound message not sent; will retry");
            }
            Err((status, reason)) => {
                let (t, r) = (text.clone(), reason.clone());
                self.store
                    .run(move |c| queue::record_final(c, id, status, &r, &t, now))
                    .await
                    .map_err(ctx("record a failed send"))?;
                report_final_failure(
                    Channel::Telegram,
                    &reason,
                    &format!(
                        "outbound {} {} to chat {} after {} attempt(s)",
                        msg.kind,
                        msg.dedupe_key,
                        msg.chat_id,
                        msg.attempts + 1
                    ),
                    &text,
                );
            }
        }
        Ok(())
    }
}
