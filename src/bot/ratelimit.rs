//! Per-user rate limit of what users send the bot.
//!
//! A client past the quota gets ONE polite notice, then silence until the
//! window passes: answering every extra message would make the bot itself
//! the flood. Their messages are still logged (the caller's job, so SLA
//! tracking never loses a message); only commands are not executed. Staff
//! are exempt: they are trusted and a refusal would hide a real problem.
//!
//! The quota is governor's GCRA (`n` per minute with a burst of `n`); the
//! window starts at the first refused message and lasts [`RateLimit::window`],
//! by which time the quota has fully replenished. The clock is injectable
//! (governor's `FakeRelativeClock` in tests).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

/// Messages a user may send a minute before being limited.
pub const DEFAULT_PER_MINUTE: NonZeroU32 = NonZeroU32::new(10).expect("10 is not zero");

/// The notice a limited user gets once per window.
pub const NOTICE_HTML: &str = "Пожалуйста, не так часто: я получил много сообщений подряд. \
     Команды снова будут работать через минуту, а ваши сообщения мы сохранили.";

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the quota (or staff): execute commands as usual.
    Allowed,
    /// Past the quota: do not execute commands; reply with [`NOTICE_HTML`]
    /// only when `notify` (the first refused message of the window).
    Limited { notify: bool },
}

/// How long a limited user waits, from their first refused message (the
/// quota is per minute).
const WINDOW: Duration = Duration::from_secs(60);

type Limiter<C> =
    RateLimiter<i64, HashMapStateStore<i64>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The per-user limiter. Shared by reference: its state is behind locks.
pub struct RateLimit<C: Clock = DefaultClock> {
    limiter: Limiter<C>,
    clock: C,
    /// When each currently limited user's window started.
    limited_since: Mutex<HashMap<i64, C::Instant>>,
}

impl RateLimit<DefaultClock> {
    /// `per_minute` messages a minute on the monotonic clock.
    pub fn new(per_minute: NonZeroU32) -> Self {
        RateLimit::with_clock(per_minute, DefaultClock::default())
    }
}

impl Default for RateLimit<DefaultClock> {
    fn default() -> Self {
        RateLimit::new(DEFAULT_PER_MINUTE)
    }
}

impl<C: Clock + Clone> RateLimit<C> {
    pub fn with_clock(per_minute: NonZeroU32, clock: C) -> Self {
        RateLimit {
            limiter: RateLimiter::hashmap_with_clock(Quota::per_minute(per_minute), clock.clone()),
            clock,
            limited_since: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one message from `user` and says whether to act on it.
    pub fn check(&self, user: i64, is_staff: bool) -> Verdict {
        if is_staff {
            return Verdict::Allowed;
        }
        let now = self.clock.now();
        let mut limited = self
            .limited_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&since) = limited.get(&user) {
            if Duration::from(now.duration_since(since)) < WINDOW {
                return Verdict::Limited { notify: false };
            }
            limited.remove(&user);
        }
        match self.limiter.check_key(&user) {
            Ok(()) => Verdict::Allowed,
            Err(_) => {
                limited.insert(user, now);
                Verdict::Limited { notify: true }
            }
        }
    }

    /// Forgets users whose state is back to the start, so that the maps do
    /// not grow with every user ever seen; call it now and then.
    pub fn prune(&self) {
        self.limiter.retain_recent();
        let now = self.clock.now();
        self.limited_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, since| Duration::from(now.duration_since(*since)) < WINDOW);
    }

    /// Users the limiter holds state for (what [`RateLimit::prune`] frees).
    pub fn tracked(&self) -> usize {
        let limited = self
            .limited_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        self.limiter.len().max(limited)
    }
}
