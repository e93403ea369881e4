//! Button presses on alert messages (Telegram callback queries).
//!
//! [`on_callback`] decides everything over the store, inside the caller's
//! write transaction: it authorises the presser against the effective chat
//! staff, changes the request, and returns the toast to answer with plus
//! the messages to queue (edits of alert messages, reminders). The daemon
//! queues them in the same transaction ([`CallbackOutcome::enqueue`]),
//! commits, then answers the query.
//!
//! Presses of the client menu's buttons (their own callback codes) are
//! handed to [`super::menu::on_press`].
//!
//! Idempotent by construction: a request closes once (a second "resolve"
//! finds it closed), reminders and edits have dedupe keys, and a press on a
//! closed request only re-queues the final edit under the same key.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

use super::auth;
use super::buttons::{self, Action, NOTIFY};
use super::press::display_name;
pub use super::press::{CallbackOutcome, CallbackPress};
use crate::core::effective::Effective;
use crate::core::engine::{Engine, at};
use crate::domain::render::{escape_html, plural};
use crate::domain::sla::{Closing, RequestStatus};
use crate::metrics::catalogue as m;
use crate::store::requests::RequestRow;
use crate::store::{self, requests};
use crate::telegram::outbound::queue::{self, NewOutbound};
use crate::telegram::outbound::{Button, Kind};

pub use super::press::STALE;
pub const NOT_FOUND: &str = "Запрос не найден.";
pub const REFUSED_RESOLVE: &str =
    "Отметить запрос решённым могут только бухгалтеры и менеджеры этого чата.";
pub const REFUSED_NOTIFY: &str = "Напомнить бухгалтеру могут только менеджеры этого чата.";
pub const RESOLVED: &str = "Готово: запрос отмечен решённым.";
pub const REMINDED: &str = "Готово: бухгалтеру отправлено напоминание.";
pub const ALREADY_REMINDED: &str = "Вы уже напомнили бухгалтеру об этом запросе.";
pub const NO_ACCOUNTANTS: &str = "В этом чате не назначены бухгалтеры: напомнить некому.";

/// "25.11 14:05" in the chat's time zone.
fn short_time(secs: i64, tz: Tz) -> String {
    at(secs)
        .with_timezone(&tz)
        .format("%d.%m %H:%M")
        .to_string()
}

/// Handles one press; see the module documentation.
pub fn on_callback(
    conn: &Connection,
    engine: &Engine,
    press: &CallbackPress,
    now: DateTime<Utc>,
) -> store::Result<CallbackOutcome> {
    if let Some(button) = super::survey::VoteButton::decode(&press.data) {
        return super::survey::on_vote(conn, engine, press, button, now);
    }
    if let Some(action) = super::buttons::MenuAction::decode(&press.data) {
        return super::menu::on_press(conn, engine, press, action, now);
    }
    let Some(action) = Action::decode(&press.data) else {
        tracing::debug!(
            user = press.user_id,
            "ignoring a press with unknown callback data"
        );
        return Ok(CallbackOutcome::toast(STALE));
    };
    let Some(row) = requests::get(conn, action.request_id())? else {
        return Ok(CallbackOutcome::toast(NOT_FOUND));
    };
    // Fresh effective staff: a change made a second ago counts.
    let eff = engine.effective(conn)?;
    let role = auth::role_of(conn, &eff, press.user_id)?;
    let (allowed, refusal) = match action {
        Action::Resolve(_) => (
            auth::may_resolve(role, &eff, row.chat_id, press.user_id),
            REFUSED_RESOLVE,
        ),
        Action::Notify(_) => (
            auth::may_change(role, &eff, row.chat_id, press.user_id),
            REFUSED_NOTIFY,
        ),
    };
    if !allowed {
        tracing::info!(
            user = press.user_id,
            request = row.id,
            ?action,
            "refused an alert button press"
        );
        let mut out = CallbackOutcome::toast(refusal);
        out.alert = true;
        return Ok(out);
    }
    let tz = engine.calendar(row.chat_id).timezone();
    if row.status != RequestStatus::Open {
        return closed(conn, press, &row, tz);
    }
    match action {
        Action::Resolve(_) => resolve(conn, engine, press, &row, now, tz),
        Action::Notify(_) => notify(conn, engine, &eff, press, &row, now, tz),
    }
}

/// The line a closed request's alerts end with, and the toast saying so.
fn final_state(conn: &Connection, row: &RequestRow, tz: Tz) -> store::Result<(String, String)> {
    let when = row
        .answered_at
        .map_or_else(String::new, |t| short_time(t, tz));
    Ok(match row.status {
        RequestStatus::Resolved => {
            let who = match row.answered_by {
                Some(u) => display_name(conn, u)?,
                None => "—".to_string(),
            };
            (
                format!("✅ Отмечено решённым: {}, {when}", escape_html(&who)),
                format!("Запрос уже отмечен решённым: {who}, {when}."),
            )
        }
        _ => (
            format!("✅ Ответ получен: {when}"),
            format!("Запрос уже закрыт: ответ получен {when}."),
        ),
    })
}

/// A press on a closed request: say so; at most bring the pressed alert to
/// its final state (the same dedupe key as the edit made on closing).
fn closed(
    conn: &Connection,
    press: &CallbackPress,
    row: &RequestRow,
    tz: Tz,
) -> store::Result<CallbackOutcome> {
    let (line, answer) = final_state(conn, row, tz)?;
    let mut out = CallbackOutcome::toast(answer);
    out.queue = edits(conn, row.id, Some(press), &line, "final", |b| {
        b.url.is_some()
    })?;
    Ok(out)
}

