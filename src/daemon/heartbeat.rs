//! The external heartbeat (issue 14, part 2): every `[heartbeat]
//! interval_seconds` the daemon judges its own health and, while healthy,
//! calls the configured URL (`{status}` → `up`, `{msg}` → a status line);
//! while unhealthy it stops those calls and calls the failure URL instead
//! (every interval, with what is wrong), so a dead or sick host is noticed
//! by the remote side either way.
//!
//! Health is what the systemd watchdog judges (every watched loop beat
//! within the same `stall_after`, [`HeartbeatRegistry::stalled`]), plus
//! Telegram connected, no worker failing (the sync's retried errors) and a
//! real write to the store (this start's `alive_at`). Each call runs on a
//! blocking thread bounded by `timeout_seconds` (shorter than the
//! interval), in this worker's own task: a slow or dead endpoint never
//! touches the main loops.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::notify::HeartbeatRegistry;
use crate::config::Secret;
use crate::config::heartbeat::{HeartbeatSettings, fill};
use crate::core::health_check::{HealthInputs, problems};
use crate::core::worker::{BoxError, StatusBoard, Worker, WorkerContext};
use crate::metrics::catalogue as m;
use crate::store::Store;
use crate::telegram::link::Link;

/// A heartbeat call that did not succeed. Never quotes the URL: it holds
/// the monitor's token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(String),
}

/// What the heartbeat looks at besides the settings.
pub struct HealthProbe {
    pub heartbeats: HeartbeatRegistry,
    /// The watchdog's: a loop silent this long is stalled.
    pub stall_after: Duration,
    /// `None` when the source is not Telegram.
    pub link: Option<Arc<Link>>,
    pub board: StatusBoard,
    pub store: Store,
    /// This start's row: the store probe writes its `alive_at`.
    pub start_id: i64,
}

impl HealthProbe {
    /// What is wrong now; empty when healthy. The store probe gets
    /// `timeout` (a wedged store is a problem, not a hang).
    pub async fn check(&self, timeout: Duration) -> Vec<String> {
        let stalled = self.heartbeats.stalled(Instant::now(), self.stall_after);
        let workers = self.board.statuses();
        let (id, now) = (self.start_id, chrono::Utc::now().timestamp());
        let write = self
            .store
            .run(move |c| crate::store::starts::mark_alive(c, id, now));
        let store_error = match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no write within {} s", timeout.as_secs())),
        };
        problems(&HealthInputs {
            stalled: &stalled,
            telegram_connected: self.link.as_ref().map(|l| l.state().connected),
            workers: &workers,
            store_error: store_error.as_deref(),
        })
    }
}

/// The HTTP client: one agent (its connection pool kept between calls),
/// rustls with the webpki roots, `timeout` for the whole call.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(true)
        .user_agent(concat!("buhbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// One call: POST to `url` with its placeholders filled and `msg` as the
/// text body (Healthchecks.io logs it; Uptime Kuma reads the query).
pub async fn call(
    agent: &ureq::Agent,
    url: &Secret,
    status: &str,
    msg: &str,
    timeout: Duration,
) -> Result<(), CallError> {
    let (agent, target, body) = (
        agent.clone(),
        fill(url.expose(), status, msg),
        msg.to_string(),
    );
    let blocking = tokio::task::spawn_blocking(move || {
        agent
            .post(&target)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body.as_str())
            .map(|_| ())
    });
    // ureq bounds the call itself; this bounds our wait should it not.
    match tokio::time::timeout(timeout + Duration::from_secs(1), blocking).await {
        Err(_) => Err(CallError::Timeout(timeout)),
        Ok(Err(e)) => Err(CallError::Transport(format!("call task: {e}"))),
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(match e {
            ureq::Error::StatusCode(code) => CallError::Status(code),
            ureq::Error::Timeout(_) => CallError::Timeout(timeout),
            // Could quote the URL.
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                CallError::Transport("the URL was refused".into())
            }
            other => CallError::Transport(other.to_string()),
        }),
    }
}

/// The line sent while healthy.
fn ok_message(uptime: Duration) -> String {
    let m = uptime.as_secs() / 60;
    format!(
        "OK: buhbot {} up {}h {}m",
        env!("CARGO_PKG_VERSION"),
        m / 60,
        m % 60
    )
}

pub struct HeartbeatWorker {
    pub settings: HeartbeatSettings,
    pub probe: HealthProbe,
}

impl Worker for HeartbeatWorker {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        let HeartbeatWorker { settings, probe } = self;
        let agent = agent(settings.timeout);
        let started = Instant::now();
        // The first call one interval after the start: Telegram gets that
        // long to connect before its absence counts.
        let mut tick = tokio::time::interval_at(started + settings.interval, settings.interval);
        // A call never overlaps the next: a late tick waits, no burst.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut healthy = true;
        let mut last_error: Option<CallError> = None;
        ::metrics::gauge!(m::HEARTBEAT_CONFIGURED).set(1.0);
        loop {
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let wrong = probe.check(settings.timeout).await;
            let now_healthy = wrong.is_empty();
            if now_healthy != healthy {
                if now_healthy {
                    tracing::info!("heartbeat: healthy again; calling the heartbeat URL");
                } else {
                    tracing::warn!(
                        problems = %wrong.join("; "),
                        "heartbeat: unhealthy; {}",
                        if settings.failure_target().is_some() {
                            "calling the failure URL instead"
                        } else {
                            "no longer calling the heartbeat URL"
                        }
                    );
                }
                healthy = now_healthy;
            }
            let (target, status, msg) = if healthy {
                (Some(&settings.url), "up", ok_message(started.elapsed()))
            } else {
                (settings.failure_target(), "down", wrong.join("; "))
            };
            let Some(target) = target else { continue };
            match call(&agent, target, status, &msg, settings.timeout).await {
                Ok(()) => {
                    ::metrics::gauge!(m::HEARTBEAT_LAST_SUCCESS_TIMESTAMP_SECONDS)
                        .set(chrono::Utc::now().timestamp() as f64);
                    if last_error.take().is_some() {
                        tracing::info!("heartbeat: the endpoint answers again");
                    }
                }
                Err(e) => {
                    ::metrics::counter!(m::HEARTBEAT_FAILURES_TOTAL).increment(1);
                    // One warning per distinct failure, not one per interval.
                    if last_error.as_ref() != Some(&e) {
                        tracing::warn!(error = %e, "heartbeat call failed; retried next interval");
                    }
                    last_error = Some(e);
                }
            }
        }
    }
}
