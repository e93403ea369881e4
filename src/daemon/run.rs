//! `buhbot run`: start-up, the wiring of the workers, signals and SIGHUP
//! reload; the supervisor (`super::supervisor`) watches the workers and
//! runs the shutdown choreography (signal → STOPPING → cancel → drain →
//! close the store).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::heartbeat::{HealthProbe, HeartbeatWorker};
use super::ingest::{self, IngestWorker};
use super::jobs::JobsWorker;
use super::notify::{HeartbeatRegistry, Notifier, WatchdogWorker};
use super::run_telegram::{ReadyWorker, TelegramSide, spawn_telegram};
use super::scheduler::SchedulerWorker;
use super::source::{self, ReplayWorker, SourceSpec, for_source};
use super::starts::{self, StartLog};
use super::status::{StatusWorker, status_line};
use super::supervisor::Supervisor;
use super::workers::{DeliveryWorker, MetricsWorker};
use crate::backup::DbLock;
use crate::bot::{EngineSource, TelegramSink};
use crate::config::{Config, ConfigError, TelegramCredentials};
use crate::core::clock::Clock;
use crate::core::delivery::AlertSink;
use crate::core::engine::Engine;
use crate::core::live_settings::LiveSettingsWorker;
use crate::core::shared::Shared;
use crate::core::worker::WorkerError;
use crate::metrics::{self as bmetrics, TextfileSettings, catalogue as m};
use crate::sinks::{EmailSink, LogSink};
use crate::store::{Store, state};
use crate::sync::worker::SyncPushWorker;
use crate::telegram::api::GrammersApi;
use crate::telegram::link::Link;
use crate::telegram::outbound::TelegramApi;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Startup(String),
    #[error(transparent)]
    Task(#[from] WorkerError),
}

/// Options of `buhbot run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub source: SourceSpec,
    /// Test-only (hidden option): SIGUSR1 wedges the ingest loop so that
    /// the systemd watchdog can be seen to fire.
    #[cfg(feature = "test-support")]
    pub wedge_on_usr1: bool,
}

fn startup<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> RunError + '_ {
    move |e| RunError::Startup(format!("{what}: {e}"))
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    let config = Arc::new(for_source(
        Config::load(opts.config.as_deref())?,
        &opts.source,
        None,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(startup("cannot start the runtime"))?;
    runtime.block_on(run_async(config, opts))
}

fn sinks_for(
    config: &Config,
    telegram: Option<&Arc<dyn AlertSink>>,
) -> Result<Vec<Arc<dyn AlertSink>>, RunError> {
    let mut sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(LogSink)];
    sinks.extend(telegram.cloned());
    if let Some(email) = &config.email {
        sinks.push(Arc::new(EmailSink::new(email.smtp.clone()).map_err(
            |e| RunError::Config(ConfigError::Syntax(format!("[email]: {e}"))),
        )?));
    }
    Ok(sinks)
}

/// The signals the daemon handles, installed first thing so that a stop
/// request during start-up is not lost (nor fatal by default action).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, RunError> {
        let sig = |k| signal(k).map_err(startup("cannot install signal handlers"));
        Ok(Signals {
            term: sig(SignalKind::terminate())?,
            int: sig(SignalKind::interrupt())?,
            hup: sig(SignalKind::hangup())?,
            usr1: sig(SignalKind::user_defined1())?,
        })
    }
}