fn resolve(
    conn: &Connection,
    engine: &Engine,
    press: &CallbackPress,
    row: &RequestRow,
    now: DateTime<Utc>,
    tz: Tz,
) -> store::Result<CallbackOutcome> {
    // Closing deletes the request's timers (no more warnings or
    // escalations), marks its alerts resolved by the presser and records
    // who and when in the request row and the upstream outbox.
    if !engine.close(conn, row, Closing::Resolved, now, Some(press.user_id), None)? {
        // Not reachable inside one write transaction; answer as closed.
        let fresh = requests::get(conn, row.id)?.unwrap_or_else(|| row.clone());
        return closed(conn, press, &fresh, tz);
    }
    ::metrics::counter!(m::REQUESTS_RESOLVED_TOTAL).increment(1);
    tracing::info!(
        request = row.id,
        chat = row.chat_id,
        by = press.user_id,
        "request marked resolved from an alert button"
    );
    let closed = requests::get(conn, row.id)?.unwrap_or_else(|| row.clone());
    let (line, _) = final_state(conn, &closed, tz)?;
    // Every sent alert about the request shows the outcome, so nobody else
    // presses a button on it.
    let queue = edits(conn, row.id, None, &line, "final", |b| b.url.is_some())?;
    Ok(CallbackOutcome {
        answer: RESOLVED.to_string(),
        alert: false,
        queue,
        changed: true,
    })
}

fn notify(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    press: &CallbackPress,
    row: &RequestRow,
    now: DateTime<Utc>,
    tz: Tz,
) -> store::Result<CallbackOutcome> {
    // Private chats only: a reminder names the chat and the wait.
    let accountants: Vec<i64> = eff
        .config
        .chats
        .get(&row.chat_id)
        .map(|c| {
            c.accountants
                .iter()
                .copied()
                .filter(|&a| a > 0 && a != press.user_id)
                .collect()
        })
        .unwrap_or_default();
    if accountants.is_empty() {
        return Ok(CallbackOutcome::toast(NO_ACCOUNTANTS));
    }
    let key = |a: i64| format!("remind:{}:{a}:{}", row.id, press.user_id);
    let mut fresh = Vec::new();
    for &a in &accountants {
        if queue::state(conn, &key(a))?.is_none() {
            fresh.push(a);
        }
    }
    if fresh.is_empty() {
        return Ok(CallbackOutcome::toast(ALREADY_REMINDED));
    }
    let presser = display_name(conn, press.user_id)?;
    let title = engine.chat_label(row.chat_id);
    let waiting = engine.used_seconds(row, now) / 60;
    let text = format!(
        "🔔 <b>Напоминание</b>\n{} просит ответить клиенту в чате «{}».\n\
         Запрос ждёт ответа {waiting} {} рабочего времени (получен {}).",
        escape_html(&presser),
        escape_html(&title),
        plural(waiting, "минуту", "минуты", "минут"),
        short_time(row.received_at, tz),
    );
    let mut keyboard = Vec::new();
    if let Some(url) = buttons::request_link(conn, row)? {
        keyboard.push(buttons::url_row(url));
    }
    keyboard.push(vec![Button {
        text: buttons::RESOLVE.to_string(),
        callback_data: Some(Action::Resolve(row.id).encode()),
        url: None,
    }]);
    let mut queue: Vec<NewOutbound> = fresh
        .iter()
        .map(|&a| {
            let mut msg = NewOutbound::new(key(a), a, Kind::Reply, text.clone());
            msg.buttons = keyboard.clone();
            msg
        })
        .collect();
    let mut names = Vec::new();
    for &a in &accountants {
        names.push(escape_html(&display_name(conn, a)?));
    }
    let line = format!(
        "🔔 {}: {}, {}",
        if names.len() == 1 {
            "Бухгалтер уведомлён"
        } else {
            "Бухгалтеры уведомлены"
        },
        names.join(", "),
        short_time(now.timestamp(), tz)
    );
    queue.extend(edits(conn, row.id, Some(press), &line, "notified", |b| {
        b.text != NOTIFY
    })?);
    tracing::info!(
        request = row.id,
        chat = row.chat_id,
        by = press.user_id,
        accountants = fresh.len(),
        "accountants reminded from an alert button"
    );
    Ok(CallbackOutcome {
        answer: REMINDED.to_string(),
        alert: false,
        queue,
        changed: true,
    })
}

/// Edits of the sent alerts about `request` (only the pressed one when
/// `only` is set): the text as first sent plus `line`, keeping the buttons
/// `keep` accepts. Alerts only ever went to private chats; anything else
/// is skipped rather than edited.
fn edits(
    conn: &Connection,
    request: i64,
    only: Option<&CallbackPress>,
    line: &str,
    tag: &str,
    keep: impl Fn(&Button) -> bool,
) -> store::Result<Vec<NewOutbound>> {
    let mut out = Vec::new();
    for a in queue::sent_alerts_for_request(conn, request)? {
        if a.chat_id <= 0 {
            continue;
        }
        if only.is_some_and(|p| (p.chat_id, p.message_id) != (a.chat_id, a.message_id)) {
            continue;
        }
        let buttons: Vec<Vec<Button>> = a
            .buttons
            .iter()
            .map(|row| row.iter().filter(|b| keep(b)).cloned().collect::<Vec<_>>())
            .filter(|row| !row.is_empty())
            .collect();
        out.push(NewOutbound {
            dedupe_key: format!("edit:{}:{}:{tag}:{request}", a.chat_id, a.message_id),
            chat_id: a.chat_id,
            text: format!("{}\n\n{line}", a.text),
            buttons,
            reply_to: None,
            kind: Kind::Edit,
            edit_of: Some(a.message_id),
        });
    }
    Ok(out)
}
