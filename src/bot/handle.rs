//! Executing a parsed command: authorisation, then the store change or the
//! report.
//!
//! Call [`handle`] inside a write transaction (`store::write_tx`): an
//! accepted change is then atomic with whatever the caller logs. The
//! changes themselves run under a savepoint, so a command refused half-way
//! (an out-of-range threshold, a calendar the reader rejects) leaves the
//! store exactly as it was, even when the caller commits.

use rusqlite::Connection;

use super::auth;
use super::parse::{Command, Hours, Sla, Target};
use super::{CommandContext, Reply, report};
use crate::core::effective::Effective;
use crate::core::engine::Engine;
use crate::domain::render::{escape_html, plural};
use crate::store::chats::{self, ChatChange, ChatRole, Override};
use crate::store::settings::SettingsError;
use crate::store::{Result, StoreError, users};

pub use super::texts::{GROUP_ONLY, NOT_REGISTERED, PRIVATE_ONLY, REFUSED_MANAGERS, REFUSED_STAFF};

/// Executes `cmd` for `ctx`. Refusals are replies, not errors: only a
/// store failure is an error (and then the caller rolls back).
pub fn handle(
    conn: &Connection,
    engine: &Engine,
    ctx: CommandContext,
    cmd: Command,
) -> Result<Reply> {
    // Fresh effective settings, not the engine's snapshot: the daemon
    // reloads only every few seconds, and a manager who just ran /sla 30
    // expects /diagnose to say 30.
    let eff = engine.effective(conn)?;
    let role = auth::role_of(conn, &eff, ctx.from)?;
    let chat = ctx.chat_id;
    let text = match cmd {
        Command::Template(name) => {
            return super::template::post(conn, engine, &eff, role, &ctx, &name);
        }
        // The menu is the clients': staff typing it get the same menu
        // (to show a client where it is); its contact button refuses them.
        Command::Menu => return Ok(super::menu::menu(&eff, &ctx)),
        Command::Start | Command::Help => {
            let manager = if ctx.chat_is_private {
                eff.config
                    .chats
                    .values()
                    .any(|c| c.managers.contains(&ctx.from))
            } else {
                auth::is_chat_manager(&eff, chat, ctx.from)
            };
            report::help(role, manager)
        }
        Command::Diagnose => {
            // The group's own administrators may check it too: they are
            // the ones who set the bot up there.
            if !role.is_staff() && ctx.sender_is_chat_admin != Some(true) {
                REFUSED_STAFF.to_string()
            } else if ctx.chat_is_private {
                GROUP_ONLY.to_string()
            } else {
                report::diagnose(conn, engine, &eff, chat, ctx.bot_reads_all, ctx.now)?
            }
        }
        Command::MyStats | Command::MyChats | Command::Open => {
            if !role.is_staff() {
                REFUSED_STAFF.to_string()
            } else if !ctx.chat_is_private {
                // Statistics are not for the clients' eyes.
                PRIVATE_ONLY.to_string()
            } else {
                let mine = auth::chats_of(&eff, role, ctx.from);
                match cmd {
                    Command::MyStats => report::my_stats(conn, &mine, ctx.now)?,
                    Command::MyChats => report::my_chats(conn, &eff, &mine, ctx.from)?,
                    _ => report::open(conn, engine, &eff, &mine, ctx.now)?,
                }
            }
        }
        Command::Sla(_) | Command::Accountant { .. } | Command::Hours(_) => {
            if !auth::may_change(role, &eff, chat, ctx.from) {
                if role.is_staff() {
                    REFUSED_MANAGERS.to_string()
                } else {
                    REFUSED_STAFF.to_string()
                }
            } else if ctx.chat_is_private {
                GROUP_ONLY.to_string()
            } else if !eff.config.chats.contains_key(&chat) {
                NOT_REGISTERED.to_string()
            } else {
                in_savepoint(conn, || change(conn, engine, &eff, &ctx, cmd))?
            }
        }
    };
    Ok(Reply::in_chat(text, chat))
}

