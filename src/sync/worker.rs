//! The sync push as a daemon worker: pushes whenever rows were committed
//! (nudged) and at least every `push_interval`, drains a backlog batch
//! after batch, and rides out a Postgres outage with backoff while the
//! daemon goes on (alerts never wait for Postgres).

use std::sync::Arc;
use std::time::Duration;

use super::pg::Connector;
use super::push::{PushError, Pusher};
use crate::config::PostgresSettings;
use crate::core::delivery::policy::Backoff;
use crate::core::shared::{Shared, pause, sleep_until};
use crate::core::worker::{BoxError, Worker, WorkerContext, WorkerState};
use crate::metrics::catalogue as m;
use crate::store::{Store, StoreError, state};

/// How long a push in progress may finish after the daemon was told to
/// stop; past that it is dropped (Postgres rolls it back, the entries stay).
const DRAIN: Duration = Duration::from_secs(5);

pub struct SyncPushWorker {
    pub shared: Arc<Shared>,
    pub settings: PostgresSettings,
    /// The configuration's SLA threshold, for chats that use the default.
    pub default_threshold: i64,
}

/// This daemon's name in `buhbot.sync_positions`: made once per store
/// (host name and a random tag) and kept in it, so that a restored store
/// is the same daemon to Postgres.
pub fn daemon_id(store: &Store, now: i64) -> Result<String, StoreError> {
    const SOURCE: &str = "sync.daemon_id";
    let conn = store.conn()?;
    if let Some(id) = state::position(&conn, SOURCE)? {
        return Ok(id);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "buhbot".into());
    let seed = format!(
        "{host}{}{}{:?}",
        std::process::id(),
        now,
        std::time::SystemTime::now()
    );
    let digest = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let id = format!("{host}-{tag}");
    state::set_position(&conn, SOURCE, &id, now)?;
    Ok(id)
}

impl SyncPushWorker {
    /// One pull: what changed in Postgres, applied to the store; the
    /// engine reloads at once when anything was applied.
    async fn pull(&self, pool: &super::pg::PgPool, id: &str, now: i64) -> Result<(), PushError> {
        let store = self.shared.store.clone();
        let from = store.run(|c| super::pull::cursor(c)).await?;
        let me = format!("daemon:{id}");
        let batch = super::pull::read(pool, from, &me)
            .await
            .map_err(pull_error)?;
        // The configuration as loaded: Postgres' values are laid over it.
        let config = self.shared.engine().base_config().clone();
        let store2 = store.clone();
        let done =
            tokio::task::spawn_blocking(move || super::pull::apply(&store2, &batch, &config, now))
                .await
                .map_err(|e| PushError::Store(StoreError::Join(e.to_string())))?
                .map_err(pull_error)?;
        // A successful pull, whether or not it applied anything.
        ::metrics::gauge!(m::SYNC_LAST_PULL_TIMESTAMP_SECONDS).set(now as f64);
        ::metrics::counter!(m::SYNC_PULLED_ROWS_TOTAL, "result" => "applied")
            .increment(done.applied as u64);
        ::metrics::counter!(m::SYNC_PULLED_ROWS_TOTAL, "result" => "kept_local")
            .increment(done.kept_local as u64);
        ::metrics::counter!(m::SYNC_PULLED_ROWS_TOTAL, "result" => "refused")
            .increment(done.refused as u64);
        if done.applied > 0 {
            tracing::info!(
                applied = done.applied,
                kept_local = done.kept_local,
                "sync: pulled from Postgres"
            );
            crate::core::live_settings::refresh(&self.shared).await?;
        }
        Ok(())
    }
}

/// The pull's errors in the worker's terms: it retries both the same way.
fn pull_error(e: super::pull::PullError) -> PushError {
    match e {
        super::pull::PullError::Store(s) => PushError::Store(s),
        super::pull::PullError::Pg(p) => PushError::Pg(p),
        other => PushError::Refused {
            rows: 1,
            attempt: 1,
            error: other.to_string(),
        },
    }
}

