//! `buhbot replay EXPORT.json`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::export;
use crate::replay::{self, ChatSelector, Format, ReplayError, ReplayOptions};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// result.json of a Telegram Desktop JSON export (one chat, or a full
    /// account export), or the export's directory
    pub export: PathBuf,
    /// A Telegram user id of one of the chat's accountants (repeatable)
    #[arg(long = "accountant", value_name = "ID")]
    pub accountants: Vec<i64>,
    /// A Telegram user id of a manager (repeatable)
    #[arg(long = "manager", value_name = "ID")]
    pub managers: Vec<i64>,
    /// A Telegram user id of the bot itself (repeatable)
    #[arg(long = "bot", value_name = "ID")]
    pub bots: Vec<i64>,
    /// End of the replay (RFC 3339) [default: the date of the last message]
    #[arg(long, value_parser = parse_instant)]
    pub until: Option<DateTime<Utc>>,
    /// Zone of local dates in exports without date_unixtime [default: the calendar's]
    #[arg(long, value_name = "ZONE")]
    pub export_timezone: Option<Tz>,
    /// Only this group chat of the export: its id (Bot-API -100… or the
    /// export's own) or its name
    #[arg(long, value_name = "ID|NAME", allow_hyphen_values = true)]
    pub chat: Option<ChatSelector>,
    /// Output format (json: one object per chat and line)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(super) fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected RFC 3339 with an offset"))
}

pub fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let (file, name) = export::open_export(&args.export).map_err(ReplayError::from)?;
    let opts = ReplayOptions {
        accountants: args.accountants.clone(),
        managers: args.managers.clone(),
        bots: args.bots.clone(),
        until: args.until,
        export_tz: args.export_timezone,
        chat: args.chat.clone(),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut first = true;
    let mut write_err = None;
    let outcome = replay::replay(file, &name, config, &opts, &mut |report| {
        if write_err.is_none()
            && let Err(e) = replay::render(&mut out, &report, args.format, first)
        {
            write_err = Some(e);
        }
        first = false;
    })?;
    if let Some(e) = write_err {
        return Err(e).context("cannot write the report");
    }
    out.flush().context("cannot write the report")?;
    // On stderr, so that the report on stdout stays one format.
    for s in &outcome.skipped {
        eprintln!(
            "buhbot: {name}: skipped {}: {}",
            replay::describe(&s.chat),
            s.reason
        );
    }
    Ok(())
}
