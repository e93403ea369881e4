//! The daemon's clock. Live sources run on the system clock; a replay runs
//! on a virtual clock that starts at the first event's date and runs
//! `speed` times faster than real time, so timers fire as they would have.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Virtual {
        /// Real instant at which the virtual clock read `origin`.
        started: Instant,
        origin: DateTime<Utc>,
        speed: f64,
    },
}

impl Clock {
    pub fn virtual_from(origin: DateTime<Utc>, speed: f64) -> Clock {
        Clock::Virtual {
            started: Instant::now(),
            origin,
            speed,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::System => Utc::now(),
            Clock::Virtual {
                started,
                origin,
                speed,
            } => {
                let real = started.elapsed().as_secs_f64() * speed;
                origin + chrono::Duration::microseconds((real * 1e6).min(1e17) as i64)
            }
        }
    }

    /// How long to sleep in real time until the clock reads `t`.
    pub fn real_until(&self, t: DateTime<Utc>) -> Duration {
        let ahead = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        match *self {
            Clock::System => ahead,
            Clock::Virtual { speed, .. } => ahead.div_f64(speed.max(1e-9)),
        }
    }

    /// The real instant at which the clock reads `t` (never in the past).
    pub fn instant_at(&self, t: DateTime<Utc>) -> Instant {
        Instant::now() + self.real_until(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn virtual_clock_runs_speed_times_faster() {
        let origin: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-01-13T06:00:00Z")
            .unwrap()
            .into();
        let clock = Clock::virtual_from(origin, 60.0);
        assert_eq!(clock.now(), origin);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(clock.now(), origin + chrono::Duration::minutes(10));
        let target = origin + chrono::Duration::minutes(70);
        assert_eq!(clock.real_until(target), Duration::from_secs(60));
    }
}
