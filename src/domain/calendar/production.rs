//! The Russian production calendar in xmlcalendar format (see
//! `data/calendars/README.md`): which dates are days off, shortened or worked.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

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

/// 1-based line of a byte offset; quick-xml only reports byte positions.
fn line_of(xml: &str, pos: u64) -> usize {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(xml.len());
    xml.as_bytes()[..pos]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `MM.DD` in `year`.
fn parse_md(year: i32, s: &str) -> Option<NaiveDate> {
    let (m, d) = s.split_once('.')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, m.parse().ok()?, d.parse().ok()?)
}

fn attrs(e: &BytesStart<'_>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value().map_err(|err| err.to_string())?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

impl ProductionCalendar {
    /// Parses one xmlcalendar document and merges its days into `self`.
    ///
    /// Nothing is merged when the document is invalid, so a bad file never
    /// leaves a half-imported year behind.
    pub fn merge_xml(&mut self, xml: &str) -> Result<(), XmlCalendarError> {
        let mut reader = Reader::from_str(xml);
        let mut year: Option<i32> = None;
        let mut listed: BTreeMap<NaiveDate, ProductionDay> = BTreeMap::new();
        // `f` sources, kept to apply the README's quirk once the whole file
        // is known (the source may be listed after the date naming it).
        let mut sources: Vec<(NaiveDate, usize)> = Vec::new();
        let mut seen_in_file: BTreeSet<NaiveDate> = BTreeSet::new();
        loop {
            let pos = reader.buffer_position();
            let ev = reader
                .read_event()
                .map_err(|err| XmlCalendarError::Invalid {
                    line: line_of(xml, reader.error_position()),
                    message: err.to_string(),
                })?;
            let line = line_of(xml, pos);
            let bad = |message: String| XmlCalendarError::Invalid { line, message };
            match ev {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                    b"calendar" => {
                        let a = attrs(&e).map_err(bad)?;
                        let y = a
                            .get("year")
                            .ok_or_else(|| bad("<calendar> without a year attribute".into()))?;
                        let y: i32 = y
                            .parse()
                            .ok()
                            .filter(|y| (1900..=2200).contains(y))
                            .ok_or_else(|| bad(format!("bad calendar year {y:?}")))?;
                        year = Some(y);
                    }
                    b"day" => {
                        let y =
                            year.ok_or_else(|| bad("<day> outside <calendar year=..>".into()))?;
                        let a = attrs(&e).map_err(bad)?;
                        let d = a.get("d").ok_or_else(|| bad("<day> without d".into()))?;
                        let date = parse_md(y, d)
                            .ok_or_else(|| bad(format!("bad date d={d:?} in year {y}")))?;
                        let t = a.get("t").map(String::as_str).unwrap_or("");
                        let kind = match t {
                            "1" => ProductionDay::Off,
                            "2" => ProductionDay::Shortened,
                            "3" => ProductionDay::Worked,
                            other => return Err(bad(format!("bad day type t={other:?}"))),
                        };
                        if let Some(f) = a.get("f") {
                            let src = parse_md(y, f)
                                .ok_or_else(|| bad(format!("bad date f={f:?} in year {y}")))?;
                            sources.push((src, line));
                        }
                        seen_in_file.insert(date);
                        listed.insert(date, kind);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if year.is_none() {
            return Err(XmlCalendarError::Invalid {
                line: line_of(xml, xml.len() as u64),
                message: "no <calendar year=..> element".into(),
            });
        }
        // Data quirk (README): a weekend date only mentioned as a transfer
        // source was worked, e.g. 2024-04-27 and 2024-12-28.
        for (src, _line) in sources {
            let weekend = matches!(src.weekday(), Weekday::Sat | Weekday::Sun);
            if weekend && !seen_in_file.contains(&src) {
                listed.insert(src, ProductionDay::Worked);
            }
        }
        self.days.extend(listed);
        Ok(())
    }
}
