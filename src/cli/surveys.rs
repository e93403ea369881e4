//! `buhbot surveys`: start a campaign by hand, list campaigns, show one's
//! results (text or CSV), close one. A campaign started here is queued in
//! the store; the running daemon's sender posts it.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use super::shell::open_store;
use crate::bot::survey_steps::{Skipped, start_campaign};
use crate::config::Config;
use crate::core::engine::Engine;
use crate::domain::survey::Results;
use crate::domain::survey_text::{ResultRow, results_csv, results_text};
use crate::store::surveys::{self, StartedBy};
use crate::store::write_tx;

#[derive(Debug, Args)]
pub struct SurveysArgs {
    #[command(subcommand)]
    pub cmd: SurveysCmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SurveyFormat {
    Text,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum SurveysCmd {
    /// Start a campaign now: to the given chats, or (without --chat) to
    /// every monitored chat with a client request within [surveys]
    /// activity_days; chats surveyed within cooldown_hours are skipped
    Start {
        /// A chat to survey (repeatable)
        #[arg(long = "chat", value_name = "ID", allow_hyphen_values = true)]
        chats: Vec<i64>,
    },
    /// List the campaigns, newest first, with their results
    List,
    /// A campaign's results per chat and in total: votes per rating,
    /// average, response rate, NPS-like split (promoters 5, passives 4,
    /// detractors 1-3)
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: SurveyFormat,
    },
    /// Close a campaign before its validity ends
    Close { id: i64 },
}

fn when(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

pub fn run(config: &Config, args: &SurveysArgs) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let mut conn = store.conn()?;
    let engine = Engine::from_config_and_store(std::sync::Arc::new(config.clone()), &conn)?;
    match &args.cmd {
        SurveysCmd::Start { chats } => {
            let tx = write_tx(&mut conn)?;
            let started = start_campaign(&tx, &engine, None, StartedBy::Cli, chats, Utc::now())?;
            tx.commit()?;
            for (chat, why) in &started.skipped {
                let why = match why {
                    Skipped::NotMonitored => "not a monitored chat",
                    Skipped::Cooldown => "surveyed within [surveys] cooldown_hours",
                };
                println!("chat {chat} skipped: {why}");
            }
            let id = started
                .campaign
                .context("no chat to survey: nothing started")?;
            println!(
                "survey campaign {id} started in {} chat(s); the daemon posts it",
                started.chats.len()
            );
        }
        SurveysCmd::List => {
            println!(
                "{:<5} {:<9} {:<26} {:<26} {:>5} {:>9} {:>5} {:>7}",
                "ID", "BY", "STARTED", "CLOSES", "CHATS", "RESPONSE", "VOTES", "AVERAGE"
            );
            for c in surveys::campaigns(&conn)? {
                let mut total = Results::default();
                for r in surveys::results_of(&conn, c.id)? {
                    total.merge(&r.results);
                }
                println!(
                    "{:<5} {:<9} {:<26} {:<26} {:>5} {:>9} {:>5} {:>7}{}",
                    c.id,
                    crate::store::codec::StoredEnum::as_str(c.started_by),
                    when(c.started_at),
                    when(c.closes_at),
                    total.chats,
                    total
                        .response_rate()
                        .map_or_else(|| "-".into(), |x| format!("{:.0}%", x * 100.0)),
                    total.total(),
                    total
                        .average()
                        .map_or_else(|| "-".into(), |a| format!("{a:.2}")),
                    if c.is_open() { "" } else { " (closed)" }
                );
            }
        }
        SurveysCmd::Show { id, format } => {
            surveys::campaign(&conn, *id)?.with_context(|| format!("no survey campaign {id}"))?;
            let per_chat = surveys::results_of(&conn, *id)?;
            let mut total = Results::default();
            let titles: Vec<String> = per_chat
                .iter()
                .map(|r| {
                    total.merge(&r.results);
                    engine.chat_title(r.chat_id).unwrap_or("").to_string()
                })
                .collect();
            let mut rows: Vec<ResultRow<'_>> = per_chat
                .iter()
                .zip(&titles)
                .map(|(r, t)| ResultRow {
                    scope: r.chat_id.to_string(),
                    title: t,
                    results: &r.results,
                })
                .collect();
            rows.push(ResultRow {
                scope: "all".into(),
                title: "",
                results: &total,
            });
            match format {
                SurveyFormat::Csv => print!("{}", results_csv(&rows)),
                SurveyFormat::Text => print!("{}", results_text(&rows)),
            }
        }
        SurveysCmd::Close { id } => {
            let tx = write_tx(&mut conn)?;
            let closed = surveys::close(&tx, *id, Utc::now().timestamp())?;
            tx.commit()?;
            if closed {
                println!("survey campaign {id} closed");
            } else {
                println!("survey campaign {id} was closed already");
            }
        }
    }
    Ok(())
}
