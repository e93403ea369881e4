//! `buhbot chats list|show|set`: a chat's settings are the configuration's
//! `[[chats]]` overlaid by the store (see `crate::core::effective`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::shell::{actor, now};
use crate::config::Config;
use crate::core::effective::{StoreSettings, overlay};
use crate::store::chat_options::{self, OptionsChange};
use crate::store::chats::{self, ChatChange, ChatRole, Override};
use crate::store::settings::SettingsError;
use crate::store::{Store, write_tx};

#[derive(Debug, Args)]
pub struct ChatsArgs {
    /// Who makes the change (a Telegram user id), for the audit trail
    #[arg(long, global = true, value_name = "UID")]
    pub by: Option<i64>,
    #[command(subcommand)]
    pub cmd: ChatsCmd,
}

#[derive(Debug, Subcommand)]
pub enum ChatsCmd {
    /// List the chats known from the configuration or the store
    List,
    /// Print a chat's effective settings and where each comes from
    #[command(allow_negative_numbers = true)]
    Show { id: i64 },
    /// Change a chat's settings (the daemon applies them within seconds).
    /// Policy values take a number or `default` (back to the configuration)
    #[command(allow_negative_numbers = true)]
    Set(Box<SetArgs>),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    pub id: i64,
    #[arg(long)]
    pub title: Option<String>,
    /// on: requests are tracked; off: messages are only logged
    #[arg(long, value_parser = on_off, value_name = "on|off")]
    pub monitoring: Option<bool>,
    /// on: the SLA applies; off: messages are only logged
    #[arg(long, value_parser = on_off, value_name = "on|off")]
    pub sla: Option<bool>,
    /// Working minutes a client may wait (1–480)
    #[arg(long, value_parser = policy_value, value_name = "N|default")]
    pub threshold: Option<Override>,
    /// Warn at this share of the threshold (0–99, 0 = no warning)
    #[arg(long, value_parser = policy_value, value_name = "N|default")]
    pub warning_percent: Option<Override>,
    /// Working minutes between escalations (5–120)
    #[arg(long, value_parser = policy_value, value_name = "N|default")]
    pub escalation_interval: Option<Override>,
    /// Highest alert level (1–10)
    #[arg(long, value_parser = policy_value, value_name = "N|default")]
    pub max_escalations: Option<Override>,
    #[arg(long, value_name = "UID")]
    pub add_accountant: Vec<i64>,
    #[arg(long, value_name = "UID")]
    pub remove_accountant: Vec<i64>,
    #[arg(long, value_name = "UID")]
    pub add_manager: Vec<i64>,
    #[arg(long, value_name = "UID")]
    pub remove_manager: Vec<i64>,
    /// The chat's own calendar: a TOML file with the keys of [calendar]
    /// (relative file paths in it are resolved against the configuration's
    /// folder, as in the configuration itself)
    #[arg(long, value_name = "FILE", conflicts_with = "clear_calendar")]
    pub calendar_file: Option<PathBuf>,
    /// Back to the configuration's calendar
    #[arg(long)]
    pub clear_calendar: bool,
    /// The group's invite link (https://t.me/+…), behind the "open the
    /// chat" button of alerts about a basic group; `none` clears it
    /// (supergroups need none: their alerts link to the message)
    #[arg(long, value_name = "URL|none")]
    pub invite_link: Option<String>,
    /// on: clients' documents and photos are confirmed in the chat (one
    /// confirmation per burst); default: back to the configuration's
    #[arg(long, value_parser = switch, value_name = "on|off|default")]
    pub receipts: Option<Switch>,
    /// on: a request opened outside working time gets one reply with the
    /// next opening (once per client per closure); default: back to the
    /// configuration's
    #[arg(long, value_parser = switch, value_name = "on|off|default")]
    pub out_of_hours_reply: Option<Switch>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected on or off, got {other:?}")),
    }
}

/// A per-chat switch to set: on, off, or `None` (`default`): back to the
/// configuration's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch(pub Option<bool>);

fn switch(s: &str) -> Result<Switch, String> {
    match s {
        "default" => Ok(Switch(None)),
        other => on_off(other)
            .map(|b| Switch(Some(b)))
            .map_err(|_| format!("expected on, off or default, got {other:?}")),
    }
}

