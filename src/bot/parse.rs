//! Parsing of the bot's commands (pure: text in, [`Command`] out).
//!
//! Telegram sends a command as the message text, optionally addressed to
//! one bot in a group (`/sla@buhbot_bot 30`); a command addressed to
//! another bot is not ours and is ignored rather than refused.

use crate::domain::calendar::Interval;

/// The keys of a `[calendar.week]` table, Monday first (as the
/// configuration reader expects them).
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One bot command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Diagnose,
    MyStats,
    MyChats,
    Open,
    Sla(Sla),
    Accountant {
        add: bool,
        target: Target,
    },
    Hours(Hours),
    /// `/template NAME` or `/t NAME`: post a reply template.
    Template(String),
    /// `/menu`: the client menu's buttons.
    Menu,
}

/// `/sla on|off|N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    On,
    Off,
    /// The response threshold in working minutes (range-checked by the
    /// store, which knows the valid range).
    Threshold(i64),
}

/// Whom `/accountant` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A mention as written after the command: `@username` (kept with its
    /// `@`) or a name for a text mention of a user without a username.
    Mention(String),
    /// No argument: the author of the message the command replies to.
    RepliedTo,
}

/// Weekly working hours, Monday first; a day without intervals is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub week: [Vec<Interval>; 7],
}

impl Hours {
    /// The calendar snippet for the store: a `[calendar.week]` table, read
    /// over the configuration's `[calendar]` (only `week` is replaced, so
    /// the zone and holidays stay as configured).
    pub fn snippet(&self) -> String {
        let mut out = String::from("[calendar.week]\n");
        for (day, intervals) in DAYS.iter().zip(&self.week) {
            if intervals.is_empty() {
                continue;
            }
            let list: Vec<String> = intervals.iter().map(|i| format!("\"{i}\"")).collect();
            out.push_str(&format!("{day} = [{}]\n", list.join(", ")));
        }
        out
    }
}

/// Why a command was not understood. `Display` is for logs; the user gets
/// [`ParseError::hint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command /{0}")]
    Unknown(String),
    #[error("bad arguments for /{command}: {reason}")]
    Usage {
        command: &'static str,
        reason: String,
    },
}

pub const USAGE_SLA: &str = "/sla on, /sla off или /sla 30 (порог ответа в рабочих минутах)";
pub const USAGE_ACCOUNTANT: &str = "/accountant add @username или /accountant remove @username \
     (либо ответом на сообщение сотрудника без @username)";
pub const USAGE_TEMPLATE: &str =
    "/template НАЗВАНИЕ или /t НАЗВАНИЕ (ответом на сообщение клиента — чтобы обратиться к нему)";
pub const USAGE_HOURS: &str = "/hours mon-fri 09:00-18:00; несколько интервалов: \
     /hours mon-fri 09:00-13:00 14:00-18:00; разные дни: /hours mon,wed 10:00-17:00 sat 10:00-14:00";

impl ParseError {
    /// A Russian hint for the user.
    pub fn hint(&self) -> String {
        match self {
            ParseError::Unknown(_) => "Такой команды нет. Список команд: /help".to_string(),
            ParseError::Usage { command, .. } => {
                let usage = match *command {
                    "sla" => USAGE_SLA,
                    "accountant" => USAGE_ACCOUNTANT,
                    "hours" => USAGE_HOURS,
                    "template" => USAGE_TEMPLATE,
                    _ => "/help",
                };
                format!("Не удалось разобрать команду. Формат: {usage}")
            }
        }
    }
}

/// [`ParseError::hint`], escaped for Telegram HTML.
pub fn escape_hint(e: &ParseError) -> String {
    crate::domain::render::escape_html(&e.hint())
}

fn usage(command: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Usage {
        command,
        reason: reason.into(),
    }
}

/// Parses a message text. `Ok(None)`: not a command, or a command for
/// another bot. `bot_username` (without `@`) is compared case-insensitively;
/// with `None` any `@suffix` is accepted.
pub fn parse(text: &str, bot_username: Option<&str>) -> Result<Option<Command>, ParseError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else {
        return Ok(None);
    };
    let (head, args) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(h, a)| (h, a.trim()));
    let (name, addressee) = head
        .split_once('@')
        .map_or((head, None), |(n, b)| (n, Some(b)));
    if let (Some(to), Some(me)) = (addressee, bot_username)
        && !to.eq_ignore_ascii_case(me.trim_start_matches('@'))
    {
        return Ok(None);
    }
    if name.is_empty() {
        return Ok(None);
    }
    let name = name.to_ascii_lowercase();
    let simple = |cmd: Command| {
        // Arguments to argument-less commands are ignored: harmless, and
        // people do type "/help please".
        Ok(Some(cmd))
    };
    match name.as_str() {
        "start" => simple(Command::Start),
        "help" => simple(Command::Help),
        "diagnose" => simple(Command::Diagnose),
        "mystats" => simple(Command::MyStats),
        "mychats" => simple(Command::MyChats),
        "open" => simple(Command::Open),
        "menu" => simple(Command::Menu),
        "sla" => parse_sla(args).map(|s| Some(Command::Sla(s))),
        "accountant" => parse_accountant(args).map(Some),
        "hours" => parse_hours(args).map(|h| Some(Command::Hours(h))),
        "template" | "t" if args.is_empty() => Err(usage("template", "no template name")),
        "template" | "t" => Ok(Some(Command::Template(args.to_string()))),
        _ => Err(ParseError::Unknown(name)),
    }
}