async fn run_async(config: Arc<Config>, opts: RunOptions) -> Result<(), RunError> {
    let mut signals = Signals::install()?;
    let notifier = Notifier::from_env();
    let db = config.store.path.clone();
    // A standby waits here for the Postgres lock, having touched nothing.
    let standby_lock = match config
        .postgres
        .as_ref()
        .and_then(|pg| pg.standby_lock.as_deref().map(|name| (pg, name)))
    {
        None => None,
        Some((pg, name)) => {
            let label = crate::sync::standby::holder_label(&crate::sync::standby::host_name(), &db);
            let waited = super::standby::wait_active(
                pg,
                name,
                &label,
                &notifier,
                &mut signals.term,
                &mut signals.int,
            )
            .await
            .map_err(startup("standby"))?;
            match waited {
                Some(lock) => Some(lock),
                None => {
                    tracing::info!("buhbot stopped (it was the standby)");
                    return Ok(());
                }
            }
        }
    };
    let sync_on = config.postgres.is_some();
    let standby = standby_lock.is_some();
    let started_at = chrono::Utc::now();
    // The new active daemon rebuilds its store from the replica the last
    // one pushed, read while the store opens.
    let replica = match (&config.postgres, standby) {
        (Some(pg), true) => {
            let connector = crate::sync::pg::Connector::new(pg).map_err(startup("standby"))?;
            let (to, from) = tokio::sync::mpsc::channel(1024);
            tokio::spawn(async move { crate::sync::replica::read(&connector, to).await });
            Some(from)
        }
        _ => None,
    };
    let store = tokio::task::spawn_blocking({
        let db = db.clone();
        let (crash_loop, backup_dir) = (config.daemon.crash_loop, config.backup.dir.clone());
        move || -> Result<(Store, DbLock, StartLog), RunError> {
            let store = Store::open(&db).map_err(startup("cannot open the store"))?;
            let lock = DbLock::acquire(&db).map_err(startup(
                "cannot lock the store (is another buhbot running?)",
            ))?;
            let report = store
                .migrate()
                .map_err(startup("cannot migrate the store"))?;
            if let Some(from) = replica {
                super::standby::rebuild(&store, from).map_err(|e| RunError::Startup(e.to_string()))?;
            }
            // Changes are queued for Postgres only while a [postgres]
            // section exists: without one, no backlog builds up.
            let queued = store
                .conn()
                .and_then(|c| crate::store::outbox::set_enabled(&c, sync_on))
                .map_err(startup("cannot set up the sync queue"))?;
            let seeded = store
                .conn()
                .and_then(|c| crate::store::replica::set_enabled(&c, standby))
                .map_err(startup("cannot set up the standby's replica"))?;
            if seeded > 0 {
                tracing::info!(
                    rows = seeded,
                    "standby: every row of the store queued for the replica in Postgres (its first start with standby on)"
                );
            }
            if queued > 0 {
                tracing::info!(
                    rows = queued,
                    "sync: every existing row queued for Postgres (its first start with [postgres])"
                );
            }
            if !report.applied.is_empty() {
                tracing::info!(from = report.from, to = report.to, "database migrated");
            }
            let start = store
                .conn()
                .and_then(|mut c| {
                    starts::record_start(
                        &mut c,
                        &report,
                        env!("CARGO_PKG_VERSION"),
                        started_at,
                        crash_loop,
                        starts::newest_backup(&backup_dir),
                    )
                })
                .map_err(startup("cannot record the start"))?;
            Ok((store, lock, start))
        }
    })
    .await
    .map_err(startup("start-up task"))??;
    let (store, _lock, start) = store;
    let start = Arc::new(start);

    let metrics = bmetrics::install().map_err(startup("cannot install metrics"))?;
    ::metrics::gauge!(m::START_TIME_SECONDS).set(chrono::Utc::now().timestamp() as f64);
    ::metrics::gauge!(m::SYNC_CONFIGURED).set(if sync_on { 1.0 } else { 0.0 });

    // The source: where it stands, and the clock it implies.
    let (tx, rx) = mpsc::channel(1024);
    let (clock, feed, source_name) = match &opts.source {
        SourceSpec::Telegram => {
            // Missing credentials are configuration errors (exit 78).
            let credentials = config.telegram_credentials()?;
            (
                Clock::System,
                Feed::Telegram(credentials),
                super::telegram::SOURCE,
            )
        }
        SourceSpec::Replay { file, speed } => {
            let pos = store
                .run(|c| state::position(c, ingest::REPLAY_SOURCE))
                .await
                .map_err(startup("store"))?;
            let (skip, resume_at) = pos.as_deref().and_then(source::parse_position).unzip();
            let tz = config.calendar.timezone;
            let origin = match resume_at.and_then(|t| DateTime::from_timestamp(t, 0)) {
                Some(t) => Some(t),
                None => {
                    let f = file.clone();
                    tokio::task::spawn_blocking(move || source::first_date(&f, tz))
                        .await
                        .map_err(startup("replay"))?
                        .map_err(startup("replay source"))?
                }
            };
            let clock = origin.map_or(Clock::System, |o| Clock::virtual_from(o, *speed));
            let (file, skip) = (file.clone(), skip.unwrap_or(0));
            if skip > 0 {
                tracing::info!(skip, "resuming the replay after the last processed event");
            }
            let tx = tx.clone();
            let reader =
                tokio::task::spawn_blocking(move || source::read_replay(&file, tz, skip, &tx));
            (clock, Feed::Replay(reader), ingest::REPLAY_SOURCE)
        }
    };

    // Telegram's side: the connection's state and the queue's transport.
    let telegram = match &feed {
        Feed::Telegram(_) => {
            let link = Arc::new(Link::new());
            let wake = Arc::new(tokio::sync::Notify::new());
            let api: Arc<dyn TelegramApi> = Arc::new(GrammersApi::new(link.clone(), store.clone()));
            Some(TelegramSide { link, wake, api })
        }
        Feed::Replay(_) => None,
    };

    // The configuration overlaid by the chat settings set from the shell.
    let engine = store
        .run({
            let config = config.clone();
            move |c| Engine::from_config_and_store(config, c)
        })
        .await
        .map_err(startup("cannot read the chat settings"))?;
    // The sinks come right below: the Telegram one needs `shared`.
    let shared = Arc::new(Shared::new(store.clone(), clock, engine, Vec::new(), false));
    // The alert sink that feeds the outbound queue builds each alert's
    // buttons for the recipient's role under the settings in force. It
    // reaches the engine through a weak reference: the sink lives inside
    // `shared`, and a strong one would keep both alive forever.
    let tg_sink: Option<Arc<dyn AlertSink>> = telegram.as_ref().map(|t| {
        let weak = Arc::downgrade(&shared);
        let engine: EngineSource = Arc::new(move || {
            weak.upgrade()
                .expect("the daemon's state outlives its alert sinks")
                .engine()
        });
        Arc::new(TelegramSink::new(
            store.clone(),
            clock,
            t.wake.clone(),
            engine,
        )) as Arc<dyn AlertSink>
    });
    shared.set_sinks(sinks_for(&config, tg_sink.as_ref())?);
    // Every background task is a worker of one supervisor.
    let heartbeats = HeartbeatRegistry::new();
    let mut workers = Supervisor::new(heartbeats.clone());
    workers.spawn(IngestWorker {
        shared: shared.clone(),
        rx,
        source: source_name,
        faq: telegram
            .as_ref()
            .map(|t| ingest::FaqAnswers::new(t.wake.clone())),
    });
    workers.spawn(SchedulerWorker(shared.clone()));
    workers.spawn(DeliveryWorker(shared.clone()));
    if let Some(t) = telegram.as_ref() {
        workers.spawn(super::surveys::SurveysWorker {
            shared: shared.clone(),
            wake: t.wake.clone(),
        });
    }
    match feed {
        Feed::Replay(reader) => {
            drop(tx);
            workers.spawn(ReplayWorker { reader });
        }
        Feed::Telegram(credentials) => {
            let side = telegram.as_ref().expect("built for the Telegram feed");
            spawn_telegram(&mut workers, side, credentials, &shared, &config, tx);
        }
    }
    workers.spawn(MetricsWorker {
        metrics,
        settings: TextfileSettings {
            path: config.metrics.textfile.clone(),
            interval: config.metrics.interval,
        },
    });
    // A loop that has not beaten for half of WatchdogSec stops the pings;
    // systemd then kills within the other half. Loops beat every 2 s.
    // The external heartbeat judges the loops by the same measure.
    let stall_after = notifier
        .watchdog_interval()
        .unwrap_or(Duration::from_secs(15));
    workers.spawn(WatchdogWorker {
        notifier: notifier.clone(),
        heartbeats: heartbeats.clone(),
        stall_after,
    });
    let link = telegram.as_ref().map(|t| t.link.clone());
    if let Some(settings) = &config.heartbeat {
        let board = workers.board();
        workers.spawn(HeartbeatWorker {
            settings: settings.clone(),
            probe: HealthProbe {
                heartbeats,
                stall_after,
                link: link.clone(),
                board,
                store: store.clone(),
                start_id: start.id,
            },
        });
    }
    workers.spawn(StatusWorker {
        shared: shared.clone(),
        notifier: notifier.clone(),
        link: link.clone(),
    });
    if let Some(lock) = standby_lock {
        workers.spawn(super::standby::StandbyLockWorker { lock });
    }
    workers.spawn(LiveSettingsWorker(shared.clone()));
    workers.spawn(JobsWorker(shared.clone()));
    if let Some(settings) = &config.postgres {
        workers.spawn(SyncPushWorker {
            shared: shared.clone(),
            settings: settings.clone(),
            default_threshold: i64::from(config.sla.threshold_minutes),
        });
    }

    match &link {
        None => {
            let status = status_line(&shared, None).await.unwrap_or_default();
            let _ = notifier.ready(&status);
            if let Err(e) = starts::at_ready(&shared, &start, chrono::Utc::now(), false).await {
                tracing::warn!("{e}");
            }
            tracing::info!(version = env!("CARGO_PKG_VERSION"), db = %db.display(), "buhbot is running; {status}");
        }
        // READY=1 only once Telegram answered: until then the service is
        // "activating", and STATUS= says why.
        Some(link) => {
            let _ = notifier.status("connecting to Telegram");
            workers.spawn(ReadyWorker {
                link: link.clone(),
                shared: shared.clone(),
                source: opts.source.clone(),
                notifier: notifier.clone(),
                db: db.clone(),
                start: start.clone(),
            });
            // Queued now, sent once Telegram answers: a loop that dies
            // before READY is warned about too.
            if let Err(e) = starts::warn_crash_loop(&shared, &start).await {
                tracing::warn!("{e}");
            }
        }
    }

    let outcome = supervise(
        signals,
        &shared,
        &notifier,
        &mut workers,
        &opts,
        Reloading {
            link,
            telegram_sink: tg_sink,
        },
    )
    .await;

    // Drain, then the fixed teardown order: the shared state (and with it
    // the sinks and the engine), then the store.
    workers
        .shutdown(&notifier, config.daemon.drain_timeout)
        .await;
    // Only a stop by signal is clean; a fatal error is a crash (and
    // systemd's restart counts towards a crash loop).
    if outcome.is_ok()
        && let Err(e) = starts::at_stop(&shared, &start, chrono::Utc::now()).await
    {
        tracing::warn!("start history: {e}");
    }
    drop(shared);
    drop(store);
    tracing::info!("buhbot stopped");
    outcome
}

