//! The client menu: `/menu` in a monitored group posts three buttons, and
//! their presses (Telegram callback queries from the group):
//!
//! - «Часы работы»: today's hours and the next opening from the chat's
//!   calendar ([`hours_html`]);
//! - «Частые вопросы»: the FAQ entries' questions, each a button that
//!   posts its answer;
//! - «Связаться с бухгалтером»: a contact escalated from the chat's
//!   accountants to its managers to the firm's managers
//!   ([`super::contact`]).
//!
//! Everything runs inside the caller's write transaction and returns what
//! to queue, like the alert buttons ([`super::callback`]); dedupe keys make
//! a redelivered press queue nothing new. The menu is public in the chat:
//! anyone may ask for the hours or the FAQ, staff included (a staff member
//! typing `/menu` gets the menu too, to show a client where it is); a
//! staff member pressing «Связаться с бухгалтером» is told it is the
//! clients'.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::buttons::{MenuAction, menu_button};
use super::contact::{self, CONTACT};
use super::press::{CallbackOutcome, CallbackPress};
use super::{CommandContext, Reply};
use crate::core::effective::Effective;
use crate::core::engine::Engine;
use crate::domain::hours::hours_html;
use crate::domain::render::{escape_html, plural, preview};
use crate::store::outbound::{Button, Kind, NewOutbound};
use crate::store::{self, faq};

pub const HOURS: &str = "Часы работы";
pub const FAQ: &str = "Частые вопросы";

pub const MENU_HTML: &str = "Здравствуйте! Чем мы можем помочь? Выберите, пожалуйста:";
pub const DISABLED: &str = "Меню бота отключено.";
pub const NOT_MONITORED: &str = "Этот чат не обслуживается ботом.";
pub const NO_FAQ: &str = "Список частых вопросов пока пуст.";
pub const FAQ_GONE: &str = "Этот вопрос больше не доступен.";
pub const POSTED: &str = "Ответ отправлен в чат.";

/// FAQ questions offered as buttons at most (the rest are listed).
const FAQ_BUTTONS: usize = 10;
/// Telegram's limit is 4096 characters; entities and the tail fit below.
const TEXT_MAX: usize = 3_800;
const BUTTON_MAX: usize = 48;

/// The answer to `/menu`: the three buttons, in a monitored group only.
pub fn menu(eff: &Effective, ctx: &CommandContext) -> Reply {
    let chat = ctx.chat_id;
    if !eff.config.menu.enabled {
        return Reply::in_chat(DISABLED, chat);
    }
    if ctx.chat_is_private {
        return Reply::in_chat(super::texts::GROUP_ONLY, chat);
    }
    if !eff.config.chats.contains_key(&chat) {
        return Reply::in_chat(NOT_MONITORED, chat);
    }
    let mut reply = Reply::in_chat(MENU_HTML, chat);
    reply.buttons = vec![
        vec![menu_button(CONTACT, MenuAction::Contact)],
        vec![menu_button(HOURS, MenuAction::Hours)],
        vec![menu_button(FAQ, MenuAction::Faq)],
    ];
    reply
}

/// Handles a press of a menu button; see the module documentation.
pub fn on_press(
    conn: &Connection,
    engine: &Engine,
    press: &CallbackPress,
    action: MenuAction,
    now: DateTime<Utc>,
) -> store::Result<CallbackOutcome> {
    let eff = engine.effective(conn)?;
    let chat = engine.current_id(press.chat_id);
    // «Беру» is pressed in a private chat, on a notice.
    let group_button = !matches!(action, MenuAction::Take(_));
    if group_button && !eff.config.menu.enabled {
        return Ok(CallbackOutcome::toast(DISABLED));
    }
    if group_button && !eff.config.chats.contains_key(&chat) {
        return Ok(CallbackOutcome::toast(NOT_MONITORED));
    }
    match action {
        MenuAction::Contact => contact::press(conn, engine, &eff, press, chat, now),
        MenuAction::Take(id) => contact::take(conn, &eff, press, id, now),
        MenuAction::Hours => Ok(post(
            press,
            chat,
            "hours",
            "Часы работы отправлены в чат.",
            hours_html(engine.calendar(chat), now),
            Vec::new(),
            now,
        )),
        MenuAction::Faq => {
            let entries: Vec<faq::FaqRow> =
                faq::list(conn)?.into_iter().filter(|e| e.enabled).collect();
            if entries.is_empty() {
                return Ok(CallbackOutcome::toast(NO_FAQ));
            }
            let (text, keyboard) = faq_list(&entries);
            let toast = "Список вопросов отправлен в чат.";
            Ok(post(press, chat, "faq", toast, text, keyboard, now))
        }
        MenuAction::Answer(id) => {
            let Some(entry) = faq::get(conn, id)?.filter(|e| e.enabled) else {
                return Ok(CallbackOutcome::toast(FAQ_GONE));
            };
            let text = format!(
                "❓ <b>{}</b>\n\n{}",
                escape_html(&preview(&entry.question, 300)),
                escape_html(&preview(&entry.answer, TEXT_MAX))
            );
            let kind = format!("answer:{id}");
            Ok(post(press, chat, &kind, POSTED, text, Vec::new(), now))
        }
    }
}

/// A post in the chat replying to the menu. One per `kind` per presser
/// per minute (the dedupe key): a client tapping a button again and again
/// does not flood the chat, and a redelivered press posts nothing new.
fn post(
    press: &CallbackPress,
    chat: i64,
    kind: &str,
    toast: &str,
    text: String,
    buttons: Vec<Vec<Button>>,
    now: DateTime<Utc>,
) -> CallbackOutcome {
    let minute = now.timestamp() / 60;
    let key = format!("menu:{kind}:{chat}:{}:{minute}", press.user_id);
    let mut msg = NewOutbound::new(key, chat, Kind::Reply, text);
    msg.reply_to = Some(press.message_id);
    msg.buttons = buttons;
    CallbackOutcome {
        answer: toast.to_string(),
        alert: false,
        queue: vec![msg],
        changed: true,
    }
}

/// The FAQ list: numbered questions (as many as fit the message) and a
/// button for each of the first [`FAQ_BUTTONS`].
pub fn faq_list(entries: &[faq::FaqRow]) -> (String, Vec<Vec<Button>>) {
    let mut text = String::from("❓ <b>Частые вопросы</b>\n");
    let mut listed = 0;
    for (i, e) in entries.iter().enumerate() {
        let line = format!("\n{}. {}", i + 1, escape_html(&preview(&e.question, 300)));
        if text.len() + line.len() > TEXT_MAX {
            break;
        }
        text.push_str(&line);
        listed += 1;
    }
    if listed < entries.len() {
        let rest = (entries.len() - listed) as i64;
        text.push_str(&format!(
            "\n… и ещё {rest} {}",
            plural(rest, "вопрос", "вопроса", "вопросов")
        ));
    }
    text.push_str("\n\nНажмите на вопрос, чтобы получить ответ.");
    let keyboard = entries
        .iter()
        .take(FAQ_BUTTONS.min(listed))
        .enumerate()
        .map(|(i, e)| {
            let label = preview(&format!("{}. {}", i + 1, e.question), BUTTON_MAX - 1);
            vec![menu_button(&label, MenuAction::Answer(e.id))]
        })
        .collect();
    (text, keyboard)
}
