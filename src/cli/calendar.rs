//! `buhbot calendar minutes|deadline|show`.

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use clap::Subcommand;

use crate::config::Config;
use crate::domain::calendar::Calendar;

#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// Print the working minutes between two instants
    Minutes {
        /// Start, RFC 3339 with an offset (2025-01-10T17:55:00+03:00)
        #[arg(long, value_parser = parse_instant)]
        from: DateTime<Utc>,
        /// End, RFC 3339 with an offset
        #[arg(long, value_parser = parse_instant)]
        to: DateTime<Utc>,
        /// Use this chat's calendar
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
    },
    /// Print the instant (UTC) at which N working minutes have elapsed
    Deadline {
        /// Start, RFC 3339 with an offset
        #[arg(long, value_parser = parse_instant)]
        from: DateTime<Utc>,
        /// Working minutes
        #[arg(long)]
        minutes: u32,
        /// Use this chat's calendar
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
    },
    /// Print the working intervals of each day
    Show {
        /// First date (YYYY-MM-DD)
        #[arg(long)]
        from: NaiveDate,
        /// Number of days
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Use this chat's calendar
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
    },
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{e}: expected RFC 3339 with an offset, e.g. 2025-01-13T09:05:00+03:00")
        })
}

fn calendar(config: &Config, chat: Option<i64>) -> anyhow::Result<Calendar> {
    if let Some(id) = chat
        && !config.chats.contains_key(&id)
    {
        anyhow::bail!("chat {id} is not configured ([[chats]] has no entry with this id)");
    }
    Ok(Calendar::new(config.chat_calendar(chat).clone()))
}

pub fn run(config: &Config, cmd: &CalendarCmd) -> anyhow::Result<()> {
    match *cmd {
        CalendarCmd::Minutes { from, to, chat } => {
            println!("{}", calendar(config, chat)?.working_minutes(from, to));
        }
        CalendarCmd::Deadline {
            from,
            minutes,
            chat,
        } => {
            let deadline = calendar(config, chat)?
                .deadline(from, minutes)
                .context("the calendar has no working time left after this instant")?;
            println!("{}", deadline.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        CalendarCmd::Show { from, days, chat } => {
            let cal = calendar(config, chat)?;
            let tz = cal.timezone();
            println!("calendar {tz}");
            for date in from.iter_days().take(days as usize) {
                let intervals = cal.day_intervals(date);
                let total: i64 = intervals.iter().map(|(a, b)| (*b - *a).num_seconds()).sum();
                let shown: Vec<String> = intervals
                    .iter()
                    .map(|(a, b)| {
                        let (a, b) = (a.with_timezone(&tz), b.with_timezone(&tz));
                        let day_mark = if b.date_naive() != date { " (+1)" } else { "" };
                        format!("{}-{}{day_mark}", a.format("%H:%M"), b.format("%H:%M"))
                    })
                    .collect();
                let hours = if shown.is_empty() {
                    "day off".to_string()
                } else {
                    format!(
                        "{}  ({}h{:02}m)",
                        shown.join(" "),
                        total / 3600,
                        total % 3600 / 60
                    )
                };
                println!("{date} {}  {hours}", date.weekday());
            }
        }
    }
    Ok(())
}