impl Worker for SyncPushWorker {
    fn name(&self) -> &'static str {
        "sync-push"
    }

    // Not watched by the watchdog: a hung Postgres must not get the daemon
    // killed; the outage shows in STATUS=, the metrics and the log.
    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        let connector = Connector::new(&self.settings)?;
        let pool = connector.pool()?;
        let store = self.shared.store.clone();
        let now = self.shared.clock.now().timestamp();
        // The first start writes the id, possibly into a burst of ingest
        // (a catch-up): a busy database is waited out, never fatal.
        let id = loop {
            let store = store.clone();
            match tokio::task::spawn_blocking(move || daemon_id(&store, now)).await? {
                Ok(id) => break id,
                Err(e) if e.is_busy() => {
                    tracing::warn!(error = %e, "sync: the database is busy; retrying");
                    if !pause(Duration::from_millis(500), &ctx.heartbeat, &ctx.cancel).await {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        tracing::info!(daemon_id = %id, target = %self.settings.target(), "sync: pushing to Postgres");
        ::metrics::gauge!(m::SYNC_CONFIGURED).set(1.0);
        let pusher = Pusher::new(pool.clone(), store, id.clone(), self.default_threshold)
            .with_staff_of(self.shared.engine().base_config());
        // Capped low: when Postgres is back, the catch-up starts within seconds.
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let mut reconciled = false;
        // Pull and push in one task, the pull first once connected: the
        // first step after a (re)connection pushes only, so that a restart
        // resumes the backlog at once; a person's later edit is kept by the
        // push's guard meanwhile (see sync::pull's conflict rule).
        let mut next_pull = tokio::time::Instant::now();
        // LISTEN buhbot_changes wakes the pull early where the connection
        // allows; without it the pull interval holds.
        let changed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut listener: Option<tokio_postgres::Client> = None;
        let mut last_error: Option<String> = None;
        while !ctx.cancel.is_cancelled() {
            let now = self.shared.clock.now().timestamp();
            // Squared with Postgres after every (re)connection.
            let reconcile = !reconciled;
            if reconciled && listener.as_ref().is_none_or(|l| l.is_closed()) {
                let (flag, nudge) = (changed.clone(), self.shared.clone());
                let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    nudge.outbox_changed.notify_one();
                });
                let login = super::pg::Login::daemon(&self.settings);
                listener = match connector.listen(&login, "buhbot_changes", wake).await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::debug!(error = %e, "sync: cannot listen for changes; pulling every interval");
                        None
                    }
                };
            }
            let pull_due = reconciled
                && (tokio::time::Instant::now() >= next_pull
                    || changed.swap(false, std::sync::atomic::Ordering::SeqCst));
            // Set when this step's error is the pull's (counted as stage "pull").
            let pull_failed = std::sync::atomic::AtomicBool::new(false);
            let step = async {
                if reconcile {
                    pusher.reconcile().await?;
                }
                if pull_due {
                    self.pull(&pool, &id, now).await.inspect_err(|_| {
                        pull_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    })?;
                }
                pusher.push_once(now).await
            };
            tokio::pin!(step);
            let result = tokio::select! {
                r = &mut step => r,
                _ = ctx.cancel.cancelled() => match tokio::time::timeout(DRAIN, &mut step).await {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            match result {
                Ok(p) => {
                    reconciled = true;
                    if pull_due {
                        next_pull = tokio::time::Instant::now() + self.settings.pull_interval;
                    }
                    backoff.reset();
                    if last_error.take().is_some() {
                        tracing::info!("sync: Postgres reachable again, pushing");
                    }
                    ::metrics::gauge!(m::SYNC_LAST_PUSH_TIMESTAMP_SECONDS).set(now as f64);
                    for (table, n) in &p.rows {
                        ::metrics::counter!(m::SYNC_PUSHED_ROWS_TOTAL, "entity" => *table)
                            .increment(*n);
                    }
                    if p.entries > 0 {
                        ctx.status.set(WorkerState::Busy);
                        tracing::debug!(entries = p.entries, upto = ?p.upto, rows = ?p.rows, "sync: pushed");
                        continue;
                    }
                    ctx.status.set(WorkerState::Idle);
                    let wake =
                        (tokio::time::Instant::now() + self.settings.push_interval).min(next_pull);
                    if !sleep_until(
                        Some(wake),
                        &self.shared.outbox_changed,
                        &ctx.heartbeat,
                        &ctx.cancel,
                    )
                    .await
                    {
                        break;
                    }
                }
                Err(e) => {
                    let stage = match &e {
                        _ if pull_failed.load(std::sync::atomic::Ordering::Relaxed) => "pull",
                        PushError::Pg(_) if !reconciled => "connect",
                        _ => "push",
                    };
                    ::metrics::counter!(m::SYNC_ERRORS_TOTAL, "stage" => stage).increment(1);
                    let text = e.to_string();
                    // One warning per distinct failure, not one per retry.
                    if last_error.as_deref() != Some(text.as_str()) {
                        let what = if stage == "pull" { "pull" } else { "push" };
                        tracing::warn!(error = %text, "sync: {what} failed; the daemon goes on and retries");
                    }
                    last_error = Some(text.clone());
                    ctx.status.set(WorkerState::Failing(text));
                    if matches!(e, PushError::Pg(_)) {
                        reconciled = false;
                    }
                    if !pause(backoff.next_delay(), &ctx.heartbeat, &ctx.cancel).await {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
