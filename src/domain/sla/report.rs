//! The lines of an SLA report: a [`Summary`] per group of requests (a chat,
//! an accountant, the total) with its open requests. `buhbot report sla`
//! and the weekly digest build them alike.

use super::{RequestFigures, Summary};

/// The figures of one group of requests.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Line {
    pub id: i64,
    pub name: Option<String>,
    #[serde(flatten)]
    pub summary: Summary,
    /// Not answered as of the report's instant (breached or not).
    pub open: usize,
    /// Of those, still within their deadline.
    pub open_in_time: usize,
}

/// Collects a group's requests into a [`Line`].
#[derive(Debug, Default)]
pub struct Group {
    figures: Vec<RequestFigures>,
    open: usize,
    open_in_time: usize,
}

impl Group {
    pub fn add(&mut self, f: RequestFigures, open: bool) {
        self.figures.push(f);
        self.open += usize::from(open);
        self.open_in_time += usize::from(open && !f.breached);
    }

    pub fn line(self, id: i64, name: Option<String>) -> Line {
        Line {
            id,
            name,
            summary: Summary::of(self.figures),
            open: self.open,
            open_in_time: self.open_in_time,
        }
    }
}
