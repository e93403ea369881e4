//! The aggregate SLA figures of a set of requests: the one definition that
//! `buhbot replay` (over an export) and `buhbot report sla` (over the
//! daemon's store) share, so that both give the same numbers for the same
//! messages.

use super::percentile;

/// What a request contributes to a [`Summary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFigures {
    /// Breached by the instant the summary is taken at: answered late, or
    /// still open past its deadline.
    pub breached: bool,
    /// Working minutes to the answer, for answered requests only.
    pub answered_minutes: Option<i64>,
}

/// Aggregate figures of a set of requests.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub requests: usize,
    pub answered: usize,
    pub breached: usize,
    /// Share of requests not breached, in percent (one decimal). Open
    /// requests still within their deadline count as not breached.
    pub compliance_percent: Option<f64>,
    /// Over answered requests, in working minutes (nearest rank).
    pub median_minutes: Option<i64>,
    pub p95_minutes: Option<i64>,
}

impl Summary {
    pub fn of(requests: impl IntoIterator<Item = RequestFigures>) -> Summary {
        let mut count = 0;
        let mut breached = 0;
        let mut minutes = Vec::new();
        for r in requests {
            count += 1;
            breached += usize::from(r.breached);
            minutes.extend(r.answered_minutes);
        }
        minutes.sort_unstable();
        Summary {
            requests: count,
            answered: minutes.len(),
            breached,
            compliance_percent: (count > 0).then(|| {
                let pct = 100.0 * (count - breached) as f64 / count as f64;
                (pct * 10.0).round() / 10.0
            }),
            median_minutes: percentile(&minutes, 50.0),
            p95_minutes: percentile(&minutes, 95.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(breached: bool, answered_minutes: Option<i64>) -> RequestFigures {
        RequestFigures {
            breached,
            answered_minutes,
        }
    }

    #[test]
    fn open_requests_count_but_have_no_response_time() {
        let s = Summary::of([req(false, Some(30)), req(true, Some(90)), req(false, None)]);
        assert_eq!((s.requests, s.answered, s.breached), (3, 2, 1));
        assert_eq!(s.compliance_percent, Some(66.7));
        assert_eq!((s.median_minutes, s.p95_minutes), (Some(30), Some(90)));
    }

    #[test]
    fn nothing_to_summarise() {
        let s = Summary::of([]);
        assert_eq!(
            (s.requests, s.compliance_percent, s.median_minutes),
            (0, None, None)
        );
    }
}
