//! The `[calendar]` section (also a chat's `calendar` table).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use figment::value::Value;

use super::reader::{Problems, Table, join};
use crate::domain::calendar::{CalendarSpec, Interval, ProductionCalendar};

pub const KEYS: &[&str] = &[
    "timezone",
    "always_open",
    "week",
    "holidays",
    "workdays",
    "production_calendar",
    "shortened_day_minutes",
];
/// The keys of a `week` table.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// The keys of one `[[calendar.workdays]]` entry.
pub const WORKDAY_KEYS: &[&str] = &["date", "hours"];

/// Production calendar files already read, so chats sharing them read once.
#[derive(Default)]
pub struct XmlCache(HashMap<PathBuf, Result<ProductionCalendar, String>>);

/// Reads a calendar from `layers`, most general first: for each key the last
/// layer that sets it wins (a chat's `calendar` overrides keys of the global
/// `[calendar]` one by one). `base_dir` resolves relative file paths.
pub fn read(
    problems: &mut Problems<'_>,
    layers: &[Table<'_>],
    base_dir: &Path,
    cache: &mut XmlCache,
) -> CalendarSpec {
    let mut spec = CalendarSpec::default();
    let pick = |key: &str| layers.iter().rev().find(|t| t.has(key)).copied();

    if let Some(t) = pick("timezone")
        && let Some(name) = t.get::<String>(problems, "timezone")
    {
        match chrono_tz::Tz::from_str(name.trim()) {
            Ok(tz) => spec.timezone = tz,
            Err(_) => problems.push(
                &join(t.path, "timezone"),
                t.raw("timezone"),
                format!("unknown IANA time zone {name:?}"),
            ),
        }
    }
    if let Some(t) = pick("always_open")
        && let Some(v) = t.get::<bool>(problems, "always_open")
    {
        spec.always_open = v;
    }
    if let Some(t) = pick("shortened_day_minutes")
        && let Some(v) = t.int_in(problems, "shortened_day_minutes", 0..=720)
    {
        spec.shortened_day_minutes = v;
    }
    if let Some(t) = pick("week") {
        let path = join(t.path, "week");
        let week = Table::new(problems, &path, t.raw("week"), &DAYS);
        for (i, day) in DAYS.iter().enumerate() {
            spec.week[i] = week
                .raw(day)
                .map(|v| intervals(problems, &join(&path, day), v))
                .unwrap_or_default();
        }
    }
    if let Some(t) = pick("holidays") {
        spec.holidays = dates(problems, &join(t.path, "holidays"), t.raw("holidays"));
    }
    if let Some(t) = pick("workdays") {
        spec.workdays = workdays(problems, &join(t.path, "workdays"), t.raw("workdays"));
        for date in spec
            .holidays
            .intersection(&spec.workdays.keys().copied().collect())
        {
            problems.push(
                &join(t.path, "workdays"),
                t.raw("workdays"),
                format!("{date} is listed both as a holiday and as a workday"),
            );
        }
    }
    if let Some(t) = pick("production_calendar")
        && let Some(files) = t.get::<Vec<String>>(problems, "production_calendar")
    {
        let key = join(t.path, "production_calendar");
        for (i, file) in files.iter().enumerate() {
            let path = base_dir.join(file);
            let loaded = cache
                .0
                .entry(path.clone())
                .or_insert_with(|| load_xml(&path));
            match loaded {
                Ok(days) => spec.production.days.extend(&days.days),
                Err(e) => problems.push(
                    &format!("{key}[{i}]"),
                    t.raw("production_calendar"),
                    e.clone(),
                ),
            }
        }
    }
    spec
}

fn load_xml(path: &Path) -> Result<ProductionCalendar, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cal = ProductionCalendar::default();
    cal.merge_xml(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cal)
}