fn parse_sla(args: &str) -> Result<Sla, ParseError> {
    match args.to_lowercase().as_str() {
        "on" | "вкл" => Ok(Sla::On),
        "off" | "выкл" => Ok(Sla::Off),
        "" => Err(usage("sla", "no argument")),
        n => n
            .parse::<i64>()
            .map(Sla::Threshold)
            .map_err(|_| usage("sla", format!("{n:?} is neither on, off nor a number"))),
    }
}

fn parse_accountant(args: &str) -> Result<Command, ParseError> {
    let (verb, who) = args
        .split_once(char::is_whitespace)
        .map_or((args, ""), |(v, w)| (v, w.trim()));
    let add = match verb.to_lowercase().as_str() {
        "add" | "добавить" => true,
        "remove" | "del" | "удалить" => false,
        other => return Err(usage("accountant", format!("unknown action {other:?}"))),
    };
    let target = if who.is_empty() {
        Target::RepliedTo
    } else if who.starts_with('@') && (who.contains(char::is_whitespace) || who.len() < 2) {
        return Err(usage("accountant", "one @username expected"));
    } else {
        Target::Mention(who.to_string())
    };
    Ok(Command::Accountant { add, target })
}

/// Russian day abbreviations, Monday first (also how reports name days).
pub const DAYS_RU: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];

/// A day name (English or Russian abbreviation) to its index, Monday 0.
fn day_index(s: &str) -> Option<usize> {
    let s = s.to_lowercase();
    DAYS.iter()
        .position(|d| *d == s)
        .or_else(|| DAYS_RU.iter().position(|d| *d == s))
}

/// `mon-fri`, `mon,wed`, `sat-sun`, `fri-mon` (a range may wrap the week).
fn parse_days(token: &str) -> Result<Vec<usize>, ParseError> {
    let bad = |what: &str| usage("hours", format!("bad day {what:?}"));
    let mut days = Vec::new();
    for item in token.split(',').filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let a = day_index(a).ok_or_else(|| bad(a))?;
                let b = day_index(b).ok_or_else(|| bad(b))?;
                let mut d = a;
                loop {
                    days.push(d);
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day_index(item).ok_or_else(|| bad(item))?),
        }
    }
    Ok(days)
}

/// `/hours` arguments: groups of days, each followed by its intervals.
fn parse_hours(args: &str) -> Result<Hours, ParseError> {
    let mut week: [Vec<Interval>; 7] = Default::default();
    let mut seen = [false; 7];
    let mut current: Vec<usize> = Vec::new();
    let mut current_has_hours = true;
    for token in args.split(|c: char| c.is_whitespace() || c == ';') {
        if token.is_empty() {
            continue;
        }
        if token.contains(':') {
            if current.is_empty() {
                return Err(usage("hours", "hours before the days"));
            }
            for part in token.split(',').filter(|s| !s.is_empty()) {
                let interval = Interval::parse(part).map_err(|e| usage("hours", e.to_string()))?;
                for &d in &current {
                    week[d].push(interval);
                }
            }
            current_has_hours = true;
        } else {
            if !current_has_hours {
                return Err(usage(
                    "hours",
                    format!("no hours for the days before {token:?}"),
                ));
            }
            current = parse_days(token)?;
            for &d in &current {
                if std::mem::replace(&mut seen[d], true) {
                    return Err(usage("hours", format!("{} is given twice", DAYS[d])));
                }
            }
            current_has_hours = false;
        }
    }
    if current.is_empty() || !current_has_hours {
        return Err(usage("hours", "days and hours expected"));
    }
    for (d, intervals) in week.iter_mut().enumerate() {
        intervals.sort();
        if intervals.windows(2).any(|w| w[1].start < w[0].end) {
            return Err(usage("hours", format!("overlapping hours on {}", DAYS[d])));
        }
    }
    Ok(Hours { week })
}
