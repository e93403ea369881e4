//! The client menu: `/menu` in a monitored group posts three buttons, and
//! their presses (Telegram callback queries from the group):
//!
//! - «Часы работы»: today's hours and the next opening from the chat's
//!   calendar ([`hours_html`]);
//! - «Частые вопросы»: the FAQ entries' questions, each a button that
//!   posts its answer;
//! - «Связаться с бухгалтером»: a contact ([`crate::store::contacts`]):
//!   the chat's accountants are told in private at once; if no staff member
//!   writes in the chat (or presses «Беру» on a notice) within `[menu]
//!   contact_escalate_minutes`, the chat's managers are told, then the
//!   firm's managers; a level with nobody on it is skipped. The steps are
//!   rows driven by [`escalate_due`] (the daemon's timer loop), so a
//!   restart neither loses nor repeats one.
//!
//! Everything runs inside the caller's write transaction and returns what
//! to queue, like the alert buttons ([`super::callback`]); dedupe keys make
//! a redelivered press or a repeated step queue nothing new. The menu is
//! public in the chat: anyone may ask for the hours or the FAQ; a staff
//! member pressing «Связаться с бухгалтером» is told it is the clients'.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::auth::{self, Role};
use super::buttons::{chat_link, url_row};
use super::clients;
use super::press::{CallbackOutcome, CallbackPress, display_name};
use super::{Command, CommandContext, Reply};
use crate::core::effective::Effective;
use crate::core::engine::{Engine, at};
use crate::core::event::MessageEvent;
use crate::domain::hours::{Hours, hours_html, status, when};
use crate::domain::render::{escape_html, plural};
use crate::store::contacts::{self, Contact, NewContact, Outcome};
use crate::store::outbound::{Button, Kind, NewOutbound};
use crate::store::{self, chats, faq, messages};

pub const CONTACT: &str = "Связаться с бухгалтером";
pub const HOURS: &str = "Часы работы";
pub const FAQ: &str = "Частые вопросы";
pub const TAKE: &str = "Беру";

pub const MENU_HTML: &str = "Здравствуйте! Чем мы можем помочь? Выберите, пожалуйста:";
pub const DISABLED: &str = "Меню бота отключено.";
pub const NOT_MONITORED: &str = "Этот чат не обслуживается ботом.";
pub const STAFF_CONTACT: &str = "Эта кнопка — для клиентов: она зовёт бухгалтера чата. \
                                 Вам достаточно ответить в чате.";
pub const ALREADY: &str = "Бухгалтер уже получил ваше обращение и скоро ответит. \
                           Пожалуйста, немного подождите.";
pub const CONTACTED: &str = "Готово: бухгалтер получил уведомление.";
pub const NOBODY: &str = "В этом чате пока не назначен бухгалтер. Пожалуйста, напишите \
                          ваш вопрос в чат — сотрудники его увидят.";
pub const NO_FAQ: &str = "Список частых вопросов пока пуст.";
pub const FAQ_GONE: &str = "Этот вопрос больше не доступен.";
pub const POSTED: &str = "Ответ отправлен в чат.";
pub const TAKEN: &str = "Готово: клиент увидит, что вы занялись его вопросом.";
pub const CLOSED: &str = "Это обращение уже закрыто.";
pub const REFUSED_TAKE: &str = "Взять обращение могут бухгалтеры и менеджеры этого чата.";

/// FAQ questions offered as buttons at most (the rest are listed).
const FAQ_BUTTONS: usize = 10;
/// Telegram's limit is 4096 characters; entities and the tail fit below.
const TEXT_MAX: usize = 3_800;
const BUTTON_MAX: usize = 48;

/// What a menu button press asks for. Callback data `m<code>[:<id>]`,
/// apart from the alert buttons' one-letter codes
/// ([`super::buttons::Action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    Contact,
    Hours,
    Faq,
    /// Post the answer of FAQ entry `id`.
    Answer(i64),
    /// «Беру» on a contact notice.
    Take(i64),
}

