//! The jobs on tokio-cron-scheduler.
//!
//! Daylight saving: `Job::new_async_tz` computes a job's first occurrence
//! in the zone, but every later one with the UTC offset the zone had when
//! the job was created. So the installed jobs are keyed by (zone, current
//! offset, schedules) and re-created whenever that key changes — checked
//! every [`RECHECK`]. A configuration reload that changes a schedule takes
//! the same path. An occurrence that falls between an offset change and
//! the next check is not lost: re-creation runs the start-up catch-up,
//! which makes up any occurrence that passed since the job's last run. A
//! tick the stale offset puts at the wrong local time is dropped (see
//! [`on_schedule`]), so nothing runs twice either.
//!
//! (Computing every occurrence with `schedule::next_after` and one-shot
//! jobs would avoid the re-creation, but re-implement the scheduler.)

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use super::{JobError, JobPlan, JobRunner, on_schedule, planned_jobs};
use crate::config::Config;
use crate::core::shared::Shared;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::domain::schedule;

/// How often the zone's offset and the configured schedules are checked.
pub const RECHECK: Duration = Duration::from_secs(60);

/// What the installed jobs were built from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    tz: Tz,
    offset_seconds: i32,
    plans: Vec<JobPlan>,
}

impl Key {
    fn of(config: &Config, now: DateTime<Utc>) -> Key {
        let tz = config.calendar.timezone;
        Key {
            tz,
            offset_seconds: tz
                .offset_from_utc_datetime(&now.naive_utc())
                .fix()
                .local_minus_utc(),
            plans: planned_jobs(config),
        }
    }
}

async fn install(
    sched: &JobScheduler,
    runner: &Arc<JobRunner>,
    key: &Key,
) -> Result<Vec<Job>, JobError> {
    // The jobs themselves are kept (not their ids) to remove them later:
    // `Uuid` is not re-exported and not worth a dependency of its own.
    let mut installed = Vec::with_capacity(key.plans.len());
    for plan in &key.plans {
        let job = plan.job;
        let runner = runner.clone();
        let cron = Arc::new(schedule::parse_cron(&plan.expr)?);
        let tz = key.tz;
        let cron_job = Job::new_async_tz(plan.expr.as_str(), tz, move |_id, _lock| {
            let runner = runner.clone();
            let cron = cron.clone();
            Box::pin(async move {
                if !on_schedule(&cron, tz, Utc::now()) {
                    tracing::info!(
                        job = job.as_str(),
                        "tick off the local schedule (UTC offset changed) ignored"
                    );
                    return;
                }
                runner.run(job, "schedule").await;
            })
        })
        .map_err(|source| JobError::Schedule {
            job: job.as_str(),
            expr: plan.expr.clone(),
            source,
        })?;
        sched.add(cron_job.clone()).await?;
        installed.push(cron_job);
    }
    tracing::info!(
        timezone = %key.tz,
        utc_offset_seconds = key.offset_seconds,
        jobs = ?key.plans.iter().map(|p| (p.job.as_str(), p.expr.as_str())).collect::<Vec<_>>(),
        "scheduled jobs"
    );
    Ok(installed)
}

/// Makes up missed runs in the background: a backup must not delay the
/// scheduler (or shutdown) by its duration.
fn spawn_catch_up(runner: &Arc<JobRunner>, key: &Key, cancel: &CancellationToken) {
    let runner = runner.clone();
    let cancel = cancel.clone();
    let (plans, tz) = (key.plans.clone(), key.tz);
    tokio::spawn(async move {
        if let Err(e) = runner.catch_up(&plans, tz, &cancel).await {
            tracing::error!(error = %e, "cannot check for missed job runs");
        }
    });
}

/// Runs the scheduled jobs until `cancel`, in the default calendar's time
/// zone, on the system clock (housekeeping follows the wall clock even when
/// a replay runs the SLA clock faster). On cancel, waits up to the drain
/// timeout for running jobs.
pub async fn run_jobs(shared: Arc<Shared>, cancel: CancellationToken) -> Result<(), JobError> {
    let runner = Arc::new(JobRunner::new(shared.clone()));
    let mut sched = JobScheduler::new().await?;
    let mut key = Key::of(&shared.engine().config, Utc::now());
    let mut installed = install(&sched, &runner, &key).await?;
    sched.start().await?;
    spawn_catch_up(&runner, &key, &cancel);

    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = check.tick() => {
                let want = Key::of(&shared.engine().config, Utc::now());
                if want == key {
                    continue;
                }
                for job in installed.drain(..) {
                    sched.remove(&job.guid()).await?;
                }
                key = want;
                installed = install(&sched, &runner, &key).await?;
                spawn_catch_up(&runner, &key, &cancel);
            }
        }
    }
    sched.shutdown().await?;
    let drain = shared.engine().config.daemon.drain_timeout;
    let deadline = tokio::time::Instant::now() + drain;
    while runner.busy() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if runner.busy() {
        tracing::warn!("stopping with a job still running; it runs again on schedule");
    }
    Ok(())
}

/// The cron jobs as a worker.
pub struct JobsWorker(pub Arc<Shared>);

impl Worker for JobsWorker {
    fn name(&self) -> &'static str {
        "jobs"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        Ok(run_jobs(self.0, ctx.cancel).await?)
    }
}
