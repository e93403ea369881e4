//! The Telegram source's bridge: mapped updates from the connection loop
//! ([`crate::telegram::client::run`]) become pipeline events, bot commands
//! and button presses.
//!
//! - Messages, edits and chat events go to the ingest loop like any
//!   source's events (one transaction each batch, deduped there).
//! - A new message addressed to the bot (a command, or anything in a
//!   private chat) is also run through [`crate::bot::respond`] in its own
//!   write transaction, which queues the reply in the outbound queue. The
//!   reply's dedupe key is per command message, so a command delivered
//!   again after a restart is neither executed nor answered twice.
//! - Timers are held back at start-up until Telegram has delivered what
//!   happened while the daemon was down (see [`CatchUp`]), so an answer
//!   given during the downtime closes its request before a stale breach
//!   alert can fire.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::notify::Heartbeat;
use crate::bot::{self, CallbackPress, CommandContext, RateLimit};
use crate::core::event::{Event, MessageEvent};
use crate::core::shared::{Shared, TICK};
use crate::domain::sla::SenderKind;
use crate::metrics::catalogue as m;
use crate::store::{self, messages};
use crate::telegram::client::Inbound;
use crate::telegram::inbound::InboundEvent;
use crate::telegram::link::Link;
use crate::telegram::outbound::{TelegramApi, queue};

/// The ingest source name (and `source_state` key) of Telegram events.
pub const SOURCE: &str = "telegram";

/// How long the update stream must be quiet after connecting before the
/// catch-up counts as done.
const SETTLE: Duration = Duration::from_secs(3);
/// Timers are released after this long even if Telegram never answers:
/// alerts about what we know must still go out (by e-mail, at least), and
/// well before systemd's start timeout (90 s) gives up on the start.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

/// How often the rate limiter forgets users whose quota refilled.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Holds timers due from the daemon's start on until the catch-up is done.
pub struct CatchUp {
    started: Instant,
    last_inbound: Option<Instant>,
    released: bool,
}

impl CatchUp {
    /// Holds timers from `start` (Unix seconds) on.
    pub fn hold(shared: &Shared, start: i64) -> CatchUp {
        shared.set_watermark(start);
        CatchUp {
            started: Instant::now(),
            last_inbound: None,
            released: false,
        }
    }

    fn seen(&mut self) {
        self.last_inbound = Some(Instant::now());
    }

    /// Releases the timers once connected and quiet for [`SETTLE`], or
    /// after [`HOLD_AT_MOST`].
    fn poll(&mut self, shared: &Shared, connected_at: Option<Instant>) {
        if self.released {
            return;
        }
        let now = Instant::now();
        // Quiet since the connection or the last update, whichever is later.
        let quiet_since = connected_at.map(|c| self.last_inbound.map_or(c, |l| c.max(l)));
        let settled = quiet_since.is_some_and(|q| now.duration_since(q) >= SETTLE);
        if settled || now.duration_since(self.started) >= HOLD_AT_MOST {
            if !settled {
                tracing::warn!(
                    "Telegram has not delivered the updates missed while stopped; \
                     firing due alerts anyway"
                );
            }
            self.released = true;
            shared.set_watermark(i64::MAX);
        }
    }
}

/// What the bridge needs besides the channels.
pub struct Bridge {
    pub shared: Arc<Shared>,
    pub link: Arc<Link>,
    pub api: Arc<dyn TelegramApi>,
    pub limit: Arc<RateLimit>,
    /// Nudges the outbound sender after something was queued.
    pub wake: Arc<Notify>,
}

