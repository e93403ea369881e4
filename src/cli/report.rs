//! `buhbot report sla`: SLA figures per chat and per accountant over the
//! daemon's store, by the definitions `buhbot replay` uses
//! ([`Summary::of`](crate::domain::sla::Summary::of)), so that both give the same numbers for the same
//! messages.

use std::io::{self, BufWriter, Write};

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Utc};
use clap::{Args, CommandFactory, Subcommand};
use serde::Serialize;

use super::replay::parse_instant;
use super::shell::open_store;
use crate::config::Config;
use crate::core::sla_report::{self, Names, Scope, day_start};
use crate::domain::sla::Line;
use crate::replay::Format;
use crate::store::requests;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub cmd: ReportCmd,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// SLA figures per chat and per accountant (answered_by) over the store:
    /// requests, answered, breached, still open, compliance, median and p95
    /// response in working minutes, as `buhbot replay` defines them
    Sla(SlaArgs),
    /// The weekly digest the managers get ([digest]): last full week's
    /// compliance per accountant and chat, the longest waits, the requests
    /// open now; printed, not sent
    Digest(DigestArgs),
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Compose it as a run at this instant would (RFC 3339): the week
    /// before it, judged as of it [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub at: Option<DateTime<Utc>>,
    /// Print the Telegram HTML as sent instead of plain text
    #[arg(long)]
    pub html: bool,
}

#[derive(Debug, Args)]
pub struct SlaArgs {
    /// First day (YYYY-MM-DD), a local date in the [calendar] timezone;
    /// requests received from its 00:00 count
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last day (YYYY-MM-DD, inclusive), a local date in the [calendar]
    /// timezone; requests received before the next day's 00:00 count
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Only this chat's requests (its Telegram id)
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub chat: Option<i64>,
    /// Only the requests this accountant answered (a Telegram user id)
    #[arg(long, value_name = "ID")]
    pub accountant: Option<i64>,
    /// Judge the requests as of this instant (RFC 3339): a request not yet
    /// answered then is open, and breached once its deadline has passed
    /// [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub at: Option<DateTime<Utc>>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("{e}: expected YYYY-MM-DD"))
}

#[derive(Debug, Serialize)]
struct Report {
    from: NaiveDate,
    to: NaiveDate,
    timezone: String,
    at: String,
    chats: Vec<Line>,
    accountants: Vec<Line>,
    total: Line,
}

pub fn run(config: &Config, cmd: &ReportCmd) -> anyhow::Result<()> {
    let args = match cmd {
        ReportCmd::Sla(args) => args,
        ReportCmd::Digest(args) => return digest(config, args),
    };
    if args.from > args.to {
        // A usage error like clap's own for a malformed date (exit code 2),
        // with the subcommand's usage line.
        let mut cli = super::Cli::command();
        cli.build();
        let sla = cli
            .find_subcommand_mut("report")
            .and_then(|r| r.find_subcommand_mut("sla"))
            .expect("report sla is a subcommand");
        sla.error(
            clap::error::ErrorKind::ValueValidation,
            format!("--from {} is after --to {}", args.from, args.to),
        )
        .exit();
    }
    let store = open_store(config)?;
    let conn = store.conn()?;
    let names = Names::load(&conn, config)?;
    if let Some(chat) = args.chat
        && !config.chats.contains_key(&chat)
        && !names.knows_chat(chat)
        && !requests::any_for_chat(&conn, chat)?
    {
        anyhow::bail!(
            "report sla: unknown chat {chat}: not in the configuration's [[chats]], and the store {} knows nothing of it",
            config.store.path.display()
        );
    }
    let tz = config.calendar.timezone;
    let at = args.at.unwrap_or_else(Utc::now);
    let scope = Scope {
        from: day_start(tz, args.from),
        to: day_start(
            tz,
            args.to.checked_add_days(Days::new(1)).unwrap_or(args.to),
        ),
        chat: args.chat,
        accountant: args.accountant,
        at,
    };
    let built = sla_report::build(&conn, &names, &scope, 0)?;
    let report = Report {
        from: args.from,
        to: args.to,
        timezone: tz.name().to_string(),
        at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        chats: built.chats,
        accountants: built.accountants,
        total: built.total,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Csv => render_csv(&mut out, &report)?,
        Format::Text => render_text(&mut out, &report)?,
    }
    out.flush().context("cannot write the report")
}

fn digest(config: &Config, args: &DigestArgs) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let conn = store.conn()?;
    let at = args.at.unwrap_or_else(Utc::now);
    let composed = crate::core::digest::compose(&conn, config, at)?;
    let text = if args.html {
        composed.html
    } else {
        crate::telegram::html::parse(&composed.html).0
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush().context("cannot write the digest")
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn render_csv(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "scope",
        "id",
        "name",
        "requests",
        "answered",
        "breached",
        "open",
        "open_in_time",
        "compliance_percent",
        "median_minutes",
        "p95_minutes",
    ])?;
    let rows = report.chats.iter().map(|l| ("chat", l));
    let rows = rows.chain(report.accountants.iter().map(|l| ("accountant", l)));
    for (scope, l) in rows.chain([("total", &report.total)]) {
        let s = &l.summary;
        w.write_record([
            scope.to_string(),
            if scope == "total" {
                String::new()
            } else {
                l.id.to_string()
            },
            l.name.clone().unwrap_or_default(),
            s.requests.to_string(),
            s.answered.to_string(),
            s.breached.to_string(),
            l.open.to_string(),
            l.open_in_time.to_string(),
            opt(s.compliance_percent.map(|c| format!("{c:.1}"))),
            opt(s.median_minutes),
            opt(s.p95_minutes),
        ])?;
    }
    w.flush()
}

fn render_text(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(
        out,
        "SLA report {} – {} ({}), as of {}",
        report.from, report.to, report.timezone, report.at
    )?;
    let header = |out: &mut dyn Write, what: &str| {
        writeln!(out)?;
        writeln!(
            out,
            "{what:<40}  {:>8}  {:>8}  {:>8}  {:>6}  {:>10}  {:>6}  {:>6}",
            "requests", "answered", "breached", "open", "compliance", "median", "p95"
        )
    };
    let line = |out: &mut dyn Write, name: String, l: &Line| {
        let s = &l.summary;
        let dash = |v: Option<i64>| v.map_or_else(|| "—".into(), |v| v.to_string());
        writeln!(
            out,
            "{name:<40}  {:>8}  {:>8}  {:>8}  {:>6}  {:>10}  {:>6}  {:>6}",
            s.requests,
            s.answered,
            s.breached,
            l.open,
            s.compliance_percent
                .map_or_else(|| "—".into(), |c| format!("{c:.1} %")),
            dash(s.median_minutes),
            dash(s.p95_minutes),
        )
    };
    header(out, "chat")?;
    for l in &report.chats {
        let name = l
            .name
            .as_ref()
            .map_or_else(|| l.id.to_string(), |n| format!("{n} ({})", l.id));
        line(out, name, l)?;
    }
    header(out, "accountant")?;
    for l in &report.accountants {
        line(out, l.id.to_string(), l)?;
    }
    writeln!(out)?;
    line(out, "total".into(), &report.total)?;
    writeln!(
        out,
        "Open: {} not answered, {} of them still within the deadline (neither answered nor breached).",
        report.total.open, report.total.open_in_time
    )?;
    writeln!(
        out,
        "Minutes are working minutes; median and p95 over answered requests."
    )
}
