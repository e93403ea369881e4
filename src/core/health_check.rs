//! The external heartbeat's judgement (`crate::daemon::heartbeat`): what
//! is wrong with the daemon, from the loops' heartbeats (the watchdog's
//! judgement, [`super::health`]), Telegram, the workers' states and a
//! store probe. Pure: the daemon gathers the inputs.

use std::collections::BTreeSet;

use super::worker::{WorkerState, WorkerStatus};

/// What the external heartbeat (`crate::daemon::heartbeat`) judges the
/// daemon's health by, gathered by the daemon at each call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthInputs<'a> {
    /// Loops that made no progress: [`super::health::HeartbeatRegistry::stalled`] with the
    /// watchdog's own `stall_after`, so both judge the loops alike.
    pub stalled: &'a BTreeSet<String>,
    /// `None` when the source is not Telegram.
    pub telegram_connected: Option<bool>,
    pub workers: &'a [WorkerStatus],
    /// The store probe (a write): its error, if it failed.
    pub store_error: Option<&'a str>,
}

/// Longest worker error quoted in a problem: a status message, not a log.
const MAX_DETAIL: usize = 160;

/// What is wrong, in English, one entry per problem; empty when healthy.
pub fn problems(i: &HealthInputs<'_>) -> Vec<String> {
    let cut = |s: &str| -> String {
        match s.char_indices().nth(MAX_DETAIL) {
            Some((at, _)) => format!("{}…", &s[..at]),
            None => s.to_string(),
        }
    };
    let mut out = Vec::new();
    if i.telegram_connected == Some(false) {
        out.push("Telegram disconnected".to_string());
    }
    if !i.stalled.is_empty() {
        let names: Vec<&str> = i.stalled.iter().map(String::as_str).collect();
        out.push(format!("stalled: {}", names.join(", ")));
    }
    for w in i.workers {
        match &w.state {
            WorkerState::Failing(e) => out.push(format!("{} failing: {}", w.name, cut(e))),
            WorkerState::Failed(e) => out.push(format!("{} failed: {}", w.name, cut(e))),
            _ => {}
        }
    }
    if let Some(e) = i.store_error {
        out.push(format!("store not writable: {}", cut(e)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_is_no_problem_and_each_problem_is_named() {
        let none = BTreeSet::new();
        let idle = [WorkerStatus {
            name: "sync",
            state: WorkerState::Idle,
        }];
        let ok = HealthInputs {
            stalled: &none,
            telegram_connected: Some(true),
            workers: &idle,
            store_error: None,
        };
        assert!(problems(&ok).is_empty());
        assert!(
            problems(&HealthInputs {
                telegram_connected: None,
                ..ok.clone()
            })
            .is_empty(),
            "a replay has no Telegram to lose"
        );

        let stalled: BTreeSet<String> = ["ingest".to_string()].into();
        let failing = [WorkerStatus {
            name: "sync",
            state: WorkerState::Failing("x".repeat(500)),
        }];
        let bad = problems(&HealthInputs {
            stalled: &stalled,
            telegram_connected: Some(false),
            workers: &failing,
            store_error: Some("disk I/O error"),
        });
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert_eq!(bad[0], "Telegram disconnected");
        assert_eq!(bad[1], "stalled: ingest");
        assert!(bad[2].starts_with("sync failing: xxx") && bad[2].chars().count() < 200);
        assert_eq!(bad[3], "store not writable: disk I/O error");
    }
}
