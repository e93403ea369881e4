//! Pacing within Telegram's limits: about 30 messages/s overall, 1/s per
//! chat, 20/min per group chat. One governor limiter for the global rate,
//! two keyed (per-chat) ones, and an in-memory "not before" per chat for
//! FLOOD_WAITs and for chats a limiter refused.
//!
//! Quotas are built with a burst of 1 ([`spaced`]): GCRA with rate r and
//! burst b admits up to b − 1 + ⌈W·r⌉ messages in a window W, so only b = 1
//! keeps *every* window within the limit (a burst of 20 for groups would
//! allow 39 messages in the first minute). The period is rounded up to the
//! nanosecond so that n periods never fit into the window.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// governor's clock on tokio's time, so that paused-time tests pace too.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl GovernorClock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

/// `n` messages per `per`, evenly spaced (burst 1).
pub fn spaced(n: NonZeroU32, per: Duration) -> Quota {
    let nanos = per.as_nanos().div_ceil(u128::from(n.get()));
    let period = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX).max(1));
    // A non-zero period always makes a quota.
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(n))
}

/// The three quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub global: Quota,
    pub per_chat: Quota,
    /// Applied on top of `per_chat` to group chats (negative ids).
    pub per_group: Quota,
}

impl Default for Limits {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Limits {
            global: spaced(n(30), Duration::from_secs(1)),
            per_chat: spaced(n(1), Duration::from_secs(1)),
            per_group: spaced(n(20), Duration::from_secs(60)),
        }
    }
}

type Plain = NoOpMiddleware<std::time::Instant>;
type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, Plain>;
type Keyed = RateLimiter<i64, HashMapStateStore<i64>, TokioClock, Plain>;

/// The sender's rate state. Lives in memory: after a restart the limits
/// start afresh (a restart within a second of a send may give that chat a
/// second message inside the same second; a daemon restart takes longer
/// than that in practice), and FLOOD_WAITs survive through
/// `next_attempt_at`.
pub struct Pacer {
    global: Direct,
    per_chat: Keyed,
    per_group: Keyed,
    not_before: HashMap<i64, Instant>,
}

fn instant(at: std::time::Instant) -> Instant {
    Instant::from_std(at)
}

impl Pacer {
    pub fn new(limits: &Limits) -> Pacer {
        Pacer {
            global: RateLimiter::direct_with_clock(limits.global, TokioClock),
            per_chat: RateLimiter::hashmap_with_clock(limits.per_chat, TokioClock),
            per_group: RateLimiter::hashmap_with_clock(limits.per_group, TokioClock),
            not_before: HashMap::new(),
        }
    }

    /// Takes one global slot, or says when the next one is free. A slot
    /// must be used at once: held back, it would let two sends bunch up.
    pub fn take_global(&self) -> Result<(), Instant> {
        self.global
            .check()
            .map_err(|not_until| instant(not_until.earliest_possible()))
    }

    /// When `chat` may be tried again, if it is held back.
    pub fn blocked_until(&self, chat: i64, now: Instant) -> Option<Instant> {
        self.not_before.get(&chat).copied().filter(|t| *t > now)
    }

    /// Holds `chat` back until `until` (a FLOOD_WAIT, a refused quota).
    pub fn block(&mut self, chat: i64, until: Instant) {
        let at = self.not_before.entry(chat).or_insert(until);
        *at = (*at).max(until);
    }

    /// Takes the chat's slots, or blocks the chat until they are free.
    /// The per-chat slot is taken first: if the group quota then refuses,
    /// the lost per-second slot only matters within the longer group wait.
    pub fn take_chat(&mut self, chat: i64) -> Result<(), Instant> {
        let refused = self.per_chat.check_key(&chat).err().or_else(|| {
            (chat < 0)
                .then(|| self.per_group.check_key(&chat).err())
                .flatten()
        });
        match refused {
            None => {
                self.not_before.remove(&chat);
                Ok(())
            }
            Some(not_until) => {
                let until = instant(not_until.earliest_possible());
                self.block(chat, until);
                Err(until)
            }
        }
    }

    /// Forgets limiter entries of chats idle for long (memory stays bounded).
    pub fn shrink(&mut self) {
        self.per_chat.retain_recent();
        self.per_group.retain_recent();
        let now = Instant::now();
        self.not_before.retain(|_, t| *t > now);
    }
}
