//! The delivery loop: sends recorded alert deliveries through their sinks
//! and records each attempt. A transient failure is retried by the one
//! [`RetryPolicy`] (across restarts: the schedule is in the store) until its
//! deadline; a permanent one stops at once. Telegram deliveries leave this
//! loop when queued: the outbound sender retries and confirms them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::notify::Heartbeat;
use crate::core::delivery::{
    Cause, DEADLINE, DeliveryStatus, Jitter, Next, Outgoing, RetryPolicy, SentReceipt, SinkError,
    Verdict, report_final_failure,
};
use crate::core::engine::at;
use crate::core::shared::{Shared, sleep_until};
use crate::domain::render::AlertText;
use crate::metrics::catalogue as m;
use crate::store::deliveries::{self, DeliveryRow};
use crate::store::{self, alerts, messages};

/// One call to a sink longer than this counts as a transient failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

const BATCH: i64 = 50;

pub async fn run(
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    let mut jitter = Jitter::new(Jitter::seed_from_time());
    loop {
        heartbeat.beat();
        let now = shared.clock.now().timestamp();
        let step = async {
            let due = shared
                .store
                .run(move |c| deliveries::due(c, now, BATCH))
                .await?;
            for d in &due {
                if cancel.is_cancelled() {
                    return Ok(None);
                }
                attempt(&shared, d, jitter.unit()).await?;
                heartbeat.beat();
            }
            Ok::<_, store::StoreError>(Some(due.len() as i64))
        };
        let due = match step.await {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(()),
            Err(e) if e.is_busy() => {
                // A delivery whose outcome was not recorded is attempted
                // again: at least once, as after a crash.
                tracing::warn!(error = %e, "delivery: the database is busy; retrying");
                if !busy_pause(&heartbeat, &cancel).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if due == BATCH {
            continue;
        }
        let next = match shared.store.run(|c| deliveries::next_at(c)).await {
            Err(e) if e.is_busy() => None,
            other => other?,
        };
        let wake = next.map(|t| shared.clock.instant_at(at(t)));
        if !sleep_until(wake, &shared.deliveries_changed, &heartbeat, &cancel).await {
            return Ok(());
        }
    }
}

/// The pause after a busy database (beating: it is not a wedge); false
/// when cancelled.
pub async fn busy_pause(heartbeat: &Heartbeat, cancel: &CancellationToken) -> bool {
    crate::core::shared::pause(std::time::Duration::from_millis(200), heartbeat, cancel).await
}

/// Renders and sends one delivery, then records the outcome; `unit` is the
/// random number for the backoff's jitter.
async fn attempt(
    shared: &Arc<Shared>,
    d: &DeliveryRow,
    unit: f64,
) -> Result<(), store::StoreError> {
    let engine = shared.engine();
    let alert_id = d.alert_id;
    let loaded = shared
        .store
        .run(move |c| {
            let Some(ctx) = alerts::context(c, alert_id)? else {
                return Ok(None);
            };
            let (text, client) =
                messages::text_of(c, ctx.chat_id, ctx.message_id)?.unwrap_or_default();
            Ok(Some((ctx, text, client)))
        })
        .await?;
    let Some((ctx, message, client_name)) = loaded else {
        return Ok(());
    };
    let cal = engine.calendar(ctx.chat_id);
    // The request's own clock: the time it has waited by the alert's due
    // moment, and the threshold its deadline was set with.
    let clock = ctx.clock();
    let waiting = clock.used_by(cal, at(ctx.due_at)) / 60;
    let kind = ctx.kind;
    let chat_title = engine.chat_label(ctx.chat_id);
    let client = client_name.map_or_else(
        || format!("id {}", ctx.client_id),
        |n| format!("{n} (id {})", ctx.client_id),
    );
    let text = AlertText {
        kind,
        level: ctx.level as u32,
        chat_title: &chat_title,
        client_name: &client,
        received_at: at(ctx.received_at),
        timezone: cal.timezone(),
        waiting_minutes: waiting,
        threshold_minutes: clock.threshold_minutes,
        message: &message,
        preview_chars: engine.config.alerts.preview_chars,
    };
    let outgoing = Outgoing {
        delivery_id: d.id,
        recipient: d.recipient.clone(),
        subject: text.subject(),
        html: text.html(),
        plain: text.plain(),
    };
    let sinks = shared.sinks();
    let result = match sinks.iter().find(|s| s.channel() == d.channel) {
        Some(sink) => tokio::time::timeout(SEND_TIMEOUT, sink.send(&outgoing))
            .await
            .unwrap_or_else(|_| {
                Err(SinkError::new(
                    d.channel,
                    &d.recipient,
                    Cause::Timeout(SEND_TIMEOUT),
                ))
            }),
        None => Err(SinkError::new(
            d.channel,
            &d.recipient,
            Cause::NotConfigured(d.channel.as_label()),
        )),
    };
    let now = shared.clock.now().timestamp();
    let policy = RetryPolicy::from(&engine.config.alerts);
    let outcome = decide(&policy, d, &result, now, unit);
    if let Some(status) = outcome.status {
        let (id, err, reason) = (d.id, outcome.error.clone(), outcome.reason.clone());
        let next = outcome.next;
        shared
            .store
            .run(move |c| {
                deliveries::record_attempt(
                    c,
                    id,
                    status,
                    err.as_deref(),
                    reason.as_deref(),
                    next,
                    now,
                )
            })
            .await?;
    }
    ::metrics::counter!(m::ALERTS_TOTAL, "kind" => crate::store::codec::StoredEnum::as_str(ctx.kind),
        "sink" => d.channel.as_label(), "outcome" => outcome.label)
    .increment(1);
    let error = outcome.error.as_deref().unwrap_or("");
    match (outcome.status, &outcome.reason) {
        (Some(DeliveryStatus::Retrying), _) => tracing::warn!(
            delivery = d.id, channel = %d.channel, recipient = %d.recipient,
            attempts = d.attempts + 1, retry_at = outcome.next, error,
            "alert delivery failed; will retry"
        ),
        (_, Some(reason)) => report_final_failure(
            d.channel,
            reason,
            &format!("alert delivery {} to {}", d.id, d.recipient),
            error,
        ),
        _ => {
            tracing::debug!(delivery = d.id, channel = %d.channel, outcome = outcome.label, "alert delivered")
        }
    }
    Ok(())
}

/// What one attempt's result means for its delivery row.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    /// The row's new status; `None` when the sink already wrote it (queued).
    status: Option<DeliveryStatus>,
    /// `outcome` label of `buhbot_alerts_total`.
    label: &'static str,
    error: Option<String>,
    /// The final failure's reason label.
    reason: Option<String>,
    next: i64,
}

/// The decision on one attempt's result: sent, queued, retried by the
/// policy, or stopped for good (permanent, or past the deadline).
fn decide(
    policy: &RetryPolicy,
    d: &DeliveryRow,
    result: &Result<SentReceipt, SinkError>,
    now: i64,
    unit: f64,
) -> Outcome {
    let done = |status, label| Outcome {
        status,
        label,
        error: None,
        reason: None,
        next: now,
    };
    let err = match result {
        Ok(SentReceipt::Sent { .. }) => return done(Some(DeliveryStatus::Sent), "sent"),
        Ok(SentReceipt::Queued { .. }) => return done(None, "queued"),
        Err(e) => e,
    };
    let error = Some(err.cause.to_string());
    let stop = |status, label, reason: &str| Outcome {
        status: Some(status),
        label,
        error: error.clone(),
        reason: Some(reason.to_string()),
        next: now,
    };
    match err.verdict() {
        Verdict::Permanent { reason } => stop(DeliveryStatus::Failed, "failed", &reason),
        Verdict::Transient { wait } => {
            let age = Duration::from_secs((now - d.created_at).max(0).unsigned_abs());
            match policy.next(d.attempts, age, wait, unit) {
                Next::GiveUp => stop(DeliveryStatus::GivenUp, "given_up", DEADLINE),
                Next::RetryIn(delay) => Outcome {
                    status: Some(DeliveryStatus::Retrying),
                    label: "failed",
                    error,
                    reason: None,
                    next: now + delay.as_secs() as i64,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::delivery::Channel;

    fn row(attempts: i64, created_at: i64) -> DeliveryRow {
        DeliveryRow {
            id: 1,
            alert_id: 1,
            channel: Channel::Email,
            recipient: "buh@firm.ru".into(),
            status: DeliveryStatus::Retrying,
            attempts,
            next_attempt_at: 0,
            created_at,
            last_error: None,
            failure_reason: None,
            outbound_id: None,
            telegram_message_id: None,
        }
    }

    fn failed(cause: Cause) -> Result<SentReceipt, SinkError> {
        Err(SinkError::new(Channel::Email, "buh@firm.ru", cause))
    }

    const POLICY: RetryPolicy = RetryPolicy {
        initial: Duration::from_secs(30),
        cap: Duration::from_secs(900),
        deadline: Duration::from_secs(3600),
        jitter: 0.0,
    };

    #[test]
    fn smtp_5xx_stops_at_once_with_its_code_as_the_reason() {
        let r = failed(Cause::SmtpReply {
            code: 550,
            message: "no such user".into(),
        });
        let o = decide(&POLICY, &row(0, 1000), &r, 1000, 0.0);
        assert_eq!(o.status, Some(DeliveryStatus::Failed));
        assert_eq!(o.reason.as_deref(), Some("smtp_550"));
        assert!(o.error.unwrap().contains("no such user"));
    }

    #[test]
    fn smtp_down_is_retried_by_the_policy_until_the_deadline() {
        let down = failed(Cause::Network("connection refused".into()));
        let o = decide(&POLICY, &row(2, 1000), &down, 1100, 0.0);
        assert_eq!(
            (o.status, o.next, o.reason),
            (Some(DeliveryStatus::Retrying), 1100 + 120, None)
        );
        // The last retry is at the deadline, not after it.
        let o = decide(&POLICY, &row(9, 1000), &down, 1000 + 3500, 0.0);
        assert_eq!(o.next, 1000 + 3600);
        let o = decide(&POLICY, &row(10, 1000), &down, 1000 + 3600, 0.0);
        assert_eq!(o.status, Some(DeliveryStatus::GivenUp));
        assert_eq!(o.reason.as_deref(), Some(DEADLINE));
        // Then the server is back.
        let ok = Ok(SentReceipt::Sent { id: None });
        let o = decide(&POLICY, &row(3, 1000), &ok, 1200, 0.0);
        assert_eq!((o.status, o.label), (Some(DeliveryStatus::Sent), "sent"));
    }

    #[test]
    fn a_queued_telegram_alert_is_left_to_the_outbound_sender() {
        let q = Ok(SentReceipt::Queued { outbound_id: 5 });
        let o = decide(&POLICY, &row(0, 1000), &q, 1000, 0.0);
        assert_eq!((o.status, o.label), (None, "queued"));
    }
}