/// Why a change was not made: a polite answer, or a store failure.
enum Fail {
    Polite(String),
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<SettingsError> for Fail {
    fn from(e: SettingsError) -> Self {
        Fail::Polite(match e {
            SettingsError::Store(e) => return Fail::Store(e),
            SettingsError::OutOfRange {
                min, max, value, ..
            } => format!(
                "Порог должен быть от {min} до {max} рабочих минут, а указано {value}. \
                 Настройки не изменены."
            ),
            SettingsError::Calendar(problems) => {
                let list: Vec<String> = problems.iter().map(|p| escape_html(&p.message)).collect();
                format!("Расписание не принято: {}", list.join("; "))
            }
            SettingsError::NoChat(_) => NOT_REGISTERED.to_string(),
            other => format!(
                "Не удалось изменить настройки: {}",
                escape_html(&other.to_string())
            ),
        })
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Store(e.into())
    }
}

/// Runs `f` under a savepoint: kept on success, undone on any failure.
fn in_savepoint(
    conn: &Connection,
    f: impl FnOnce() -> std::result::Result<String, Fail>,
) -> Result<String> {
    match crate::store::in_savepoint(conn, f) {
        Ok(text) | Err(Fail::Polite(text)) => Ok(text),
        Err(Fail::Store(e)) => Err(e),
    }
}

fn change(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    ctx: &CommandContext,
    cmd: Command,
) -> std::result::Result<String, Fail> {
    let chat = ctx.chat_id;
    let by = ctx.from.to_string();
    let now = ctx.now.timestamp();
    let base = engine.base_config();
    let title = base
        .chats
        .get(&chat)
        .and_then(|c| c.title.clone())
        .unwrap_or_default();
    // A chat known only from the configuration gets its store row first,
    // as `buhbot chats set` does.
    chats::ensure(conn, chat, &title, &by, now)?;
    match cmd {
        Command::Sla(sla) => set_sla(conn, eff, chat, sla, &by, now),
        Command::Accountant { add, target } => {
            let user = resolve(conn, ctx, &target)?;
            set_accountant(conn, engine, eff, chat, user, add, &by, now)
        }
        Command::Hours(hours) => set_hours(conn, engine, eff, ctx, &hours),
        // `handle` routes only the settings commands here.
        _ => Ok(String::new()),
    }
}

fn set_sla(
    conn: &Connection,
    eff: &Effective,
    chat: i64,
    sla: Sla,
    by: &str,
    now: i64,
) -> std::result::Result<String, Fail> {
    let change = match sla {
        Sla::On | Sla::Off => ChatChange {
            sla_enabled: Some(sla == Sla::On),
            ..ChatChange::default()
        },
        Sla::Threshold(n) => ChatChange {
            threshold_minutes: Some(Override::Value(n)),
            ..ChatChange::default()
        },
    };
    chats::update(conn, chat, change, by, now)?;
    Ok(match sla {
        Sla::On => "Контроль сроков ответа в этом чате включён.".to_string(),
        Sla::Off => "Контроль сроков ответа в этом чате выключен. Сообщения по-прежнему \
             сохраняются; включить снова: /sla on"
            .to_string(),
        Sla::Threshold(n) => {
            let old = i64::from(eff.config.chat_policy(chat).threshold_minutes);
            format!(
                "Порог ответа в этом чате: {n} {} (было {old}). Открытые запросы будут \
                 пересчитаны по новому порогу.",
                plural(n, "рабочая минута", "рабочие минуты", "рабочих минут")
            )
        }
    })
}

/// The user a `/accountant` command is about.
fn resolve(
    conn: &Connection,
    ctx: &CommandContext,
    target: &Target,
) -> std::result::Result<i64, Fail> {
    match target {
        Target::RepliedTo => ctx.reply_to_author.ok_or_else(|| {
            Fail::Polite(format!(
                "Укажите сотрудника: {}",
                super::parse::USAGE_ACCOUNTANT
            ))
        }),
        Target::Mention(m) => {
            let norm = |s: &str| s.trim().trim_start_matches('@').to_lowercase();
            let wanted = norm(m);
            // Telegram's own resolution first (text mentions carry the id),
            // then the usernames the firm registered.
            let from_message = ctx
                .mention_ids
                .iter()
                .find(|(name, id)| id.is_some() && norm(name) == wanted)
                .and_then(|(_, id)| *id);
            let found = match from_message {
                Some(id) => Some(id),
                None => users::list(conn)?
                    .into_iter()
                    .find(|u| u.username.as_deref().map(norm).as_ref() == Some(&wanted))
                    .map(|u| u.id),
            };
            found.ok_or_else(|| {
                Fail::Polite(format!(
                    "Не удалось определить пользователя {}. Ответьте командой на его сообщение \
                     или попросите администратора добавить его username.",
                    escape_html(m)
                ))
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn set_accountant(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    chat: i64,
    user: i64,
    add: bool,
    by: &str,
    now: i64,
) -> std::result::Result<String, Fail> {
    let name = users::get(conn, user)?.map_or_else(|| format!("пользователь {user}"), |u| u.name);
    let name = escape_html(&name);
    // Only the firm's staff answer clients: making a client "accountant"
    // would make their own questions count as answers.
    if add && !auth::role_of(conn, eff, user)?.is_staff() {
        return Err(Fail::Polite(format!(
            "{name} не числится сотрудником компании. Сначала администратор добавляет \
             сотрудника (buhbot users add), затем его можно назначить бухгалтером чата."
        )));
    }
    if chats::staff(conn, chat)?.is_empty()
        && let Some(known) = engine.base_config().chats.get(&chat)
    {
        // The store's staff list replaces the configuration's once it has
        // rows: start it from the configuration's so nobody is dropped.
        for &u in &known.accountants {
            chats::set_staff(conn, chat, u, ChatRole::Accountant, true, by, now)?;
        }
        for &u in &known.managers {
            chats::set_staff(conn, chat, u, ChatRole::Manager, true, by, now)?;
        }
    }
    let changed = chats::set_staff(conn, chat, user, ChatRole::Accountant, add, by, now)?;
    Ok(match (add, changed) {
        (true, true) => format!("{name} теперь бухгалтер этого чата."),
        (true, false) => format!("{name} уже бухгалтер этого чата."),
        (false, true) => format!("{name} больше не бухгалтер этого чата."),
        (false, false) => format!("{name} не был бухгалтером этого чата."),
    })
}

fn set_hours(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    ctx: &CommandContext,
    hours: &Hours,
) -> std::result::Result<String, Fail> {
    let base = engine.base_config();
    let snippet = hours.snippet();
    chats::set_calendar(
        conn,
        ctx.chat_id,
        Some(&snippet),
        &base.calendar,
        &base.base_dir(),
        Some(ctx.from),
        &ctx.from.to_string(),
        ctx.now.timestamp(),
    )?;
    let zone = eff
        .config
        .chats
        .get(&ctx.chat_id)
        .map_or(base.calendar.timezone, |c| c.calendar.timezone);
    Ok(format!(
        "Рабочие часы этого чата: {} (часовой пояс {zone}). Открытые запросы будут \
         пересчитаны по новому графику.",
        report::week_summary(&hours.week)
    ))
}
