//! «Связаться с бухгалтером» on the client menu: a contact
//! ([`crate::store::contacts`]). The chat's accountants are told in private
//! at once; if no staff member writes in the chat (or presses «Беру» on a
//! notice) within `[menu] contact_escalate_minutes`, the chat's managers
//! are told, then the firm's managers (`[alerts] managers` and users with
//! the role manager); a level with nobody on it is skipped, and after the
//! last level's wait the contact closes. One open contact per client per
//! chat: a repeated press is told it is on its way.
//!
//! The steps are rows driven by [`escalate_due`] (the daemon's timer loop,
//! with `now` passed in), their notices queued in the same transaction, so
//! a restart neither loses nor repeats one; dedupe keys per contact, level
//! and recipient make a repeated step queue nothing new.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::auth::{self, Role};
use super::buttons::{MenuAction, chat_link, menu_button, url_row};
use super::clients;
use super::press::{CallbackOutcome, CallbackPress, display_name};
use super::{Command, parse};
use crate::core::effective::Effective;
use crate::core::engine::{Engine, at};
use crate::core::event::MessageEvent;
use crate::domain::hours::{Hours, status, when};
use crate::domain::render::{escape_html, plural, preview};
use crate::store::contacts::{self, Contact, NewContact, Outcome};
use crate::store::outbound::{Kind, NewOutbound, enqueue_built};
use crate::store::{self, chats, messages};

pub const CONTACT: &str = "Связаться с бухгалтером";
pub const TAKE: &str = "Беру";
pub const STAFF_CONTACT: &str = "Эта кнопка — для клиентов: она зовёт бухгалтера чата. \
                                 Вам достаточно ответить в чате.";
pub const ALREADY: &str = "Бухгалтер уже получил ваше обращение и скоро ответит. \
                           Пожалуйста, немного подождите.";
pub const CONTACTED: &str = "Готово: бухгалтер получил уведомление.";
pub const NOBODY: &str = "В этом чате пока не назначен бухгалтер. Пожалуйста, напишите \
                          ваш вопрос в чат — сотрудники его увидят.";
pub const TAKEN: &str = "Готово: клиент увидит, что вы занялись его вопросом.";
pub const CLOSED: &str = "Это обращение уже закрыто.";
pub const REFUSED_TAKE: &str = "Взять обращение могут бухгалтеры и менеджеры этого чата.";

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
    let title = escape_html(&engine.chat_label(c.chat_id));
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
            escape_html(&preview(&quote, 500))
        ));
    }
    let invite = chats::invite_link(conn, c.chat_id)?;
    let mut keyboard = Vec::new();
    if let Some(url) = chat_link(c.chat_id, c.message_id, invite.as_deref()) {
        keyboard.push(url_row(url));
    }
    keyboard.push(vec![menu_button(TAKE, MenuAction::Take(c.id))]);
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

pub fn press(
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
    let name = messages::sender_name(conn, chat, user)?;
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
    let c = contacts::open(conn, &new, t)?;
    let id = c.id;
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
pub fn take(
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
            enqueue_built(conn, &msg, now.timestamp(), "a contact notice")?;
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
    if command && !matches!(parse(&m.text, None), Ok(Some(Command::Template(_)))) {
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
