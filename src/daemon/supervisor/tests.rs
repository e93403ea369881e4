use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Supervisor;
use crate::core::worker::{BoxError, Worker, WorkerContext, WorkerError, WorkerState};
use crate::daemon::notify::{HeartbeatRegistry, Notifier};

#[derive(Debug, thiserror::Error)]
#[error("the disk is on fire")]
struct Fire;

/// Ends at once: Ok, with [`Fire`], or by panicking.
enum Ends {
    Ok,
    Err,
    Panic,
}

struct Once(&'static str, Ends);

impl Worker for Once {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn run(self, _ctx: WorkerContext) -> Result<(), BoxError> {
        match self.1 {
            Ends::Ok => Ok(()),
            Ends::Err => Err(Fire.into()),
            Ends::Panic => panic!("boom"),
        }
    }
}

/// Runs until cancelled and notes in `log` when it saw the cancel, and
/// whether `other` (another worker's token) was cancelled by then.
struct UntilCancelled {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    beats: bool,
}

impl Worker for UntilCancelled {
    fn name(&self) -> &'static str {
        self.name
    }

    fn beats(&self) -> bool {
        self.beats
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        ctx.cancel.cancelled().await;
        self.log
            .lock()
            .unwrap()
            .push(format!("{} stopped", self.name));
        Ok(())
    }
}

/// Ignores cancellation (a wedged drain).
struct Stuck;

impl Worker for Stuck {
    fn name(&self) -> &'static str {
        "stuck"
    }

    async fn run(self, _ctx: WorkerContext) -> Result<(), BoxError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Notes when it was cancelled.
struct NotesCancel(Arc<Mutex<Option<tokio::time::Instant>>>);

impl Worker for NotesCancel {
    fn name(&self) -> &'static str {
        "ingest"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        ctx.cancel.cancelled().await;
        *self.0.lock().unwrap() = Some(tokio::time::Instant::now());
        Ok(())
    }
}

fn until_cancelled(name: &'static str, log: &Arc<Mutex<Vec<String>>>) -> UntilCancelled {
    UntilCancelled {
        name,
        log: log.clone(),
        beats: false,
    }
}

#[tokio::test]
async fn a_worker_ending_ok_is_fine_and_an_error_is_fatal_with_its_typed_source() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sup = Supervisor::new(HeartbeatRegistry::new());
    sup.spawn(Once("source", Ends::Ok));
    sup.spawn(until_cancelled("ingest", &log));
    sup.spawn(Once("jobs", Ends::Err));
    let err = sup.watch().await.unwrap_err();
    assert_eq!(err.worker(), "jobs");
    assert_eq!(err.to_string(), "jobs failed: the disk is on fire");
    match &err {
        WorkerError::Failed { source, .. } => assert!(source.downcast_ref::<Fire>().is_some()),
        other => panic!("not a failure: {other:?}"),
    }
    let states: Vec<_> = sup
        .statuses()
        .into_iter()
        .map(|s| (s.name, s.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("source", WorkerState::Finished),
            ("ingest", WorkerState::Idle),
            ("jobs", WorkerState::Failed("the disk is on fire".into())),
        ]
    );
    sup.shutdown(&Notifier::disabled(), Duration::from_secs(5))
        .await;
    assert_eq!(*log.lock().unwrap(), vec!["ingest stopped".to_string()]);
}

#[tokio::test]
async fn a_panicking_worker_is_fatal_and_named() {
    let mut sup = Supervisor::new(HeartbeatRegistry::new());
    sup.spawn(Once("scheduler", Ends::Panic));
    match sup.watch().await {
        Err(WorkerError::Panicked { worker, message }) => {
            assert_eq!(worker, "scheduler");
            assert_eq!(message, "boom");
        }
        other => panic!("not a panic: {other:?}"),
    }
}

#[tokio::test]
async fn watch_returns_ok_when_every_worker_ended_by_design() {
    let mut sup = Supervisor::new(HeartbeatRegistry::new());
    sup.spawn(Once("source", Ends::Ok));
    sup.spawn(Once("ready", Ends::Ok));
    sup.watch().await.unwrap();
}

#[tokio::test]
async fn the_first_worker_stops_while_the_others_still_run() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sup = Supervisor::new(HeartbeatRegistry::new());
    sup.spawn(until_cancelled("ingest", &log));
    sup.spawn_first(until_cancelled("telegram connection", &log));
    sup.spawn(until_cancelled("outbound", &log));
    let others: CancellationToken = sup.cancel_token().clone();
    sup.shutdown(&Notifier::disabled(), Duration::from_secs(5))
        .await;
    let log = log.lock().unwrap();
    assert_eq!(log[0], "telegram connection stopped");
    assert_eq!(log.len(), 3);
    assert!(others.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_stuck_first_worker_gets_half_the_deadline_and_the_rest_still_drain() {
    let cancelled_at = Arc::new(Mutex::new(None));
    let mut sup = Supervisor::new(HeartbeatRegistry::new());
    sup.spawn_first(Stuck);
    sup.spawn(NotesCancel(cancelled_at.clone()));
    sup.spawn(Stuck);
    let start = tokio::time::Instant::now();
    sup.shutdown(&Notifier::disabled(), Duration::from_secs(10))
        .await;
    // Paused clock: the instants are exact, not measured. The others are
    // cancelled when the first's half is up, and the whole drain ends at
    // the one deadline.
    let cancelled_at = cancelled_at.lock().unwrap().expect("cancelled");
    assert_eq!(cancelled_at - start, Duration::from_secs(5));
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn only_workers_that_beat_are_watched_by_the_watchdog() {
    let heartbeats = HeartbeatRegistry::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sup = Supervisor::new(heartbeats.clone());
    sup.spawn(UntilCancelled {
        name: "ingest",
        log: log.clone(),
        beats: true,
    });
    sup.spawn(until_cancelled("metrics", &log));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let stalled = heartbeats.stalled(tokio::time::Instant::now(), Duration::from_secs(30));
    assert_eq!(
        stalled.into_iter().collect::<Vec<_>>(),
        vec!["ingest".to_string()]
    );
    sup.shutdown(&Notifier::disabled(), Duration::from_secs(5))
        .await;
}