/// A list of `HH:MM-HH:MM` strings: sorted, and rejected if they overlap.
fn intervals(problems: &mut Problems<'_>, key: &str, value: &Value) -> Vec<Interval> {
    let Ok(list) = value.deserialize::<Vec<String>>() else {
        problems.push(
            key,
            Some(value),
            "expected a list of \"HH:MM-HH:MM\" strings",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        match Interval::parse(s) {
            Ok(iv) => out.push(iv),
            Err(e) => problems.push(&format!("{key}[{i}]"), Some(value), e.to_string()),
        }
    }
    out.sort();
    for pair in out.windows(2) {
        if pair[1].start < pair[0].end {
            problems.push(
                key,
                Some(value),
                format!("intervals {} and {} overlap", pair[0], pair[1]),
            );
        }
    }
    out
}

/// A TOML date literal or a `YYYY-MM-DD` string.
fn date(value: &Value) -> Option<NaiveDate> {
    let text = match value {
        Value::String(_, s) => s.clone(),
        // figment keeps TOML date literals as a one-key table.
        Value::Dict(_, d) if d.len() == 1 => d.values().next()?.as_str()?.to_string(),
        _ => return None,
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

fn dates(problems: &mut Problems<'_>, key: &str, value: Option<&Value>) -> BTreeSet<NaiveDate> {
    let mut out = BTreeSet::new();
    let Some(Value::Array(_, list)) = value else {
        problems.push(key, value, "expected a list of dates (\"YYYY-MM-DD\")");
        return out;
    };
    for (i, v) in list.iter().enumerate() {
        match date(v) {
            Some(d) => {
                out.insert(d);
            }
            None => problems.push(
                &format!("{key}[{i}]"),
                Some(v),
                "expected a date \"YYYY-MM-DD\"",
            ),
        }
    }
    out
}

fn workdays(
    problems: &mut Problems<'_>,
    key: &str,
    value: Option<&Value>,
) -> BTreeMap<NaiveDate, Option<Vec<Interval>>> {
    let mut out = BTreeMap::new();
    let Some(Value::Array(_, list)) = value else {
        problems.push(
            key,
            value,
            "expected an array of tables ([[calendar.workdays]])",
        );
        return out;
    };
    for (i, v) in list.iter().enumerate() {
        let path = format!("{key}[{i}]");
        let t = Table::new(problems, &path, Some(v), WORKDAY_KEYS);
        let Some(d) = t.raw("date").and_then(date) else {
            problems.push(
                &join(&path, "date"),
                t.raw("date").or(Some(v)),
                "expected a date \"YYYY-MM-DD\"",
            );
            continue;
        };
        let hours = t
            .raw("hours")
            .map(|h| intervals(problems, &join(&path, "hours"), h));
        if out.insert(d, hours).is_some() {
            problems.push(&path, Some(v), format!("{d} is listed twice"));
        }
    }
    out
}

/// Reads a chat's calendar snippet (the keys of `[calendar]`, as stored in
/// `working_schedules`) over `base`: keys the snippet sets replace the
/// base's, the others are inherited, exactly as a `[[chats]]` entry's
/// `calendar` table layers over the global `[calendar]`. A snippet wrapped
/// in a `[calendar]` header is accepted too, so an excerpt of a
/// configuration file can be used as is.
pub fn read_snippet(
    text: &str,
    base: &CalendarSpec,
    base_dir: &Path,
) -> Result<CalendarSpec, Vec<super::Problem>> {
    use figment::providers::{Format, Toml};
    let figment = figment::Figment::from(Toml::string(text));
    let root: Value = figment.extract().map_err(|e| {
        vec![super::Problem {
            key: "calendar".into(),
            origin: None,
            message: e.to_string(),
        }]
    })?;
    let inner = match &root {
        Value::Dict(_, d) if d.len() == 1 && d.contains_key("calendar") => &d["calendar"],
        other => other,
    };
    let mut problems = Problems::new(&figment);
    let table = Table::new(&mut problems, "calendar", Some(inner), KEYS);
    let own = read(&mut problems, &[table], base_dir, &mut XmlCache::default());
    let mut spec = base.clone();
    // Only the keys the snippet sets replace the base's.
    if table.has("timezone") {
        spec.timezone = own.timezone;
    }
    if table.has("always_open") {
        spec.always_open = own.always_open;
    }
    if table.has("shortened_day_minutes") {
        spec.shortened_day_minutes = own.shortened_day_minutes;
    }
    if table.has("week") {
        spec.week = own.week;
    }
    if table.has("holidays") {
        spec.holidays = own.holidays;
    }
    if table.has("workdays") {
        spec.workdays = own.workdays;
    }
    if table.has("production_calendar") {
        spec.production = own.production;
    }
    // The snippet has no file of its own: origins would only name figment's
    // string source.
    let list: Vec<super::Problem> = problems
        .list
        .into_iter()
        .map(|p| super::Problem { origin: None, ..p })
        .collect();
    if list.is_empty() { Ok(spec) } else { Err(list) }
}
