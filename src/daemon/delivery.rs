//! The delivery loop: sends recorded alert deliveries through their sinks,
//! records each attempt, retries failures with exponential backoff (across
//! restarts: the schedule is in the store) and gives up after the
//! configured time with an error in the log and a metric.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::notify::Heartbeat;
use crate::core::engine::at;
use crate::core::shared::{Shared, sleep_until};
use crate::domain::render::AlertText;
use crate::metrics::catalogue as m;
use crate::sinks::Outgoing;
use crate::store::{self, alerts, messages};

const BATCH: i64 = 50;

pub async fn run(
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
    cancel: CancellationToken,
) -> Result<(), store::StoreError> {
    loop {
        heartbeat.beat();
        let now = shared.clock.now().timestamp();
        let due = shared
            .store
            .run(move |c| alerts::due_deliveries(c, now, BATCH))
            .await?;
        for d in &due {
            if cancel.is_cancelled() {
                return Ok(());
            }
            attempt(&shared, d).await?;
            heartbeat.beat();
        }
        if due.len() as i64 == BATCH {
            continue;
        }
        let next = shared.store.run(|c| alerts::next_delivery_at(c)).await?;
        let wake = next.map(|t| shared.clock.instant_at(at(t)));
        if !sleep_until(wake, &shared.deliveries_changed, &heartbeat, &cancel).await {
            return Ok(());
        }
    }
}

/// Renders and sends one delivery, then records the outcome.
async fn attempt(shared: &Arc<Shared>, d: &alerts::DeliveryRow) -> Result<(), store::StoreError> {
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
    let waiting =
        (ctx.anchor_used_seconds + cal.working_seconds(at(ctx.anchor_at), at(ctx.due_at))) / 60;
    let kind = ctx.kind;
    let chat_title = engine
        .chat_title(ctx.chat_id)
        .map_or_else(|| format!("чат {}", ctx.chat_id), str::to_string);
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
        threshold_minutes: engine.policy(ctx.chat_id).threshold_minutes,
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
    let result = match sinks.iter().find(|s| s.name() == d.sink) {
        Some(sink) => {
            match tokio::time::timeout(Duration::from_secs(60), sink.send(&outgoing)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("timed out after 60 s".to_string()),
            }
        }
        None => Err(format!("sink {:?} is not configured", d.sink)),
    };
    let now = shared.clock.now().timestamp();
    let alerts_cfg = &engine.config.alerts;
    let (status, error, next) = match &result {
        Ok(_) => ("sent", None, now),
        Err(e) => {
            let age = Duration::from_secs((now - d.created_at).max(0) as u64);
            if age >= alerts_cfg.give_up_after {
                ("given_up", Some(e.as_str()), now)
            } else {
                let backoff = alerts_cfg
                    .retry_initial
                    .saturating_mul(1u32 << d.attempts.clamp(0, 16) as u32)
                    .min(alerts_cfg.retry_max);
                ("failed", Some(e.as_str()), now + backoff.as_secs() as i64)
            }
        }
    };
    let (id, err) = (d.id, error.map(str::to_string));
    shared
        .store
        .run(move |c| alerts::record_attempt(c, id, status, err.as_deref(), next, now))
        .await?;
    let sink = d.sink.clone();
    ::metrics::counter!(m::ALERTS_TOTAL, "kind" => ctx.kind.to_string(), "sink" => sink, "outcome" => status).increment(1);
    match status {
        "sent" => tracing::debug!(delivery = d.id, sink = %d.sink, "alert delivered"),
        "given_up" => tracing::error!(
            delivery = d.id, sink = %d.sink, recipient = %d.recipient, attempts = d.attempts + 1,
            error = error.unwrap_or(""), "giving up on an alert delivery"
        ),
        _ => tracing::warn!(
            delivery = d.id, sink = %d.sink, recipient = %d.recipient, attempts = d.attempts + 1,
            retry_at = next, error = error.unwrap_or(""), "alert delivery failed; will retry"
        ),
    }
    Ok(())
}