impl MenuAction {
    pub fn encode(self) -> String {
        match self {
            MenuAction::Contact => "mc".into(),
            MenuAction::Hours => "mh".into(),
            MenuAction::Faq => "mf".into(),
            MenuAction::Answer(id) => format!("ma:{id}"),
            MenuAction::Take(id) => format!("mt:{id}"),
        }
    }

    /// `None` for anything [`MenuAction::encode`] did not write.
    pub fn decode(data: &[u8]) -> Option<MenuAction> {
        let s = std::str::from_utf8(data).ok()?;
        match s {
            "mc" => return Some(MenuAction::Contact),
            "mh" => return Some(MenuAction::Hours),
            "mf" => return Some(MenuAction::Faq),
            _ => {}
        }
        let (code, id) = s.split_once(':')?;
        let n: i64 = id.parse().ok().filter(|n: &i64| *n > 0)?;
        if n.to_string() != id {
            return None;
        }
        match code {
            "ma" => Some(MenuAction::Answer(n)),
            "mt" => Some(MenuAction::Take(n)),
            _ => None,
        }
    }
}

fn button(text: &str, action: MenuAction) -> Button {
    Button {
        text: text.to_string(),
        callback_data: Some(action.encode()),
        url: None,
    }
}

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
        vec![button(CONTACT, MenuAction::Contact)],
        vec![button(HOURS, MenuAction::Hours)],
        vec![button(FAQ, MenuAction::Faq)],
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
        MenuAction::Contact => contact(conn, engine, &eff, press, chat, now),
        MenuAction::Take(id) => take(conn, &eff, press, id, now),
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
                escape_html(&clip(&entry.question, 300)),
                escape_html(&clip(&entry.answer, TEXT_MAX))
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

/// `s` cut to at most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The FAQ list: numbered questions (as many as fit the message) and a
/// button for each of the first [`FAQ_BUTTONS`].
pub fn faq_list(entries: &[faq::FaqRow]) -> (String, Vec<Vec<Button>>) {
    let mut text = String::from("❓ <b>Частые вопросы</b>\n");
    let mut listed = 0;
    for (i, e) in entries.iter().enumerate() {
        let line = format!("\n{}. {}", i + 1, escape_html(&clip(&e.question, 300)));
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
            let label = clip(&format!("{}. {}", i + 1, e.question), BUTTON_MAX);
            vec![button(&label, MenuAction::Answer(e.id))]
        })
        .collect();
    (text, keyboard)
}

