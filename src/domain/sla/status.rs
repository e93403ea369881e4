//! Where a request stands, and how its alerts ended. Their spelling in the
//! database is the store's (`store::requests`, `store::alerts`).

/// A client request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestStatus {
    /// Waiting for an answer: the SLA clock runs.
    Open,
    /// An accountant answered in the chat.
    Answered,
    /// Marked resolved by staff (an alert button) without an answer.
    Resolved,
}

/// How a request is closed: the status it gets, and the resolution its
/// fired alerts get (the same word for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Closing {
    Answered,
    Resolved,
}

impl Closing {
    pub fn status(self) -> RequestStatus {
        match self {
            Closing::Answered => RequestStatus::Answered,
            Closing::Resolved => RequestStatus::Resolved,
        }
    }

    pub fn resolution(self) -> Resolution {
        match self {
            Closing::Answered => Resolution::Answered,
            Closing::Resolved => Resolution::Resolved,
        }
    }
}

/// How a fired alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Its request was answered.
    Answered,
    /// Its request was marked resolved.
    Resolved,
    /// Nobody acted on it (allowed by the schema; not written today).
    Expired,
}
