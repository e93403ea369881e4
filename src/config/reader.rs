//! Walks figment's merged value tree key by key, so that every problem of a
//! configuration is reported at once, each with its key and where it came
//! from (the file, or the environment variable).

use std::fmt;
use std::path::PathBuf;

use figment::Figment;
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, with `[i]` for array elements: `chats[1].calendar.week.mon`.
    pub key: String,
    /// The file or environment variable the value came from, if known.
    pub origin: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Collects problems while sections are read.
pub struct Problems<'f> {
    figment: &'f Figment,
    pub list: Vec<Problem>,
}

impl<'f> Problems<'f> {
    pub fn new(figment: &'f Figment) -> Self {
        Problems {
            figment,
            list: Vec::new(),
        }
    }

    /// Where a value came from: the TOML file's path or the env variable.
    fn origin(&self, key: &str, value: Option<&Value>) -> Option<String> {
        let meta = value.and_then(|v| self.figment.get_metadata(v.tag()))?;
        match &meta.source {
            // figment shortens paths relative to the working directory
            // (under systemd that is `/`); sysadmins want the real path.
            Some(figment::Source::File(path)) if path.is_relative() => std::env::current_dir()
                .map(|d| d.join(path).display().to_string())
                .ok(),
            Some(figment::Source::File(path)) => Some(path.display().to_string()),
            _ if meta.name.contains("environment") => Some(format!(
                "environment variable BUHBOT_{}",
                key.replace('.', "__").to_uppercase()
            )),
            _ => Some(meta.name.to_string()),
        }
    }

    pub fn push(&mut self, key: &str, value: Option<&Value>, message: impl Into<String>) {
        let problem = Problem {
            key: key.to_string(),
            origin: self.origin(key, value),
            message: message.into(),
        };
        // A chat inherits the global calendar's values, so a bad global value
        // is seen once per chat; report it once.
        if !self.list.contains(&problem) {
            self.list.push(problem);
        }
    }
}

/// A table of the configuration at a known key path.
#[derive(Clone, Copy)]
pub struct Table<'v> {
    pub path: &'v str,
    dict: Option<&'v Dict>,
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'v> Table<'v> {
    /// Wraps `value` (absent = an empty table), checking that it is a table
    /// holding only `allowed` keys.
    pub fn new(
        problems: &mut Problems<'_>,
        path: &'v str,
        value: Option<&'v Value>,
        allowed: &[&str],
    ) -> Table<'v> {
        let dict = match value {
            None => None,
            Some(Value::Dict(_, dict)) => Some(dict),
            Some(other) => {
                problems.push(path, Some(other), "expected a table");
                None
            }
        };
        for (key, v) in dict.into_iter().flatten() {
            if !allowed.contains(&key.as_str()) {
                let mut known = allowed.to_vec();
                known.sort_unstable();
                problems.push(
                    &join(path, key),
                    Some(v),
                    format!("unknown key (known keys here: {})", known.join(", ")),
                );
            }
        }
        Table { path, dict }
    }

    pub fn raw(&self, key: &str) -> Option<&'v Value> {
        self.dict.and_then(|d| d.get(key))
    }

    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// Reads `key` as a `T`; a wrong type is recorded and yields `None`.
    pub fn get<T: DeserializeOwned>(&self, problems: &mut Problems<'_>, key: &str) -> Option<T> {
        let value = self.raw(key)?;
        match value.deserialize::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(&join(self.path, key), Some(value), e.kind.to_string());
                None
            }
        }
    }

    /// Reads an integer and checks it lies in `range`.
    pub fn int_in(
        &self,
        problems: &mut Problems<'_>,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let v: u32 = self.get(problems, key)?;
        if range.contains(&v) {
            Some(v)
        } else {
            problems.push(
                &join(self.path, key),
                self.raw(key),
                format!(
                    "must be between {} and {}, got {v}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

/// A 6-field cron expression at `key` (checked), or `default`.
pub(super) fn cron(problems: &mut Problems<'_>, t: &Table<'_>, key: &str, default: &str) -> String {
    let Some(expr) = t.get::<String>(problems, key) else {
        return default.to_string();
    };
    if let Err(e) = crate::domain::schedule::parse_cron(&expr) {
        problems.push(&join(t.path, key), t.raw(key), e.to_string());
    }
    expr
}

/// An absolute path at `key`, or `default`.
pub(super) fn path(
    problems: &mut Problems<'_>,
    t: &Table<'_>,
    key: &str,
    default: PathBuf,
) -> PathBuf {
    match t.get::<String>(problems, key) {
        Some(p) if PathBuf::from(&p).is_absolute() => PathBuf::from(p),
        Some(p) => {
            problems.push(
                &join(t.path, key),
                t.raw(key),
                format!("{p:?} must be an absolute path"),
            );
            default
        }
        None => default,
    }
}
