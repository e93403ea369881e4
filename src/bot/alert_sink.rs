//! Alerts into the outbound queue: the delivery loop's [`AlertSink`] for
//! Telegram. `send` only enqueues, and marks the delivery `queued` in the
//! same transaction; the queue's sender does the sending, pacing and
//! retrying, and marks the delivery `sent` when Telegram confirmed.
//!
//! Each alert gets the inline keyboard its recipient may use (see
//! [`crate::bot::buttons`]), and only staff of the firm get alerts at all.

use std::sync::Arc;

use tokio::sync::Notify;

use super::{Role, buttons};
use crate::core::clock::Clock;
use crate::core::delivery::{
    AlertSink, Cause, Channel, Outgoing, SendFuture, SentReceipt, SinkError,
};
use crate::core::engine::Engine;
use crate::store::outbound::{self as queue, EnqueueError, Enqueued, Kind, NewOutbound};
use crate::store::{Store, deliveries};

/// The engine in force now (the daemon swaps it on reload), for the base
/// configuration that the store's chat settings overlay.
pub type EngineSource = Arc<dyn Fn() -> Arc<Engine> + Send + Sync>;

/// Enqueues alerts for staff members' private chats.
pub struct TelegramSink {
    store: Store,
    clock: Clock,
    wake: Arc<Notify>,
    engine: EngineSource,
}

/// What the store said about one alert.
enum Prepared {
    /// The recipient is not staff of the firm.
    NotStaff,
    Queued(Result<Enqueued, EnqueueError>),
}

impl TelegramSink {
    /// `wake` is the sender's `OutboundConfig::wake` (the outbound sender's); `engine`
    /// gives the current engine (the daemon: `move || shared.engine()`).
    pub fn new(
        store: Store,
        clock: Clock,
        wake: Arc<Notify>,
        engine: EngineSource,
    ) -> TelegramSink {
        TelegramSink {
            store,
            clock,
            wake,
            engine,
        }
    }

    fn fail(recipient: &str, cause: Cause) -> SinkError {
        SinkError::new(Channel::Telegram, recipient, cause)
    }

    /// A misrouted alert (a wrong staff list or a bug): failed for good;
    /// the delivery loop logs it once, as an error, with the reason.
    fn refuse(msg: &Outgoing, why: &str) -> SinkError {
        Self::fail(&msg.recipient, Cause::Refused(why.to_string()))
    }

    async fn enqueue(&self, msg: &Outgoing) -> Result<SentReceipt, SinkError> {
        let recipient = msg.recipient.as_str();
        let chat: i64 = recipient.trim().parse().map_err(|_| {
            Self::fail(
                recipient,
                Cause::InvalidRecipient("not a Telegram user id".to_string()),
            )
        })?;
        // Alerts name clients and deadlines: they must never reach a client
        // chat. Private chats have the user's (positive) id; groups are < 0.
        if chat <= 0 {
            return Err(Self::refuse(
                msg,
                "alerts go only to staff private chats, not to group chats",
            ));
        }
        let mut new = NewOutbound::new(
            format!("alert:{}", msg.delivery_id),
            chat,
            Kind::Alert,
            msg.html.clone(),
        );
        let now = self.clock.now().timestamp();
        let engine = (self.engine)();
        let delivery = msg.delivery_id;
        let prepared = self
            .store
            .run(move |c| {
                let eff = engine.effective(c)?;
                // A private chat is still a client's if the user is not
                // staff: a misrouted alert must not leak names and texts.
                let role = super::auth::role_of(c, &eff, chat)?;
                if role == Role::Client {
                    return Ok(Prepared::NotStaff);
                }
                new.buttons = buttons::alert_keyboard(c, &eff, delivery, chat, role)?;
                // The enqueue and the delivery's "queued" in one
                // transaction: a crash leaves both or neither.
                let tx = crate::store::write_tx(c)?;
                let queued = queue::enqueue(&tx, &new, now);
                if let Ok(q) = &queued {
                    deliveries::mark_queued(&tx, delivery, q.id())?;
                }
                tx.commit()?;
                Ok(Prepared::Queued(queued))
            })
            .await;
        let queued = match prepared {
            Ok(Prepared::NotStaff) => {
                return Err(Self::refuse(msg, "alerts go only to staff of the firm"));
            }
            Ok(Prepared::Queued(r)) => Ok(r),
            Err(e) => Err(e),
        };
        let queued = queued
            .map_err(|source| EnqueueError::Store {
                key: format!("alert:{}", msg.delivery_id),
                source,
            })
            .and_then(|r| r)
            .map_err(|e| match e {
                // The database may be busy or full: worth another attempt.
                EnqueueError::Store { .. } => Self::fail(recipient, Cause::Store(e.to_string())),
                _ => Self::fail(recipient, Cause::InvalidMessage(e.to_string())),
            })?;
        self.wake.notify_one();
        Ok(SentReceipt::Queued {
            outbound_id: queued.id(),
        })
    }
}

impl AlertSink for TelegramSink {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(self.enqueue(msg))
    }
}
