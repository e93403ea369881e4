//! Alerts into the outbound queue: the delivery loop's [`AlertSink`] for
//! Telegram. `send` only enqueues; the queue does the actual sending,
//! pacing and retrying, so a delivery row marked `sent` means "queued".

use std::sync::Arc;

use tokio::sync::Notify;

use super::Kind;
use super::queue::{self, EnqueueError, NewOutbound};
use crate::daemon::clock::Clock;
use crate::sinks::{AlertSink, Outgoing, SendFuture, SentReceipt, SinkError};
use crate::store::Store;

const NAME: &str = "telegram";

/// Enqueues alerts for staff members' private chats.
pub struct TelegramSink {
    store: Store,
    clock: Clock,
    wake: Arc<Notify>,
}

impl TelegramSink {
    /// `wake` is the sender's [`super::OutboundConfig::wake`].
    pub fn new(store: Store, clock: Clock, wake: Arc<Notify>) -> TelegramSink {
        TelegramSink { store, clock, wake }
    }

    fn permanent(recipient: &str, message: String) -> SinkError {
        SinkError::Permanent {
            sink: NAME,
            recipient: recipient.to_string(),
            message,
        }
    }

    async fn enqueue(&self, msg: &Outgoing) -> Result<SentReceipt, SinkError> {
        let recipient = msg.recipient.as_str();
        let chat: i64 = recipient
            .trim()
            .parse()
            .map_err(|_| Self::permanent(recipient, "not a Telegram user id".to_string()))?;
        // Alerts name clients and deadlines: they must never reach a client
        // chat. Private chats have the user's (positive) id; groups are < 0.
        if chat <= 0 {
            tracing::error!(
                delivery = msg.delivery_id,
                recipient,
                "refusing to send an alert to a group chat; alerts go to staff private chats only"
            );
            return Err(Self::permanent(
                recipient,
                "refused: alerts go only to staff private chats, not to group chats".to_string(),
            ));
        }
        let new = NewOutbound::new(
            format!("alert:{}", msg.delivery_id),
            chat,
            Kind::Alert,
            msg.html.clone(),
        );
        let now = self.clock.now().timestamp();
        let queued = self
            .store
            .run(move |c| Ok(queue::enqueue(c, &new, now)))
            .await
            .map_err(|source| EnqueueError::Store {
                key: format!("alert:{}", msg.delivery_id),
                source,
            })
            .and_then(|r| r)
            .map_err(|e| match e {
                // The database may be busy or full: worth another attempt.
                EnqueueError::Store { .. } => SinkError::Transient {
                    sink: NAME,
                    recipient: recipient.to_string(),
                    message: e.to_string(),
                },
                _ => Self::permanent(recipient, e.to_string()),
            })?;
        self.wake.notify_one();
        Ok(SentReceipt {
            id: Some(format!("outbound:{}", queued.id())),
        })
    }
}

impl AlertSink for TelegramSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(self.enqueue(msg))
    }
}