fn policy_value(s: &str) -> Result<Override, String> {
    if s == "default" {
        return Ok(Override::Default);
    }
    s.parse()
        .map(Override::Value)
        .map_err(|_| format!("expected a number or `default`, got {s:?}"))
}

pub fn run(config: &Config, store: &Store, args: &ChatsArgs) -> anyhow::Result<()> {
    let mut conn = store.conn()?;
    match &args.cmd {
        ChatsCmd::List => list(config, &StoreSettings::load(&conn)?),
        ChatsCmd::Show { id } => show(
            config,
            &StoreSettings::load(&conn)?,
            *id,
            chats::invite_link(&conn, *id)?,
        ),
        ChatsCmd::Set(set) => {
            let tx = write_tx(&mut conn)?;
            apply(config, &tx, set, &actor(args.by))?;
            tx.commit()?;
            println!(
                "chat {} updated (a running daemon applies it within seconds)",
                set.id
            );
            Ok(())
        }
    }
}

fn ids(set: &BTreeSet<i64>) -> String {
    if set.is_empty() {
        return "-".into();
    }
    set.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(config: &Config, store: &StoreSettings) -> anyhow::Result<()> {
    let eff = overlay(config, store);
    println!(
        "{:<16} {:<5} {:<5} {:>4} {:<18} {:<14} TITLE",
        "ID", "MON", "SLA", "MIN", "CALENDAR", "FROM"
    );
    for (id, chat) in &eff.config.chats {
        let row = store.chats.get(id);
        let from = match (config.chats.contains_key(id), row.is_some()) {
            (true, true) => "config+store",
            (true, false) => "config",
            _ => "store",
        };
        let on = |b: bool| if b { "on" } else { "off" };
        println!(
            "{:<16} {:<5} {:<5} {:>4} {:<18} {:<14} {}",
            id,
            on(row.is_none_or(|r| r.monitored)),
            on(row.is_none_or(|r| r.sla_enabled)),
            chat.policy.threshold_minutes,
            format!(
                "{}{}",
                chat.calendar.timezone,
                if store.calendars.contains_key(id) {
                    "*"
                } else {
                    ""
                }
            ),
            from,
            chat.title.as_deref().unwrap_or("")
        );
    }
    println!("(* = the chat's own calendar from the store)");
    Ok(())
}

fn show(
    config: &Config,
    store: &StoreSettings,
    id: i64,
    invite_link: Option<String>,
) -> anyhow::Result<()> {
    let eff = overlay(config, store);
    let chat = eff.config.chats.get(&id).ok_or(SettingsError::NoChat(id))?;
    let row = store.chats.get(&id);
    let in_config = config.chats.contains_key(&id);
    let base = if in_config {
        "configuration"
    } else {
        "configuration default"
    };
    // Where a value comes from: the store when it sets it, else the file.
    let src = |from_store: bool| if from_store { "store" } else { base };
    let on = |b: bool| if b { "on" } else { "off" };
    println!("chat {id}");
    println!(
        "  title                        {} ({})",
        chat.title.as_deref().unwrap_or("-"),
        src(row.is_some_and(|r| !r.title.is_empty()))
    );
    println!(
        "  monitoring                   {} ({})",
        on(row.is_none_or(|r| r.monitored)),
        if row.is_some() { "store" } else { "default" }
    );
    println!(
        "  sla                          {} ({})",
        on(row.is_none_or(|r| r.sla_enabled)),
        if row.is_some() { "store" } else { "default" }
    );
    println!(
        "  invite_link                  {}",
        invite_link.as_deref().unwrap_or("-")
    );
    let p = chat.policy;
    let fields = [
        (
            "threshold_minutes",
            p.threshold_minutes,
            row.and_then(|r| r.threshold_minutes),
        ),
        (
            "warning_percent",
            p.warning_percent,
            row.and_then(|r| r.warning_percent),
        ),
        (
            "escalation_interval_minutes",
            p.escalation_interval_minutes,
            row.and_then(|r| r.escalation_interval_minutes),
        ),
        (
            "max_escalations",
            p.max_escalations,
            row.and_then(|r| r.max_escalations),
        ),
    ];
    for (name, value, stored) in fields {
        println!("  {name:<28} {value} ({})", src(stored.is_some()));
    }
    let staff_src = src(store.staff.contains_key(&id));
    println!(
        "  accountants                  {} ({staff_src})",
        ids(&chat.accountants)
    );
    println!(
        "  managers                     {} ({staff_src})",
        ids(&chat.managers)
    );
    match store.calendars.get(&id) {
        Some(snippet) => {
            println!(
                "  calendar                     {} (store):",
                chat.calendar.timezone
            );
            for line in snippet.lines() {
                println!("      {line}");
            }
        }
        None => println!(
            "  calendar                     {} ({base})",
            chat.calendar.timezone
        ),
    }
    let options = store.options.get(&id).copied().unwrap_or_default();
    println!(
        "  receipts                     {} ({})",
        on(eff.config.receipts_on(id)),
        src(options.receipts.is_some())
    );
    println!(
        "  out_of_hours_reply           {} ({})",
        on(eff.config.out_of_hours_on(id)),
        src(options.out_of_hours_reply.is_some())
    );
    if eff.paused.contains(&id) {
        println!("  (paused: messages are logged, no requests are tracked)");
    }
    Ok(())
}

fn apply(
    config: &Config,
    tx: &rusqlite::Connection,
    set: &SetArgs,
    by: &str,
) -> anyhow::Result<()> {
    let id = set.id;
    let known = config.chats.get(&id);
    if known.is_none() && chats::get(tx, id)?.is_none() {
        return Err(SettingsError::NoChat(id).into());
    }
    let title = known.and_then(|c| c.title.clone()).unwrap_or_default();
    chats::ensure(tx, id, &title, by, now())?;
    let change = ChatChange {
        title: set.title.clone(),
        monitored: set.monitoring,
        sla_enabled: set.sla,
        threshold_minutes: set.threshold,
        warning_percent: set.warning_percent,
        escalation_interval_minutes: set.escalation_interval,
        max_escalations: set.max_escalations,
    };
    chats::update(tx, id, change, by, now())?;

    let staff_changes: Vec<(i64, ChatRole, bool)> = [
        (&set.add_accountant, ChatRole::Accountant, true),
        (&set.remove_accountant, ChatRole::Accountant, false),
        (&set.add_manager, ChatRole::Manager, true),
        (&set.remove_manager, ChatRole::Manager, false),
    ]
    .into_iter()
    .flat_map(|(list, role, add)| list.iter().map(move |&u| (u, role, add)))
    .collect();
    if !staff_changes.is_empty() && chats::staff(tx, id)?.is_empty() {
        // The store's staff list replaces the configuration's once it has
        // rows: start it from the configuration's so nobody is dropped.
        if let Some(c) = known {
            for &u in &c.accountants {
                chats::set_staff(tx, id, u, ChatRole::Accountant, true, by, now())?;
            }
            for &u in &c.managers {
                chats::set_staff(tx, id, u, ChatRole::Manager, true, by, now())?;
            }
        }
    }
    for (user, role, add) in staff_changes {
        chats::set_staff(tx, id, user, role, add, by, now())?;
    }

    let base_dir = config.base_dir();
    if let Some(file) = &set.calendar_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let by_user = by.parse().ok();
        chats::set_calendar(
            tx,
            id,
            Some(&text),
            &config.calendar,
            &base_dir,
            by_user,
            by,
            now(),
        )?;
    } else if set.clear_calendar {
        chats::set_calendar(tx, id, None, &config.calendar, &base_dir, None, by, now())?;
    }
    if let Some(link) = &set.invite_link {
        let link = (link != "none").then_some(link.as_str());
        chats::set_invite_link(tx, id, link, by, now())?;
    }
    chat_options::set(
        tx,
        id,
        OptionsChange {
            receipts: set.receipts.map(|s| s.0),
            out_of_hours_reply: set.out_of_hours_reply.map(|s| s.0),
        },
        by,
        now(),
    )?;
    Ok(())
}