/// Who level `level` of a chat's contact escalation is (1 the chat's
/// accountants, 2 its managers, 3 the firm's managers), without anyone a
/// lower level already had.
pub fn level_recipients(eff: &Effective, chat: i64, level: u8) -> Vec<i64> {
    let cfg = eff.config.chats.get(&chat);
    let of = |l: u8| -> Vec<i64> {
        match l {
            1 => cfg
                .map(|c| c.accountants.iter().copied().collect())
                .unwrap_or_default(),
            2 => cfg
                .map(|c| c.managers.iter().copied().collect())
                .unwrap_or_default(),
            _ => eff.config.alerts.managers.clone(),
        }
    };
    let lower: Vec<i64> = (1..level).flat_map(of).collect();
    let mut out = Vec::new();
    for u in of(level) {
        if u > 0 && !lower.contains(&u) && !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// The first level from `from` on with somebody on it.
fn next_level(eff: &Effective, chat: i64, from: u8) -> Option<(u8, Vec<i64>)> {
    (from..=3)
        .map(|l| (l, level_recipients(eff, chat, l)))
        .find(|(_, r)| !r.is_empty())
}

fn chat_title(engine: &Engine, chat: i64) -> String {
    engine
        .chat_title(chat)
        .map_or_else(|| format!("чат {chat}"), str::to_string)
}

/// The private notices of one level about `c`.
fn notices(
    conn: &Connection,
    engine: &Engine,
    c: &Contact,
    level: u8,
    recipients: &[i64],
    now: DateTime<Utc>,
) -> store::Result<Vec<NewOutbound>> {
    let tz = engine.calendar(c.chat_id).timezone();
    let client = escape_html(c.client_name.as_deref().unwrap_or("Клиент"));
    let title = escape_html(&chat_title(engine, c.chat_id));
    let since = at(c.opened_at).with_timezone(&tz).format("%d.%m %H:%M");
    let mut text = if level == 1 {
        format!(
            "📞 <b>Клиент просит связаться</b>\n{client} в чате «{title}» нажал(а) \
             «{CONTACT}» ({since})."
        )
    } else {
        let waited = (now.timestamp() - c.opened_at).max(0) / 60;
        format!(
            "📞 <b>Клиент ждёт ответа</b>\n{client} в чате «{title}» просит связаться \
             с бухгалтером с {since}; никто из сотрудников не ответил уже {waited} {}.",
            plural(waited, "минуту", "минуты", "минут")
        )
    };
    if let Some((quote, _)) = messages::last_text_of(conn, c.chat_id, c.client_id)? {
        text.push_str(&format!(
            "\nПоследнее сообщение клиента: «{}»",
            escape_html(&clip(&quote, 500))
        ));
    }
    let invite = chats::invite_link(conn, c.chat_id)?;
    let mut keyboard = Vec::new();
    if let Some(url) = chat_link(c.chat_id, c.message_id, invite.as_deref()) {
        keyboard.push(url_row(url));
    }
    keyboard.push(vec![button(TAKE, MenuAction::Take(c.id))]);
    Ok(recipients
        .iter()
        .map(|&u| {
            let mut msg = NewOutbound::new(
                format!("contact:{}:{level}:{u}", c.id),
                u,
                Kind::Reply,
                text.clone(),
            );
            msg.buttons = keyboard.clone();
            msg
        })
        .collect())
}

fn contact(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    press: &CallbackPress,
    chat: i64,
    now: DateTime<Utc>,
) -> store::Result<CallbackOutcome> {
    let user = press.user_id;
    if auth::role_of(conn, eff, user)?.is_staff() {
        let mut out = CallbackOutcome::toast(STAFF_CONTACT);
        out.alert = true;
        return Ok(out);
    }
    if contacts::open_of(conn, chat, user)?.is_some() {
        return Ok(CallbackOutcome::toast(ALREADY));
    }
    let Some((level, recipients)) = next_level(eff, chat, 1) else {
        let mut out = CallbackOutcome::toast(NOBODY);
        out.alert = true;
        return Ok(out);
    };
    let name = messages::recent_senders(conn, chat, 200)?
        .into_iter()
        .find(|(id, _)| *id == user)
        .map(|(_, n)| n);
    let wait = i64::from(eff.config.menu.contact_escalate_minutes) * 60;
    let t = now.timestamp();
    let new = NewContact {
        chat_id: chat,
        client_id: user,
        client_name: name.as_deref(),
        message_id: press.message_id,
        level,
        next_step_at: t + wait,
    };
    let id = contacts::open(conn, &new, t)?;
    let c = contacts::get(conn, id)?.expect("inserted in this transaction");
    let mut queue = notices(conn, engine, &c, level, &recipients, now)?;
    let calendar = engine.calendar(chat);
    let mut ack = match &name {
        Some(n) => format!("{}, бухгалтер получил уведомление", escape_html(n)),
        None => "Бухгалтер получил уведомление".to_string(),
    };
    ack.push_str(" и ответит вам в этом чате.");
    if let Hours::Closed {
        next_opening: Some(open),
    } = status(calendar, now)
    {
        ack.push_str(&format!(
            " Сейчас нерабочее время, ближайшее начало работы: {}.",
            when(open, now, calendar)
        ));
    }
    let mut msg = NewOutbound::new(format!("contact:{id}:ack"), chat, Kind::Reply, ack);
    msg.reply_to = Some(press.message_id);
    queue.push(msg);
    tracing::info!(
        chat,
        client = user,
        contact = id,
        level,
        recipients = recipients.len(),
        "a client asked to contact the accountant"
    );
    Ok(CallbackOutcome {
        answer: CONTACTED.to_string(),
        alert: false,
        queue,
        changed: true,
    })
}

/// «Беру» on a notice: the presser takes the contact (no more levels are
/// told) and the client sees who does.
fn take(
    conn: &Connection,
    eff: &Effective,
    press: &CallbackPress,
    id: i64,
    now: DateTime<Utc>,
) -> store::Result<CallbackOutcome> {
    let Some(c) = contacts::get(conn, id)? else {
        return Ok(CallbackOutcome::toast(CLOSED));
    };
    let role = auth::role_of(conn, eff, press.user_id)?;
    if !(role >= Role::Manager || auth::may_resolve(role, eff, c.chat_id, press.user_id)) {
        let mut out = CallbackOutcome::toast(REFUSED_TAKE);
        out.alert = true;
        return Ok(out);
    }
    if !contacts::close(
        conn,
        id,
        Outcome::Taken,
        Some(press.user_id),
        now.timestamp(),
    )? {
        return Ok(CallbackOutcome::toast(CLOSED));
    }
    let who = escape_html(&display_name(conn, press.user_id)?);
    let mut msg = NewOutbound::new(
        format!("contact:{id}:taken"),
        c.chat_id,
        Kind::Reply,
        format!("{who} занимается вашим вопросом и скоро ответит."),
    );
    msg.reply_to = Some(c.message_id);
    tracing::info!(contact = id, by = press.user_id, "a contact was taken");
    Ok(CallbackOutcome {
        answer: TAKEN.to_string(),
        alert: false,
        queue: vec![msg],
        changed: true,
    })
}

/// What [`escalate_due`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Escalated {
    /// Contacts moved to a higher level.
    pub steps: usize,
    /// Contacts closed with every level told.
    pub expired: usize,
    /// Notices queued.
    pub notices: usize,
}

/// Runs the contact steps due at or before `upto`: the next level with
/// somebody on it is told, or the contact expires. Call in a write
/// transaction; the notices are queued in it.
pub fn escalate_due(
    conn: &Connection,
    engine: &Engine,
    upto: i64,
    now: DateTime<Utc>,
) -> store::Result<Escalated> {
    let mut out = Escalated::default();
    let due = contacts::due(conn, upto, 100)?;
    if due.is_empty() {
        return Ok(out);
    }
    let eff = engine.effective(conn)?;
    let wait = i64::from(eff.config.menu.contact_escalate_minutes) * 60;
    for c in due {
        let Some((level, recipients)) = next_level(&eff, c.chat_id, c.level + 1) else {
            contacts::close(conn, c.id, Outcome::Expired, None, now.timestamp())?;
            out.expired += 1;
            tracing::info!(contact = c.id, "a contact expired unanswered");
            continue;
        };
        for msg in notices(conn, engine, &c, level, &recipients, now)? {
            clients::enqueue(conn, &msg, now.timestamp())?;
            out.notices += 1;
        }
        contacts::advance(conn, c.id, level, now.timestamp() + wait)?;
        out.steps += 1;
        tracing::info!(
            contact = c.id,
            chat = c.chat_id,
            level,
            recipients = recipients.len(),
            "a client's contact escalated"
        );
    }
    Ok(out)
}

/// A staff member's message in a chat answers its open contacts (written
/// after they opened); so does `/t NAME` (the bot posts the template for
/// them), not other commands. Returns how many closed.
pub fn staff_answered(
    conn: &Connection,
    engine: &Engine,
    m: &MessageEvent,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let Some((chat, user)) = clients::group_post(engine, m) else {
        return Ok(0);
    };
    let command = m.text.trim_start().starts_with('/');
    if command && !matches!(super::parse(&m.text, None), Ok(Some(Command::Template(_)))) {
        return Ok(0);
    }
    if !contacts::any_open(conn, chat)? {
        return Ok(0);
    }
    let eff = engine.effective(conn)?;
    if !auth::role_of(conn, &eff, user)?.is_staff() {
        return Ok(0);
    }
    let n = contacts::answer_chat(conn, chat, user, m.date.timestamp(), now.timestamp())?;
    if n > 0 {
        tracing::info!(
            chat,
            by = user,
            contacts = n,
            "staff answered client contacts"
        );
    }
    Ok(n)
}