impl Bridge {
    /// Runs until `cancel` or until the connection loop is gone.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<Inbound>,
        ingest: mpsc::Sender<Event>,
        mut catch_up: CatchUp,
        heartbeat: Heartbeat,
        cancel: CancellationToken,
    ) -> Result<(), store::StoreError> {
        let mut link_state = self.link.subscribe();
        let mut connected_at = None;
        let mut pruned = Instant::now();
        loop {
            heartbeat.beat();
            // The limiter keeps a little state per user who ever wrote.
            if pruned.elapsed() >= PRUNE_EVERY {
                self.limit.prune();
                pruned = Instant::now();
            }
            if link_state.borrow_and_update().connected {
                connected_at.get_or_insert_with(Instant::now);
            }
            catch_up.poll(&self.shared, connected_at);
            let inbound = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(TICK.min(SETTLE)) => continue,
                _ = link_state.changed() => continue,
                i = rx.recv() => match i {
                    Some(i) => i,
                    None => return Ok(()),
                },
            };
            catch_up.seen();
            self.handle(inbound, &ingest, &cancel).await?;
        }
    }

    async fn handle(
        &self,
        inbound: Inbound,
        ingest: &mpsc::Sender<Event>,
        cancel: &CancellationToken,
    ) -> Result<(), store::StoreError> {
        let Inbound {
            event,
            date,
            mentions,
            bot_is_admin,
        } = inbound;
        if let InboundEvent::Callback {
            query_id,
            chat_id,
            message_id,
            user_id,
            data,
        } = event
        {
            let press = CallbackPress {
                query_id,
                chat_id,
                message_id,
                user_id,
                data,
            };
            self.press(press).await?;
            self.shared.handled.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        // The command runs (and commits) before its message is forwarded,
        // so that once the message is committed nothing is left to do for
        // it (the update state may then be saved past it).
        if let InboundEvent::Message(m) = &event
            && addressed_to_bot(m)
        {
            self.command(m.clone(), mentions, bot_is_admin).await?;
        }
        if let Some(kind) = event.into_event_kind(date) {
            let position = format!("{}", date.timestamp());
            tokio::select! {
                sent = ingest.send(Event { kind, position }) => if sent.is_err() {
                    return Ok(()); // the ingest loop is gone: shutting down
                },
                _ = cancel.cancelled() => return Ok(()),
            }
        }
        Ok(())
    }

    /// A button press: decided and its edits and reminders queued in one
    /// transaction, then answered (a press is idempotent, so a redelivered
    /// one only gets the same answer again).
    async fn press(&self, press: CallbackPress) -> Result<(), store::StoreError> {
        ::metrics::counter!(m::EVENTS_RECEIVED_TOTAL, "kind" => "callback").increment(1);
        let engine = self.shared.engine();
        let now = self.shared.now();
        let query_id = press.query_id;
        let outcome = self
            .shared
            .store
            .run(move |c| {
                let tx = store::write_tx(c)?;
                let outcome = bot::on_callback(&tx, &engine, &press, now)?;
                queued(outcome.enqueue(&tx, now.timestamp()), "a button's outcome")?;
                tx.commit()?;
                Ok(outcome)
            })
            .await?;
        if !outcome.queue.is_empty() {
            self.wake.notify_one();
        }
        // A client menu contact may have opened: its next step is a timer.
        if outcome.changed {
            self.shared.timers_changed.notify_one();
        }
        // Best effort: an unanswered press only keeps spinning for a while.
        if let Err(e) = self
            .api
            .answer_callback(query_id, &outcome.answer, outcome.alert)
            .await
        {
            tracing::warn!(query_id, "cannot answer a button press: {e}");
        }
        Ok(())
    }

    /// Runs a command (or answers a private message) and queues the reply.
    async fn command(
        &self,
        m: MessageEvent,
        mentions: Vec<(String, Option<i64>)>,
        bot_is_admin: Option<bool>,
    ) -> Result<(), store::StoreError> {
        let SenderKind::User(from) = m.sender else {
            return Ok(());
        };
        let me = self.link.state().me;
        if me.as_ref().is_some_and(|me| me.id == from) {
            return Ok(());
        }
        // Privacy mode off, or an administrator of the group: the bot sees
        // every message there (what /diagnose reports).
        let bot_reads_all = me
            .as_ref()
            .map(|me| !me.privacy_mode || bot_is_admin == Some(true));
        let username = me.and_then(|me| me.username);
        let diagnose = matches!(
            bot::parse(&m.text, username.as_deref()),
            Ok(Some(bot::Command::Diagnose))
        );
        let sender_is_chat_admin = if m.chat_id < 0 && diagnose {
            self.chat_admin(m.chat_id, from).await
        } else {
            None
        };
        let engine = self.shared.engine();
        let limit = self.limit.clone();
        let now = self.shared.now();
        let answered = self
            .shared
            .store
            .run(move |c| {
                let tx = store::write_tx(c)?;
                let key = bot::Reply::dedupe_key(m.chat_id, m.message_id);
                if queue::state(&tx, &key)?.is_some() {
                    return Ok(false); // answered before a restart
                }
                let reply_to_author = match m.reply_to {
                    Some(r) => messages::sender_of(&tx, m.chat_id, r)?,
                    None => None,
                };
                let ctx = CommandContext {
                    chat_id: m.chat_id,
                    chat_is_private: m.chat_id > 0,
                    from,
                    message_id: m.message_id,
                    reply_to: m.reply_to,
                    reply_to_author,
                    mention_ids: mentions,
                    bot_reads_all,
                    sender_is_chat_admin,
                    now,
                };
                let reply = bot::respond(&tx, &engine, &limit, ctx, &m.text, username.as_deref())?;
                let Some(reply) = reply else {
                    return Ok(false);
                };
                let reply = reply.outbound(m.message_id);
                queued(queue::enqueue(&tx, &reply, now.timestamp()), "a reply")?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if answered {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Asks Telegram whether `user` administers `chat` (bounded: a slow
    /// answer must not hold up the pipeline). `None` when it cannot tell.
    async fn chat_admin(&self, chat: i64, user: i64) -> Option<bool> {
        let client = self.link.client()?;
        let peers = self
            .shared
            .store
            .run(move |c| {
                let get = |id| {
                    crate::telegram::session::cached_peer_ref(c, id)
                        .ok()
                        .flatten()
                };
                Ok((get(chat), get(user)))
            })
            .await
            .ok()?;
        let (Some(chat_ref), Some(user_ref)) = peers else {
            return None;
        };
        let asked = client.get_permissions(chat_ref, user_ref);
        match tokio::time::timeout(Duration::from_secs(5), asked).await {
            Ok(Ok(p)) => Some(p.is_admin() || p.is_creator()),
            Ok(Err(e)) => {
                tracing::debug!(chat, user, "cannot read the user's rights: {e}");
                None
            }
            Err(_) => None,
        }
    }
}

/// See [`queue::refusal_logged`].
fn queued<T>(r: Result<T, queue::EnqueueError>, what: &str) -> store::Result<()> {
    queue::refusal_logged(r, what).map(drop)
}

/// A command, or anything a user writes to the bot in private. Edits are
/// never commands: re-running `/sla 30` because a typo was fixed elsewhere
/// in the message would surprise.
fn addressed_to_bot(m: &MessageEvent) -> bool {
    m.edit_version == 0
        && !m.service
        && matches!(m.sender, SenderKind::User(_))
        && (m.chat_id > 0 || m.text.trim_start().starts_with('/'))
}
