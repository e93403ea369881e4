//! The start history at work (issue 14, part 3): every `buhbot run`
//! stores a row at start ([`record_start`], after the migrations), marks
//! it at READY ([`at_ready`]) and at a clean stop ([`at_stop`]). The
//! decision is [`crate::domain::starts`]'s; this queues its Telegram texts
//! to the admins through the persistent outbound queue, whose dedupe keys
//! (`notice:<start>:<kind>:<user>`) make a notice survive an outage and
//! never go twice.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::config::Config;
use crate::core::shared::Shared;
use crate::domain::starts::{self, CrashLoop, NoticeFacts, StartFacts, Verdict};
use crate::store::outbound::{self, EnqueueError, Kind, NewOutbound};
use crate::store::{MigrationReport, StoreError, users, write_tx};

/// A notice could not be stored or queued (the daemon goes on: a notice
/// is never a reason to stop).
#[derive(Debug, thiserror::Error)]
pub enum StartsError {
    #[error("start history: {0}")]
    Store(#[from] StoreError),
    #[error("start notice: {0}")]
    Enqueue(#[from] EnqueueError),
}

impl From<rusqlite::Error> for StartsError {
    fn from(e: rusqlite::Error) -> Self {
        StartsError::Store(e.into())
    }
}

/// This run's start row and what its notice needs.
#[derive(Debug, Clone)]
pub struct StartLog {
    pub id: i64,
    pub verdict: Verdict,
    pub version: String,
    pub started_at: DateTime<Utc>,
    /// The newest backup archive at start (name, Unix time).
    pub backup: Option<(String, i64)>,
    pub crash_loop: CrashLoop,
}

/// The newest archive in `dir` (none when it is missing or empty: a
/// notice is no reason to fail a start).
pub fn newest_backup(dir: &Path) -> Option<(String, i64)> {
    let list = crate::backup::list(dir).ok()?;
    let newest = list.into_iter().max_by_key(|e| e.created_at)?;
    let name = newest.path.file_name()?.to_string_lossy().into_owned();
    Some((name, newest.created_at.timestamp()))
}

/// Stores this start (one transaction: the restore marker is taken with
/// it) and decides what it is.
pub fn record_start(
    conn: &mut Connection,
    report: &MigrationReport,
    version: &str,
    now: DateTime<Utc>,
    crash_loop: CrashLoop,
    backup: Option<(String, i64)>,
) -> Result<StartLog, StoreError> {
    let window = i64::try_from(crash_loop.window.as_secs()).unwrap_or(i64::MAX);
    let tx = write_tx(conn)?;
    let history = crate::store::starts::history(&tx, now.timestamp().saturating_sub(window))?;
    let restored_from = crate::store::starts::take_restored_marker(&tx)?;
    let migrations = report
        .applied
        .iter()
        .map(|(v, name)| format!("{v} {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verdict = starts::decide(
        &history,
        &StartFacts {
            version,
            now: now.timestamp(),
            migrations,
            schema_before: report.from,
            restored_from,
        },
        crash_loop,
    );
    let id = crate::store::starts::insert(
        &tx,
        &crate::store::starts::NewStart {
            version,
            started_at: now.timestamp(),
            backup: backup.as_ref().map(|b| b.0.as_str()),
        },
        &verdict,
    )?;
    tx.commit()?;
    match verdict.reason {
        starts::Reason::Restart | starts::Reason::Install => {}
        reason => {
            tracing::info!(%reason, previous = ?verdict.previous_version, "start after {reason}")
        }
    }
    if let Some(n) = verdict.crash_loop {
        tracing::warn!(
            restarts = n,
            window_seconds = window,
            "crash loop: restarted after a crash {n} times recently"
        );
    }
    Ok(StartLog {
        id,
        verdict,
        version: version.to_string(),
        started_at: now,
        backup,
        crash_loop,
    })
}

/// Who gets the notices: the firm's managers (`[alerts] managers` and the
/// `manager` users, as in the effective settings) and its admins.
pub fn recipients(conn: &Connection, effective: &Config) -> Result<BTreeSet<i64>, StoreError> {
    let mut to: BTreeSet<i64> = effective.alerts.managers.iter().copied().collect();
    to.extend(
        users::list(conn)?
            .into_iter()
            .filter(|u| u.role == users::Role::Admin)
            .map(|u| u.id),
    );
    Ok(to)
}

fn enqueue_all(
    conn: &Connection,
    to: &BTreeSet<i64>,
    key: &str,
    text: &str,
    now: i64,
) -> Result<usize, StartsError> {
    let mut n = 0;
    for user in to {
        let msg = NewOutbound::new(format!("{key}:{user}"), *user, Kind::Alert, text);
        outbound::enqueue(conn, &msg, now)?;
        n += 1;
    }
    Ok(n)
}

/// Queues the crash-loop warning, if this start found a new loop (call
/// once the effective settings are known; only where Telegram is the
/// source).
pub async fn warn_crash_loop(shared: &Arc<Shared>, log: &StartLog) -> Result<(), StartsError> {
    let Some(n) = log.verdict.crash_loop else {
        return Ok(());
    };
    let text = starts::crash_loop_warning(n, log.crash_loop, &log.version);
    let (key, effective) = (
        format!("notice:{}:crash_loop", log.id),
        shared.engine().config.clone(),
    );
    let now = shared.now().timestamp();
    let queued = shared
        .store
        .run(move |c| {
            Ok((|| -> Result<usize, StartsError> {
                let to = recipients(c, &effective)?;
                let tx = write_tx(c)?;
                let n = enqueue_all(&tx, &to, &key, &text, now)?;
                tx.commit()?;
                Ok(n)
            })())
        })
        .await??;
    if queued == 0 {
        tracing::warn!("crash loop warning: no admins or managers to tell");
    }
    Ok(())
}

/// READY=1 was sent: stores the time and, for an upgrade or a restore,
/// queues the release notice in the same transaction (`telegram`: the
/// notice can be sent; a replay keeps it for the next Telegram start).
pub async fn at_ready(
    shared: &Arc<Shared>,
    log: &StartLog,
    ready_at: DateTime<Utc>,
    telegram: bool,
) -> Result<(), StartsError> {
    let ready_after = (ready_at - log.started_at).to_std().unwrap_or_default();
    let text = starts::release_notice(
        &log.verdict,
        &NoticeFacts {
            version: &log.version,
            backup: log.backup.as_ref().map(|(n, at)| (n.as_str(), *at)),
            ready_after,
        },
    )
    .filter(|_| telegram);
    let (id, key, effective) = (
        log.id,
        format!("notice:{}:release", log.id),
        shared.engine().config.clone(),
    );
    let at = ready_at.timestamp();
    let queued = shared
        .store
        .run(move |c| {
            Ok((|| -> Result<Option<usize>, StartsError> {
                let to = recipients(c, &effective)?;
                let tx = write_tx(c)?;
                let n = match &text {
                    Some(text) => enqueue_all(&tx, &to, &key, text, at)?,
                    None => 0,
                };
                crate::store::starts::mark_ready(&tx, id, at, text.is_some())?;
                tx.commit()?;
                Ok(text.map(|_| n))
            })())
        })
        .await??;
    match queued {
        Some(0) => tracing::warn!("release notice: no admins or managers to tell"),
        Some(n) => tracing::info!(recipients = n, "release notice queued"),
        None => {}
    }
    Ok(())
}

/// A clean stop at `at` (wall clock, like the start): the next start does
/// not count as after a crash.
pub async fn at_stop(shared: &Shared, log: &StartLog, at: DateTime<Utc>) -> Result<(), StoreError> {
    let (id, at) = (log.id, at.timestamp());
    shared
        .store
        .run(move |c| crate::store::starts::mark_stopped(c, id, at))
        .await
}
