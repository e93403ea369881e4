//! `/template NAME` (`/t NAME`): a staff member posts a reply template in
//! a client chat with its variables filled in (`domain::template`).
//!
//! What goes wrong (no such template, an unknown variable, a value that
//! cannot be found) is told to the staff member alone, in a private
//! message: the client chat sees only finished texts. The bot can write
//! to a staff member privately once they have started it (`/start`), as
//! for `/mystats`. Clients are refused in the chat, like any staff command.

use chrono::Datelike;
use rusqlite::Connection;

use super::auth::{self, Role};
use super::parse::{DAYS_RU, USAGE_TEMPLATE};
use super::texts::{GROUP_ONLY, NOT_REGISTERED, REFUSED_STAFF};
use super::{CommandContext, Reply, Route};
use crate::core::effective::Effective;
use crate::core::engine::Engine;
use crate::domain::render::{chat_label, escape_html};
use crate::domain::template::{self, TemplateError, VARIABLES};
use crate::store::{Result, messages, templates, users};

/// How many recent senders are looked through for the client.
const RECENT: i64 = 50;

fn braces(names: &[impl AsRef<str>]) -> String {
    names
        .iter()
        .map(|n| format!("{{{{{}}}}}", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn post(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    role: Role,
    ctx: &CommandContext,
    name: &str,
) -> Result<Reply> {
    let chat = ctx.chat_id;
    if !role.is_staff() {
        return Ok(Reply::in_chat(REFUSED_STAFF, chat));
    }
    if ctx.chat_is_private {
        return Ok(Reply::in_chat(GROUP_ONLY, chat));
    }
    let private = |text: String| Reply {
        text_html: text,
        to_chat: chat,
        route: Route::Private(ctx.from),
        buttons: Vec::new(),
    };
    let Some(chat_config) = eff.config.chats.get(&chat) else {
        return Ok(private(NOT_REGISTERED.to_string()));
    };
    let Some(t) = templates::find(conn, name)? else {
        let names: Vec<String> = templates::list(conn)?
            .into_iter()
            .map(|t| escape_html(&t.name))
            .collect();
        let known = if names.is_empty() {
            "шаблонов пока нет (их добавляет администратор: buhbot templates add)".to_string()
        } else {
            format!("есть: {}", names.join(", "))
        };
        return Ok(private(format!(
            "Шаблон «{}» не найден; {known}. Формат: {}",
            escape_html(name),
            escape_html(USAGE_TEMPLATE)
        )));
    };
    let title = chat_label(chat_config.title.as_deref(), chat);
    let client = client_name(conn, eff, ctx)?;
    let accountant = accountant_name(conn, eff, ctx)?;
    let calendar = engine.calendar(chat);
    let local = ctx.now.with_timezone(&calendar.timezone());
    let next = calendar.next_working_day(local.date_naive()).map(|d| {
        format!(
            "{} ({})",
            d.format("%d.%m.%Y"),
            DAYS_RU[d.weekday().num_days_from_monday() as usize]
        )
    });
    let value = |var: &str| match var {
        "clientName" => client.clone(),
        "accountantName" => accountant.clone(),
        "chatTitle" => Some(title.clone()),
        "date" => Some(local.format("%d.%m.%Y").to_string()),
        "time" => Some(local.format("%H:%M").to_string()),
        "nextWorkingDay" => next.clone(),
        _ => None,
    };
    match template::render(&t.body, value) {
        Ok(text) => {
            templates::count_use(conn, t.id)?;
            Ok(Reply {
                text_html: text,
                to_chat: chat,
                route: Route::Post {
                    reply_to: ctx.reply_to,
                },
                buttons: Vec::new(),
            })
        }
        Err(TemplateError::Unknown(names)) => Ok(private(format!(
            "Шаблон «{}» не отправлен: неизвестные переменные {}. Доступные: {}.",
            escape_html(&t.name),
            escape_html(&braces(&names)),
            escape_html(&braces(VARIABLES)),
        ))),
        Err(TemplateError::Missing(names)) => Ok(private(format!(
            "Шаблон «{}» не отправлен: нет значения для {}. Имя клиента берётся из сообщения, \
             на которое вы отвечаете командой; имя бухгалтера — из списка сотрудников.",
            escape_html(&t.name),
            escape_html(&braces(&names)),
        ))),
    }
}

/// The client addressed: the author of the message the command replies
/// to, else the client who wrote last in the chat.
fn client_name(conn: &Connection, eff: &Effective, ctx: &CommandContext) -> Result<Option<String>> {
    let recent = messages::recent_senders(conn, ctx.chat_id, RECENT)?;
    let wanted = ctx.reply_to_author;
    for (user, name) in recent {
        if wanted.is_some_and(|w| w != user) {
            continue;
        }
        if !auth::role_of(conn, eff, user)?.is_staff() {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The chat's accountant: the sender if they are one, else the first
/// listed who has a name in `users`.
fn accountant_name(
    conn: &Connection,
    eff: &Effective,
    ctx: &CommandContext,
) -> Result<Option<String>> {
    let Some(chat) = eff.config.chats.get(&ctx.chat_id) else {
        return Ok(None);
    };
    let sender_first = chat
        .accountants
        .contains(&ctx.from)
        .then_some(ctx.from)
        .into_iter()
        .chain(chat.accountants.iter().copied());
    for id in sender_first {
        if let Some(u) = users::get(conn, id)? {
            return Ok(Some(u.name));
        }
    }
    Ok(None)
}
