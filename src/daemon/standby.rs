//! `[postgres] standby = true` in the daemon: the standby's wait for the
//! lock (before the store, Telegram or the sync are touched: a standby
//! connects to nothing but Postgres), and the active daemon's renewal,
//! which ends the process the moment the lock is gone. The lock itself:
//! [`crate::sync::standby`].

use std::time::Duration;

use tokio::signal::unix::Signal;

use super::notify::Notifier;
use crate::config::PostgresSettings;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::sync::pg::Connector;
use crate::sync::standby::{self, FENCE, Lock, POLL, RENEW};

/// The exit status of a daemon that lost its lock (EX_TEMPFAIL): systemd's
/// `Restart=on-failure` starts it again, as the standby.
pub const LOST_LOCK_EXIT: i32 = 75;

/// Waits until this daemon holds the lock `name`, then [`FENCE`] more;
/// `None` when told to stop meanwhile. READY=1 at once (a waiting standby
/// is a healthy service), the watchdog pinged while it waits, STATUS= says
/// who is active.
pub async fn wait_active(
    settings: &PostgresSettings,
    name: &str,
    label: &str,
    notifier: &Notifier,
    term: &mut Signal,
    int: &mut Signal,
) -> Result<Option<Lock>, BoxError> {
    let connector = Connector::new(settings)?;
    let _ = notifier.ready(&format!("standby: waiting for the lock {name:?}"));
    tracing::info!(lock = name, target = %settings.target(), "standby: waiting for the Postgres lock; nothing else is started until this daemon holds it");
    let mut session = None;
    let mut shown = String::new();
    let mut last_error: Option<String> = None;
    let lock = loop {
        let _ = notifier.watchdog_ping();
        let attempt = async {
            let client = match session.take() {
                Some(c) => c,
                None => standby::session(&connector).await?,
            };
            match standby::try_acquire(client, &connector, name, label).await? {
                Ok(lock) => Ok(Ok(lock)),
                Err(client) => {
                    let holder = standby::holder(&client, &connector, name).await?;
                    Ok(Err((client, holder)))
                }
            }
        };
        let status = match attempt.await {
            Ok(Ok(lock)) => break lock,
            Ok(Err((client, holder))) => {
                session = Some(client);
                if last_error.take().is_some() {
                    tracing::info!("standby: Postgres reachable again");
                }
                match holder {
                    Some(h) => format!("standby: {} is active", h.application_name),
                    None => "standby: the lock is free, taking it".to_string(),
                }
            }
            Err(e) => {
                let e: crate::sync::pg::PgError = e;
                let text = e.to_string();
                if last_error.as_deref() != Some(text.as_str()) {
                    tracing::warn!(error = %text, "standby: cannot reach Postgres to take the lock; retrying");
                }
                last_error = Some(text);
                "standby: Postgres unreachable, waiting".to_string()
            }
        };
        if status != shown {
            tracing::info!("{status}");
            let _ = notifier.status(&status);
            shown = status;
        }
        if !wait(POLL, notifier, term, int).await {
            return Ok(None);
        }
    };
    tracing::info!(
        lock = name,
        fence_seconds = FENCE.as_secs(),
        "standby: this daemon holds the lock; starting after the fence"
    );
    let _ = notifier.status("standby: got the lock, starting");
    if !wait(FENCE, notifier, term, int).await {
        return Ok(None);
    }
    // Still ours after the fence, or another round of waiting by restart.
    lock.check().await?;
    Ok(Some(lock))
}

