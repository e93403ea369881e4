//! The Russian production calendar in xmlcalendar format (see
//! `data/calendars/README.md`): which dates are days off, shortened or worked.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// What the production calendar says of one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionDay {
    /// `t="1"`: a holiday or a transferred day off.
    Off,
    /// `t="2"`: worked, ending `shortened_day_minutes` earlier.
    Shortened,
    /// `t="3"`, or a weekend date named in an `f` attribute: worked.
    Worked,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductionCalendar {
    pub days: BTreeMap<NaiveDate, ProductionDay>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlCalendarError {
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
}

impl ProductionCalendar {
    /// Parses one xmlcalendar document and merges its days into `self`.
    pub fn merge_xml(&mut self, xml: &str) -> Result<(), XmlCalendarError> {
        let _ = xml;
        todo!("xmlcalendar parser")
    }
}