/// Waits for a stop signal or a failing worker; handles SIGHUP reloads.
async fn supervise(
    mut signals: Signals,
    shared: &Arc<Shared>,
    notifier: &Notifier,
    workers: &mut Supervisor,
    opts: &RunOptions,
    reloading: Reloading,
) -> Result<(), RunError> {
    loop {
        tokio::select! {
            _ = signals.term.recv() => { tracing::info!("SIGTERM: stopping"); return Ok(()); }
            _ = signals.int.recv() => { tracing::info!("SIGINT: stopping"); return Ok(()); }
            _ = signals.hup.recv() => reload(shared, notifier, opts, &reloading).await,
            _ = signals.usr1.recv() => {
                #[cfg(feature = "test-support")]
                if opts.wedge_on_usr1 {
                    shared.wedged.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            // A worker that ends by itself (the source finishing) is fine;
            // an error or a panic is fatal: better a restart by systemd
            // than a half-dead daemon.
            watched = workers.watch() => return match watched {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::error!(task = e.worker(), error = %e, "fatal error");
                    Err(RunError::Task(e))
                }
            },
        }
    }
}

/// SIGHUP: a new configuration is validated, then swapped in and open
/// requests re-timed; a bad one is rejected and the old one kept.
async fn reload(
    shared: &Arc<Shared>,
    notifier: &Notifier,
    opts: &RunOptions,
    reloading: &Reloading,
) {
    let _ = notifier.reloading();
    let path = opts.config.clone();
    let loaded = tokio::task::spawn_blocking(move || Config::load(path.as_deref())).await;
    let me = reloading.link.as_ref().and_then(|l| l.state().me);
    let config = match loaded {
        Ok(Ok(c)) => Arc::new(for_source(c, &opts.source, me.as_ref())),
        Ok(Err(e)) => {
            tracing::error!("configuration reload rejected, keeping the running one: {e}");
            let _ = notifier.reloaded();
            return;
        }
        Err(e) => {
            tracing::error!("configuration reload failed: {e}");
            let _ = notifier.reloaded();
            return;
        }
    };
    let sinks = match sinks_for(&config, reloading.telegram_sink.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("configuration reload rejected, keeping the running one: {e}");
            let _ = notifier.reloaded();
            return;
        }
    };
    let retimed = crate::core::live_settings::swap(shared, config, false).await;
    match retimed {
        Ok(n) => {
            let n = n.unwrap_or(0);
            shared.set_sinks(sinks);
            shared.timers_changed.notify_one();
            tracing::info!(retimed = n, "configuration reloaded");
        }
        Err(e) => tracing::error!(
            "configuration reload failed while re-timing requests, keeping the running one: {e}"
        ),
    }
    let _ = notifier.reloaded();
}

/// Where events come from.
enum Feed {
    Replay(tokio::task::JoinHandle<Result<(), source::SourceError>>),
    Telegram(TelegramCredentials),
}

/// What a SIGHUP reload needs besides the configuration file.
struct Reloading {
    link: Option<Arc<Link>>,
    telegram_sink: Option<Arc<dyn AlertSink>>,
}

/// The database a `run` with this configuration would use.
pub fn db_path(config: &Config) -> &Path {
    &config.store.path
}
