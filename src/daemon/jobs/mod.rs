//! Scheduled housekeeping of the daemon: reconciliation of the timers,
//! retention of old rows, backups. Each job runs on its cron schedule (see
//! [`run_jobs`]), never overlaps itself, and records every run in
//! `job_runs`, so that a run missed while the daemon was down happens after
//! the next start.

mod backup;
mod digest;
mod pg_backup;
mod reconcile;
mod retention;
mod scheduler;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use tokio_util::sync::CancellationToken;

pub use backup::run_backup;
pub use digest::{DigestRun, run_digest};
pub use pg_backup::run_postgres_backup;
pub use reconcile::{Repair, RepairKind, reconcile};
pub use retention::{
    RETENTION_BATCH, RetentionReport, RetentionStep, retention_batch, run_retention,
    run_retention_batched,
};
pub use scheduler::{JobsWorker, RECHECK, run_jobs};

use crate::backup::BackupError;
use crate::backup::postgres::PgBackupError;
use crate::config::Config;
use crate::core::shared::Shared;
use crate::domain::schedule::{self, CronParseError};
use crate::store::{StoreError, state};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    PostgresBackup(#[from] PgBackupError),
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    #[error(transparent)]
    Cron(#[from] CronParseError),
    #[error(transparent)]
    Enqueue(#[from] crate::store::outbound::EnqueueError),
    #[error("the job's task failed: {0}")]
    Join(String),
    #[error("the job scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("cannot schedule {job} ({expr:?}): {source}")]
    Schedule {
        job: &'static str,
        expr: String,
        #[source]
        source: tokio_cron_scheduler::JobSchedulerError,
    },
}

/// The scheduled jobs; the names are the keys of `job_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobName {
    Reconcile,
    Retention,
    Backup,
    PostgresBackup,
    Digest,
}

impl JobName {
    pub const ALL: [JobName; 5] = [
        JobName::Reconcile,
        JobName::Retention,
        JobName::Backup,
        JobName::PostgresBackup,
        JobName::Digest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobName::Reconcile => "reconcile",
            JobName::Retention => "retention",
            JobName::Backup => "backup",
            JobName::PostgresBackup => "postgres_backup",
            JobName::Digest => "digest",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A job and its 6-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub job: JobName,
    pub expr: String,
}

/// The jobs `config` schedules: backup only when `[backup] enabled`, the
/// Postgres backup only with `[postgres]` and `[backup] postgres_enabled`.
pub fn planned_jobs(config: &Config) -> Vec<JobPlan> {
    let mut plans = vec![
        JobPlan {
            job: JobName::Reconcile,
            expr: config.daemon.reconcile_schedule.clone(),
        },
        JobPlan {
            job: JobName::Retention,
            expr: config.store.retention_schedule.clone(),
        },
    ];
    if config.backup.enabled {
        plans.push(JobPlan {
            job: JobName::Backup,
            expr: config.backup.schedule.clone(),
        });
    }
    if config.postgres.is_some() && config.backup.postgres.enabled {
        plans.push(JobPlan {
            job: JobName::PostgresBackup,
            expr: config.backup.postgres.schedule.clone(),
        });
    }
    if config.digest.enabled {
        plans.push(JobPlan {
            job: JobName::Digest,
            expr: config.digest.schedule.clone(),
        });
    }
    plans
}

/// Whether `job` should run once right away at start (its last recorded
/// run being `last_run`, failed runs included).
///
/// A run whose scheduled occurrence passed while the daemon was down is
/// made up, once however many were missed. A job that never ran waits for
/// its schedule — except the backups: until its first archive a fresh
/// install has no recovery point at all, which a 24-hour recovery point
/// objective does not allow for up to a day (and a first Postgres dump at
/// start shows at once whether pg_dump and its login work). A failed run
/// counts as a run, so a crash-looping daemon does not start a backup at
/// every restart; failures show in `buhbot_backups_total{outcome="failure"}`
/// and `buhbot_postgres_backups_total{outcome="failure"}`.
pub fn due_at_start(
    job: JobName,
    cron: &Cron,
    tz: Tz,
    last_run: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match last_run {
        Some(last) => schedule::missed(cron, tz, last, now),
        None => matches!(job, JobName::Backup | JobName::PostgresBackup),
    }
}

/// How late after its occurrence a tick may come and still count as it:
/// the scheduler polls twice a second, a loaded machine is slower still,
/// but a stale UTC offset is off by half an hour at least.
pub const TICK_TOLERANCE: Duration = Duration::from_secs(60);

/// Whether a tick at `fired_at` is an occurrence of `cron` in `tz` (one
/// fell in the last [`TICK_TOLERANCE`]). The scheduler's ticks after a
/// daylight-saving change come an offset off until the jobs are re-created;
/// such a tick is dropped (and a run it stood for is made up by the
/// catch-up that follows the re-creation).
pub fn on_schedule(cron: &Cron, tz: Tz, fired_at: DateTime<Utc>) -> bool {
    let window = chrono::Duration::from_std(TICK_TOLERANCE).unwrap_or_default();
    schedule::missed(cron, tz, fired_at - window, fired_at)
}

/// How a [`JobRunner::run`] call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    Ok(String),
    Failed(String),
    /// The previous run of the job was still going.
    Skipped,
}

/// Runs jobs for the scheduler and the start-up catch-up, one at a time
/// per job.
pub struct JobRunner {
    shared: Arc<Shared>,
    running: [AtomicBool; JobName::ALL.len()],
}

/// Marks a job as running until dropped (also when its future is dropped
/// or panics, so a job can never stay blocked).
pub struct RunGuard<'a>(&'a AtomicBool);

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl JobRunner {
    pub fn new(shared: Arc<Shared>) -> JobRunner {
        JobRunner {
            shared,
            running: Default::default(),
        }
    }

    /// Claims `job`, or `None` while a run of it is going.
    pub fn try_begin(&self, job: JobName) -> Option<RunGuard<'_>> {
        let flag = &self.running[job.index()];
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| RunGuard(flag))
    }

    /// Whether any job is running (shutdown waits for them).
    pub fn busy(&self) -> bool {
        self.running.iter().any(|f| f.load(Ordering::Acquire))
    }

    /// Runs `job` unless it is already running, and records the run.
    /// `trigger` (schedule, catch-up) only goes to the log.
    pub async fn run(&self, job: JobName, trigger: &'static str) -> RunOutcome {
        let Some(_guard) = self.try_begin(job) else {
            // Cron fires regardless; a slow backup must not stack up runs.
            tracing::info!(
                job = job.as_str(),
                trigger,
                "job skipped: its previous run is still going"
            );
            return RunOutcome::Skipped;
        };
        // The scheduling (system) clock: job_runs is compared with the
        // cron schedule, which runs on it.
        let started = Utc::now();
        tracing::debug!(job = job.as_str(), trigger, "job started");
        let (ok, detail) = match self.execute(job).await {
            Ok(detail) => (true, detail),
            Err(e) => {
                tracing::error!(job = job.as_str(), trigger, error = %e, "job failed");
                (false, e.to_string())
            }
        };
        let name = job.as_str();
        let recorded = detail.clone();
        if let Err(e) = self
            .shared
            .store
            .run(move |c| state::record_job_run(c, name, started.timestamp(), ok, &recorded))
            .await
        {
            tracing::error!(job = name, error = %e, "cannot record the job run");
        }
        if ok {
            RunOutcome::Ok(detail)
        } else {
            RunOutcome::Failed(detail)
        }
    }

    async fn execute(&self, job: JobName) -> Result<String, JobError> {
        let shared = &self.shared;
        match job {
            JobName::Reconcile => {
                let engine = shared.engine();
                let now = shared.clock.now();
                let repairs = shared
                    .store
                    .run(move |c| reconcile(c, &engine, now))
                    .await?;
                if !repairs.is_empty() {
                    // A repaired timer may be due sooner than the one the
                    // timer loop sleeps for.
                    shared.timers_changed.notify_one();
                }
                Ok(format!("{} repair(s)", repairs.len()))
            }
            JobName::Retention => {
                let days = shared.engine().config.store.retention_days;
                let r = run_retention(shared, days).await?;
                Ok(format!(
                    "{} row(s) older than {} deleted in {} batch(es)",
                    r.deleted.total(),
                    r.cutoff.to_rfc3339(),
                    r.batches
                ))
            }
            JobName::Backup => {
                let info = run_backup(shared).await?;
                Ok(format!(
                    "{} ({} bytes)",
                    info.path.display(),
                    info.size_bytes
                ))
            }
            JobName::Digest => {
                let run = run_digest(shared).await?;
                Ok(format!(
                    "week of {}: {} of {} manager(s) queued",
                    run.monday, run.queued, run.recipients
                ))
            }
            JobName::PostgresBackup => {
                let info = run_postgres_backup(shared).await?;
                Ok(format!(
                    "{} ({} bytes)",
                    info.path.display(),
                    info.size_bytes
                ))
            }
        }
    }

    /// Runs, one after the other, the jobs of `plans` that [`due_at_start`]
    /// says are due; returns them. Stops starting jobs once `cancel` is
    /// set, so a stopping daemon does not begin a backup.
    pub async fn catch_up(
        &self,
        plans: &[JobPlan],
        tz: Tz,
        cancel: &CancellationToken,
    ) -> Result<Vec<JobName>, JobError> {
        let mut ran = Vec::new();
        for plan in plans {
            if cancel.is_cancelled() {
                break;
            }
            let cron = schedule::parse_cron(&plan.expr)?;
            let name = plan.job.as_str();
            let last = self
                .shared
                .store
                .run(move |c| state::job_runs(c, name))
                .await?
                .and_then(|(last, _)| DateTime::from_timestamp(last, 0));
            if due_at_start(plan.job, &cron, tz, last, Utc::now()) {
                tracing::info!(job = name, last_run = ?last, "running a job missed while down");
                self.run(plan.job, "catch-up").await;
                ran.push(plan.job);
            }
        }
        Ok(ran)
    }
}
