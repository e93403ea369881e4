//! `buhbot faq` and `buhbot templates`: the FAQ entries the bot answers
//! clients from, and the reply templates staff post with `/t NAME`. Both
//! live in the store; a running daemon sees a change with its next
//! message (the FAQ index is rebuilt when the entries' revision moves).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::shell::{now, open_store};
use crate::config::Config;
use crate::domain::faq::{is_matchable, split_keywords};
use crate::domain::render::preview;
use crate::domain::template::{VARIABLES, unknown_variables};
use crate::store::{faq, templates, write_tx};

#[derive(Debug, Args)]
pub struct FaqArgs {
    #[command(subcommand)]
    pub cmd: FaqCmd,
}

#[derive(Debug, Subcommand)]
pub enum FaqCmd {
    /// List the entries with their keywords and how often each answered
    List,
    /// Add an entry: a client message with one of its keywords (as a whole
    /// word, any case or ending) is answered with ANSWER
    Add {
        /// The question, shown above the answer
        #[arg(long)]
        question: String,
        /// The answer posted in the chat
        #[arg(long)]
        answer: String,
        /// Keywords or phrases, separated by commas ("акт сверки, сверка")
        #[arg(long)]
        keywords: String,
    },
    /// Remove an entry by its ID (see `buhbot faq list`)
    Remove { id: i64 },
}

#[derive(Debug, Args)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub cmd: TemplatesCmd,
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    /// List the templates and how often each was used
    List,
    /// Add a template NAME; staff post it with `/t NAME`. Variables:
    /// {{clientName}}, {{accountantName}}, {{chatTitle}}, {{date}},
    /// {{time}}, {{nextWorkingDay}}
    Add {
        name: String,
        /// The text
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        text: Option<String>,
        /// Read the text from FILE (for several lines)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Remove the template NAME
    Remove { name: String },
}

pub fn faq(config: &Config, args: &FaqArgs) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let mut conn = store.conn()?;
    match &args.cmd {
        FaqCmd::List => {
            println!("{:<6} {:<6} {:<40} QUESTION", "ID", "USES", "KEYWORDS");
            for r in faq::list(&conn)? {
                println!(
                    "{:<6} {:<6} {:<40} {}{}",
                    r.id,
                    r.usage_count,
                    preview(&r.keywords, 40),
                    preview(&r.question, 60),
                    if r.enabled { "" } else { " (disabled)" }
                );
            }
        }
        FaqCmd::Add {
            question,
            answer,
            keywords,
        } => {
            let list = split_keywords(keywords);
            if list.is_empty() {
                bail!("--keywords: give at least one keyword (separated by commas)");
            }
            if let Some(bad) = list.iter().find(|k| !is_matchable(k)) {
                bail!("--keywords: {bad:?} has no word to match");
            }
            if question.trim().is_empty() || answer.trim().is_empty() {
                bail!("--question and --answer must not be empty");
            }
            let tx = write_tx(&mut conn)?;
            let row = faq::add(&tx, question.trim(), answer.trim(), &list, now())?;
            tx.commit()?;
            println!("FAQ entry {} added ({} keyword(s))", row.id, list.len());
        }
        FaqCmd::Remove { id } => {
            let tx = write_tx(&mut conn)?;
            let row = faq::remove(&tx, *id)?;
            tx.commit()?;
            println!(
                "FAQ entry {} removed: {}",
                row.id,
                preview(&row.question, 60)
            );
        }
    }
    Ok(())
}

pub fn templates(config: &Config, args: &TemplatesArgs) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let mut conn = store.conn()?;
    match &args.cmd {
        TemplatesCmd::List => {
            println!("{:<24} {:<6} TEXT", "NAME", "USES");
            for t in templates::list(&conn)? {
                println!(
                    "{:<24} {:<6} {}",
                    t.name,
                    t.usage_count,
                    preview(&t.body, 60)
                );
            }
        }
        TemplatesCmd::Add { name, text, file } => {
            let body = match (text, file) {
                (Some(t), _) => t.clone(),
                (None, Some(f)) => {
                    std::fs::read_to_string(f).with_context(|| format!("--file {}", f.display()))?
                }
                (None, None) => bail!("give the text with --text or --file"),
            };
            if name.trim().is_empty() || name.contains(char::is_control) {
                bail!("the template name must be a non-empty line");
            }
            if body.trim().is_empty() {
                bail!("the template text is empty");
            }
            let unknown = unknown_variables(&body);
            if !unknown.is_empty() {
                bail!(
                    "unknown variable(s) {}; known: {}",
                    unknown.join(", "),
                    VARIABLES.join(", ")
                );
            }
            let tx = write_tx(&mut conn)?;
            let row = templates::add(&tx, name, body.trim_end(), None, now())?;
            tx.commit()?;
            println!(
                "template {:?} added; staff post it with /t {}",
                row.name, row.name
            );
        }
        TemplatesCmd::Remove { name } => {
            let tx = write_tx(&mut conn)?;
            let row = templates::remove(&tx, name)?;
            tx.commit()?;
            println!("template {:?} removed", row.name);
        }
    }
    Ok(())
}
