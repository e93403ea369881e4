//! The supervisor: starts every background task as a [`Worker`], watches
//! them and stops them all with one shutdown choreography (STOPPING=1 →
//! the Telegram connection first → cancel → drain with one deadline).
//!
//! A worker ending with an error or panicking is fatal: better a restart by
//! systemd than a half-dead daemon. One ending Ok by design (the replay
//! source finishing) is fine.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::{AbortHandle, Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::notify::{HeartbeatRegistry, Notifier};
use crate::core::worker::{
    StatusBoard, StatusCell, Worker, WorkerContext, WorkerError, WorkerState, WorkerStatus,
};

struct Entry {
    name: &'static str,
    status: StatusCell,
}

/// The worker stopped before the others (see [`Supervisor::spawn_first`]).
struct First {
    stop: CancellationToken,
    id: Id,
    abort: AbortHandle,
}

pub struct Supervisor {
    tasks: JoinSet<Result<(), WorkerError>>,
    workers: HashMap<Id, Entry>,
    /// In start order, for [`Supervisor::statuses`].
    order: StatusBoard,
    heartbeats: HeartbeatRegistry,
    cancel: CancellationToken,
    first: Option<First>,
}

impl Supervisor {
    pub fn new(heartbeats: HeartbeatRegistry) -> Supervisor {
        Supervisor {
            tasks: JoinSet::new(),
            workers: HashMap::new(),
            order: StatusBoard::default(),
            heartbeats,
            cancel: CancellationToken::new(),
            first: None,
        }
    }

    /// The token every worker but the first is cancelled with.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Starts `worker`, cancelled at shutdown with the others.
    pub fn spawn<W: Worker>(&mut self, worker: W) {
        let cancel = self.cancel.clone();
        self.start(worker, cancel);
    }

    /// Starts `worker` with its own token: at shutdown it is stopped first
    /// and gets at most half the drain deadline, while the others still
    /// run. The Telegram connection loop is this one: it drains what
    /// Telegram already sent through the still running pipeline and saves
    /// the update state before the rest stops.
    pub fn spawn_first<W: Worker>(&mut self, worker: W) {
        assert!(self.first.is_none(), "one worker is stopped first");
        let stop = CancellationToken::new();
        let (id, abort) = self.start(worker, stop.clone());
        self.first = Some(First { stop, id, abort });
    }

    fn start<W: Worker>(&mut self, worker: W, cancel: CancellationToken) -> (Id, AbortHandle) {
        let name = worker.name();
        let heartbeat = if worker.beats() {
            self.heartbeats.register(name)
        } else {
            self.heartbeats.unwatched(name)
        };
        let status = StatusCell::default();
        let ctx = WorkerContext {
            heartbeat,
            cancel,
            status: status.clone(),
        };
        let cell = status.clone();
        let abort = self.tasks.spawn(async move {
            match worker.run(ctx).await {
                Ok(()) => {
                    cell.set(WorkerState::Finished);
                    Ok(())
                }
                Err(source) => {
                    cell.set(WorkerState::Failed(source.to_string()));
                    Err(WorkerError::Failed {
                        worker: name,
                        source,
                    })
                }
            }
        });
        let id = abort.id();
        self.workers.insert(
            id,
            Entry {
                name,
                status: status.clone(),
            },
        );
        self.order.add(name, status);
        (id, abort)
    }

    /// Every worker's state, in start order.
    pub fn statuses(&self) -> Vec<WorkerStatus> {
        self.order.statuses()
    }

    /// The workers' states as a shared view (workers started later appear
    /// in it too).
    pub fn board(&self) -> StatusBoard {
        self.order.clone()
    }

    /// Waits until a worker fails (its error) or all ended by design (Ok).
    /// Cancel-safe: a worker that ended Ok is only forgotten.
    pub async fn watch(&mut self) -> Result<(), WorkerError> {
        while let Some(joined) = self.tasks.join_next_with_id().await {
            self.ended(joined)?;
        }
        Ok(())
    }

    /// Books a worker that ended; its error (or panic) if it failed.
    fn ended(
        &mut self,
        joined: Result<(Id, Result<(), WorkerError>), tokio::task::JoinError>,
    ) -> Result<Id, WorkerError> {
        match joined {
            Ok((id, r)) => {
                self.workers.remove(&id);
                r.map(|()| id)
            }
            Err(e) => {
                let entry = self.workers.remove(&e.id());
                let worker = entry.as_ref().map_or("task", |w| w.name);
                let message = if e.is_panic() {
                    panic_message(e.into_panic())
                } else {
                    "cancelled".to_string()
                };
                if let Some(w) = entry {
                    w.status.set(WorkerState::Failed(message.clone()));
                }
                Err(WorkerError::Panicked { worker, message })
            }
        }
    }

    /// The shutdown choreography: STOPPING=1; the first worker (Telegram)
    /// stopped with at most half of `drain`, aborted after; then every
    /// other worker cancelled and drained until one deadline (`drain` from
    /// the start, so that TimeoutStopSec, above the longest drain_timeout,
    /// is never reached), aborted after. The caller then tears down the
    /// shared state and the store, in that order.
    pub async fn shutdown(mut self, notifier: &Notifier, drain: Duration) {
        let _ = notifier.stopping();
        let deadline = tokio::time::Instant::now() + drain;
        if let Some(first) = self.first.take() {
            first.stop.cancel();
            let half = tokio::time::Instant::now() + drain / 2;
            let stopped = tokio::time::timeout_at(half, async {
                while let Some(joined) = self.tasks.join_next_with_id().await {
                    let id = joined.as_ref().map_or_else(|e| e.id(), |(id, _)| *id);
                    self.log_drained(joined);
                    if id == first.id {
                        return;
                    }
                }
            })
            .await;
            if stopped.is_err() {
                // Not saved past what it forwarded: those updates come again.
                first.abort.abort();
                tracing::warn!("the Telegram connection did not stop in time");
            }
        }
        self.cancel.cancel();
        let drained = tokio::time::timeout_at(deadline, async {
            while let Some(joined) = self.tasks.join_next_with_id().await {
                self.log_drained(joined);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                seconds = drain.as_secs(),
                "drain deadline passed; abandoning unfinished work (it is redone after restart)"
            );
            self.tasks.abort_all();
        }
    }

    fn log_drained(
        &mut self,
        joined: Result<(Id, Result<(), WorkerError>), tokio::task::JoinError>,
    ) {
        // The first worker, aborted after its half of the deadline, was
        // already reported.
        if let Err(e) = &joined
            && e.is_cancelled()
        {
            self.workers.remove(&e.id());
            return;
        }
        if let Err(e) = self.ended(joined) {
            tracing::warn!(task = e.worker(), error = %e, "task ended with an error during shutdown");
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

#[cfg(test)]
mod tests;
