//! Background workers: every long-running task of the daemon (ingest, the
//! scheduler, delivery, the Telegram bridge, the outbound sender, the cron
//! jobs, the metrics writer, …) implements [`Worker`], and one supervisor
//! (`crate::daemon::supervisor`) starts, watches and stops them all. Here,
//! below the daemon, so that workers of any layer can implement it.

use std::error::Error;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::health::Heartbeat;

/// A boxed typed error: what a worker failed with, for the log and the
/// exit status.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// One long-running task. The existing loops sleep until due work (a timer,
/// a nudge, a message) and wake every tick only to beat, so a worker is
/// run-until-cancelled rather than one step at a time.
pub trait Worker: Send + 'static {
    /// Its name in the log, in the watchdog's messages and in errors.
    fn name(&self) -> &'static str;

    /// Whether the loop beats its heartbeat (see [`super::health`]): only
    /// those are waited for by the progress-gated watchdog. The others (the
    /// watchdog itself, timers that only write a file) get a heartbeat that
    /// nobody watches.
    fn beats(&self) -> bool {
        false
    }

    /// Runs until `ctx.cancel` fires (then returns Ok) or the work is done
    /// by design (a replay source finishing: Ok too). An error is fatal to
    /// the daemon: better a restart by systemd than a half-dead daemon.
    fn run(self, ctx: WorkerContext) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What the supervisor hands every worker.
pub struct WorkerContext {
    pub heartbeat: Heartbeat,
    pub cancel: CancellationToken,
    pub status: StatusCell,
}

/// What a worker is doing, for STATUS= and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WorkerState {
    /// Waiting for work (the normal state of a sleeping loop).
    #[default]
    Idle,
    Busy,
    /// Still running but its last step failed (a retried error).
    Failing(String),
    /// Ended: by design (Ok) or with the error that stops the daemon.
    Finished,
    Failed(String),
}

/// A worker's state as the supervisor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStatus {
    pub name: &'static str,
    pub state: WorkerState,
}

/// A worker's published state; clones share it.
#[derive(Debug, Clone, Default)]
pub struct StatusCell(Arc<Mutex<WorkerState>>);

impl StatusCell {
    pub fn set(&self, state: WorkerState) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    pub fn get(&self) -> WorkerState {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Every worker's published state, in start order; clones share it, so a
/// worker (the external heartbeat) can read the others' states while the
/// supervisor adds to it.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<Mutex<Vec<(&'static str, StatusCell)>>>);

impl StatusBoard {
    pub fn add(&self, name: &'static str, cell: StatusCell) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, cell));
    }

    pub fn statuses(&self) -> Vec<WorkerStatus> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, s)| WorkerStatus {
                name,
                state: s.get(),
            })
            .collect()
    }
}

/// A worker that ended with an error or panicked: the daemon stops.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{worker} failed: {source}")]
    Failed {
        worker: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("{worker} panicked: {message}")]
    Panicked {
        worker: &'static str,
        message: String,
    },
}

impl WorkerError {
    pub fn worker(&self) -> &'static str {
        match self {
            WorkerError::Failed { worker, .. } | WorkerError::Panicked { worker, .. } => worker,
        }
    }
}
