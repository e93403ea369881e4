//! The one retry policy of every outgoing message (alerts on every channel,
//! the Telegram queue's replies and edits) and the one backoff function,
//! which the Telegram reconnect loop uses too.
//!
//! Everything here is pure: the caller passes the attempt count, the age of
//! the message and a random number in `[0, 1)`, so tests pin every bound.

use std::time::Duration;

/// Exponential backoff: `initial · 2^attempt`, capped at `cap`, minus a
/// random share of up to `jitter` of it (`unit` in `[0, 1)`), so retries of
/// many messages that failed together do not come back together.
///
/// With `jitter` 0.5 this is "equal jitter": half fixed, half random, so a
/// delay is never near zero.
pub fn backoff(initial: Duration, cap: Duration, attempt: u32, jitter: f64, unit: f64) -> Duration {
    let exp = initial
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(cap);
    let share = jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    exp.saturating_sub(exp.mul_f64(share))
}

/// When to retry a message that failed for a transient reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles with each further one.
    pub initial: Duration,
    /// Longest delay between two attempts.
    pub cap: Duration,
    /// A message still failing this long after it was created is given up.
    pub deadline: Duration,
    /// Share of a delay (0–1) taken off at random.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// The `[alerts]` defaults: 30 s doubling up to 15 min, given up after a
    /// day; no jitter, as before the setting existed.
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(30),
            cap: Duration::from_secs(900),
            deadline: Duration::from_secs(24 * 3600),
            jitter: 0.0,
        }
    }
}

/// The configured policy: `[alerts]` `retry_initial_seconds`,
/// `retry_max_seconds`, `give_up_after_minutes`, `retry_jitter_percent`; it
/// governs alerts on every channel and the Telegram queue's messages.
impl From<&crate::config::AlertSettings> for RetryPolicy {
    fn from(a: &crate::config::AlertSettings) -> Self {
        RetryPolicy {
            initial: a.retry_initial,
            cap: a.retry_max,
            deadline: a.give_up_after,
            jitter: f64::from(a.retry_jitter_percent.min(100)) / 100.0,
        }
    }
}

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this delay.
    RetryIn(Duration),
    /// The deadline has passed: stop.
    GiveUp,
}

impl RetryPolicy {
    /// After the failure of attempt number `attempts` (0 for the first) of
    /// a message `age` old. The delay never reaches past the deadline: the
    /// last attempt is made at the deadline, and its failure gives up.
    /// `wait` is a delay the channel asked for (Telegram's FLOOD_WAIT): it
    /// replaces the backoff and is honoured in full, because retrying
    /// earlier only earns a longer wait.
    pub fn next(&self, attempts: i64, age: Duration, wait: Option<Duration>, unit: f64) -> Next {
        if age >= self.deadline {
            return Next::GiveUp;
        }
        let delay = match wait {
            Some(wait) => wait,
            None => {
                let attempt = u32::try_from(attempts.max(0)).unwrap_or(u32::MAX);
                backoff(self.initial, self.cap, attempt, self.jitter, unit).min(self.deadline - age)
            }
        };
        Next::RetryIn(delay.max(Duration::from_secs(1)))
    }
}

/// A stateful backoff for loops that retry one thing over and over (the
/// Telegram connection): counts attempts and draws the random numbers.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    jitter: f64,
    attempt: u32,
    rng: Jitter,
}

impl Backoff {
    /// Equal jitter (0.5), seeded from the system time.
    pub fn new(initial: Duration, cap: Duration) -> Self {
        Backoff::with_seed(initial, cap, Jitter::seed_from_time())
    }

    pub fn with_seed(initial: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            initial,
            cap,
            jitter: 0.5,
            attempt: 0,
            rng: Jitter::new(seed),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = backoff(
            self.initial,
            self.cap,
            self.attempt,
            self.jitter,
            self.rng.unit(),
        );
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A small random source for spreading retries (xorshift64: not for
/// secrets, plenty for this).
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed | 1 }
    }

    pub fn seed_from_time() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let d: Vec<_> = (0..8).map(|a| backoff(S(5), S(100), a, 0.0, 0.7)).collect();
        assert_eq!(
            d,
            [S(5), S(10), S(20), S(40), S(80), S(100), S(100), S(100)]
        );
        // No overflow for absurd attempt counts.
        assert_eq!(backoff(S(5), S(100), u32::MAX, 0.0, 0.0), S(100));
    }

    #[test]
    fn jitter_stays_within_its_share() {
        for a in 0..12 {
            let full = backoff(S(2), S(600), a, 0.0, 0.0);
            for unit in [0.0, 0.25, 0.5, 0.999_999] {
                let d = backoff(S(2), S(600), a, 0.5, unit);
                assert!(
                    d <= full && d >= full / 2,
                    "attempt {a}, unit {unit}: {d:?}"
                );
            }
            assert_eq!(backoff(S(2), S(600), a, 0.5, 0.0), full);
            assert_eq!(backoff(S(2), S(600), a, 1.0, 0.5), full / 2);
        }
        // Out-of-range inputs are clamped, never negative or above the cap.
        assert_eq!(backoff(S(8), S(8), 0, 3.0, 2.0), Duration::ZERO);
    }

    #[test]
    fn deadline_is_never_overshot_and_then_gives_up() {
        let p = RetryPolicy {
            initial: S(30),
            cap: S(900),
            deadline: S(3600),
            jitter: 0.0,
        };
        assert_eq!(p.next(0, S(0), None, 0.0), Next::RetryIn(S(30)));
        assert_eq!(p.next(3, S(100), None, 0.0), Next::RetryIn(S(240)));
        assert_eq!(p.next(10, S(1000), None, 0.0), Next::RetryIn(S(900)));
        // Only the time left until the deadline.
        assert_eq!(p.next(10, S(3500), None, 0.0), Next::RetryIn(S(100)));
        assert_eq!(p.next(10, S(3600), None, 0.0), Next::GiveUp);
        assert_eq!(p.next(0, S(7200), None, 0.0), Next::GiveUp);
        // A wait the channel asked for replaces the backoff, in full.
        assert_eq!(p.next(0, S(0), Some(S(31)), 0.0), Next::RetryIn(S(31)));
        assert_eq!(p.next(0, S(3590), Some(S(31)), 0.0), Next::RetryIn(S(31)));
        // Never a busy loop.
        assert_eq!(
            p.next(0, S(0), Some(Duration::ZERO), 0.0),
            Next::RetryIn(S(1))
        );
    }

    #[test]
    fn stateful_backoff_grows_is_capped_and_resets() {
        let (base, cap) = (S(1), S(60));
        let mut b = Backoff::with_seed(base, cap, 12345);
        for attempt in 0..40u32 {
            let exp = base
                .saturating_mul(2u32.saturating_pow(attempt.min(31)))
                .min(cap);
            let d = b.next_delay();
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} vs {exp:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= base);
        let mut a = Backoff::with_seed(base, cap, 1);
        let mut c = Backoff::with_seed(base, cap, 99);
        let da: Vec<_> = (0..8).map(|_| a.next_delay()).collect();
        let dc: Vec<_> = (0..8).map(|_| c.next_delay()).collect();
        assert_ne!(da, dc);
        let mut j = Jitter::new(7);
        assert!((0..1000).map(|_| j.unit()).all(|u| (0.0..1.0).contains(&u)));
    }
}