/// Sleeps `total` pinging the watchdog; false on SIGTERM/SIGINT.
async fn wait(total: Duration, notifier: &Notifier, term: &mut Signal, int: &mut Signal) -> bool {
    let until = tokio::time::Instant::now() + total;
    while tokio::time::Instant::now() < until {
        let step = (until - tokio::time::Instant::now()).min(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = term.recv() => { tracing::info!("SIGTERM: stopping the standby"); return false; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping the standby"); return false; }
        }
        let _ = notifier.watchdog_ping();
    }
    true
}

/// The active daemon's renewal: the lock checked every [`RENEW`]. Lost, the
/// process ends there and then (no drain: an alert sent after the lock is
/// gone could be sent again by the new active one); the store is safe
/// after an abrupt end like after a kill.
pub struct StandbyLockWorker {
    pub lock: Lock,
}

impl Worker for StandbyLockWorker {
    fn name(&self) -> &'static str {
        "standby-lock"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        loop {
            if !crate::core::shared::pause(RENEW, &ctx.heartbeat, &ctx.cancel).await {
                return Ok(());
            }
            if let Err(e) = self.lock.check().await {
                tracing::error!(error = %e, "standby: lost the Postgres lock; exiting at once so that this host becomes the standby");
                std::process::exit(LOST_LOCK_EXIT);
            }
        }
    }
}

/// Why a daemon that got the lock cannot start from the replica.
#[derive(Debug, thiserror::Error)]
pub enum TakeoverError {
    #[error(
        "standby: cannot read the replica from Postgres: {0}; this host stops (the lock is \
         released) and systemd restarts it"
    )]
    Read(String),
    #[error(
        "standby: the replica in Postgres was pushed by a buhbot with store schema {found}, \
         newer than this one knows ({known}): upgrade buhbot on this host"
    )]
    TooNew { found: i64, known: i64 },
    #[error("standby: cannot rebuild the store: {0}")]
    Rebuild(#[from] crate::store::StoreError),
}

/// The new active daemon's first step, before anything else reads its
/// store: the replicated tables rebuilt from what the last active daemon
/// pushed (`from`: [`crate::sync::replica::read`]). An empty replica (the
/// pair's first start, or standby just turned on) leaves the store as it
/// is; a replica pushed by a newer schema than this binary knows stops the
/// start: the new state cannot be read by old code, and starting from the
/// stale store instead would resend and forget.
pub fn rebuild(
    store: &crate::store::Store,
    mut from: tokio::sync::mpsc::Receiver<crate::sync::replica::Item>,
) -> Result<(), TakeoverError> {
    use crate::sync::replica::Item;
    let started = std::time::Instant::now();
    let (rows, schema) = match from.blocking_recv() {
        Some(Item::Header { rows, schema }) => (rows, schema),
        Some(Item::Failed(e)) => return Err(TakeoverError::Read(e)),
        _ => return Err(TakeoverError::Read("the read ended early".into())),
    };
    if rows == 0 {
        tracing::info!(
            "standby: Postgres holds no replica yet (the first active daemon of this bot): starting from this host's store"
        );
        return Ok(());
    }
    let known = crate::store::MIGRATIONS.last().map_or(0, |m| m.0);
    if schema > known {
        return Err(TakeoverError::TooNew {
            found: schema,
            known,
        });
    }
    let mut conn = store.conn()?;
    let feed = std::iter::from_fn(|| match from.blocking_recv() {
        Some(Item::Row(r)) => Some(Ok(r)),
        Some(Item::End) => None,
        Some(Item::Failed(e)) => Some(Err(e)),
        Some(Item::Header { .. }) | None => Some(Err("the read ended early".into())),
    });
    let done = crate::store::replica::rebuild(&mut conn, feed)?;
    for (table, columns) in &done.unknown_columns {
        tracing::warn!(table = %table, columns = ?columns, "standby: the replica has columns this store does not (a later migration dropped them); left out");
    }
    if !done.unknown_tables.is_empty() {
        tracing::warn!(tables = ?done.unknown_tables, "standby: the replica has tables this store does not (a later migration dropped them); left out");
    }
    tracing::info!(
        rows = done.rows(),
        tables = done.tables.len(),
        millis = started.elapsed().as_millis() as u64,
        "standby: store rebuilt from the replica in Postgres"
    );
    Ok(())
}
