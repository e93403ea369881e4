//! Administration from the shell: `buhbot users`, `buhbot chats`,
//! `buhbot requests`. They work on the same store as the running daemon
//! (WAL, IMMEDIATE write transactions), which applies chat settings within
//! a couple of seconds through the settings revision.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::admin_chats;
use super::shell::{actor, now, open_store};
use crate::config::Config;
use crate::core::engine::Engine;
use crate::domain::sla::RequestStatus;
use crate::store::users::{UserChange, UserRow};
use crate::store::{requests, users, write_tx};

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Who makes the change (a Telegram user id), for the audit trail
    #[arg(long, global = true, value_name = "UID")]
    pub by: Option<i64>,
    #[command(subcommand)]
    pub cmd: UsersCmd,
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// List the firm's staff
    List,
    /// Add a staff member (ID = Telegram user id)
    Add {
        id: i64,
        #[arg(long)]
        name: String,
        /// admin, manager, accountant or observer
        #[arg(long)]
        role: String,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Change a staff member (an empty --username or --email clears it)
    Set {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Remove a staff member
    Remove { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum RequestsCmd {
    /// List client requests, newest first
    List {
        /// Only open requests
        #[arg(long)]
        open: bool,
        /// Only this chat's
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn print_users(list: &[UserRow]) {
    println!(
        "{:<14} {:<10} {:<24} {:<20} EMAIL",
        "ID", "ROLE", "NAME", "USERNAME"
    );
    for u in list {
        println!(
            "{:<14} {:<10} {:<24} {:<20} {}",
            u.id,
            u.role,
            u.name,
            u.username
                .as_deref()
                .map_or("-".into(), |n| format!("@{n}")),
            u.email.as_deref().unwrap_or("-")
        );
    }
}

pub fn users(config: &Config, args: &UsersArgs) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let mut conn = store.conn()?;
    let by = actor(args.by);
    if let UsersCmd::List = args.cmd {
        print_users(&users::list(&conn)?);
        return Ok(());
    }
    let tx = write_tx(&mut conn)?;
    let done = match &args.cmd {
        UsersCmd::List => unreachable!("handled above"),
        UsersCmd::Add {
            id,
            name,
            role,
            username,
            email,
        } => {
            let user = UserRow {
                id: *id,
                name: name.clone(),
                username: username.clone(),
                role: users::parse_role(role)?,
                email: email.clone(),
            };
            users::add(&tx, &user, &by, now())?;
            format!("user {id} added")
        }
        UsersCmd::Set {
            id,
            name,
            role,
            username,
            email,
        } => {
            let change = UserChange {
                name: name.clone(),
                username: username.clone(),
                role: role.as_deref().map(users::parse_role).transpose()?,
                email: email.clone(),
            };
            users::update(&tx, *id, change, &by, now())?;
            format!("user {id} updated")
        }
        UsersCmd::Remove { id } => {
            users::remove(&tx, *id, &by, now())?;
            format!("user {id} removed")
        }
    };
    tx.commit()?;
    println!("{done}");
    Ok(())
}

pub fn chats(config: &Config, args: &admin_chats::ChatsArgs) -> anyhow::Result<()> {
    admin_chats::run(config, &open_store(config)?, args)
}

/// An instant in a time zone, minutes precision.
fn local(t: i64, tz: chrono_tz::Tz) -> String {
    DateTime::from_timestamp(t, 0).map_or_else(
        || "-".into(),
        |d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
    )
}

pub fn requests(config: &Config, cmd: &RequestsCmd) -> anyhow::Result<()> {
    let RequestsCmd::List { open, chat, limit } = cmd;
    let store = open_store(config)?;
    let conn = store.conn()?;
    // The effective calendars: a chat's stored calendar counts here too.
    let engine = Engine::from_config_and_store(std::sync::Arc::new(config.clone()), &conn)?;
    let rows = requests::list(&conn, *open, *chat, i64::from(*limit))?;
    let now = Utc::now();
    println!(
        "{:<6} {:<16} {:<8} {:<12} {:<17} {:<9} {:>5} {:>8} {:<17} TZ",
        "ID", "CHAT", "MESSAGE", "CLIENT", "RECEIVED", "STATUS", "SLA", "WAITING", "DEADLINE"
    );
    for r in &rows {
        let cal = engine.calendar(r.chat_id);
        let tz = cal.spec().timezone;
        // Open: the working minutes waited so far; closed: the recorded ones.
        let waited = if r.status == RequestStatus::Open {
            Some(engine.used_seconds(r, now) / 60)
        } else {
            r.working_minutes
        };
        let deadline = r.deadline_at.map_or("-".into(), |d| local(d, tz));
        let status = if r.breached {
            format!("{}!", r.status)
        } else {
            r.status.to_string()
        };
        println!(
            "{:<6} {:<16} {:<8} {:<12} {:<17} {:<9} {:>5} {:>8} {:<17} {}",
            r.id,
            r.chat_id,
            r.message_id,
            r.client_id,
            local(r.received_at, tz),
            status,
            r.threshold_minutes,
            waited.map_or("-".into(), |w| format!("{w} min")),
            deadline,
            tz
        );
    }
    if rows.is_empty() {
        println!("(no requests)");
    } else {
        println!(
            "{} request(s); SLA and waiting in working minutes; ! = breached",
            rows.len()
        );
    }
    Ok(())
}
