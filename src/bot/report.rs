//! The bot's read-only answers: help per role, chat diagnostics, a staff
//! member's statistics, chats and open requests. Russian, Telegram HTML.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use super::auth::Role;
use super::parse::DAYS_RU;
use crate::core::effective::Effective;
use crate::core::engine::{Engine, at};
use crate::domain::calendar::Interval;
use crate::domain::render::{chat_label, escape_html, minutes, plural, preview};
use crate::domain::sla::RequestStatus;
use crate::store::{Result, chats, messages, requests};

/// How far back `/mystats` looks.
pub const STATS_DAYS: i64 = 30;
/// At most this many requests in `/open` (oldest first: the urgent ones).
pub const OPEN_LIMIT: usize = 20;

fn title(eff: &Effective, chat: i64) -> String {
    let title = eff.config.chats.get(&chat).and_then(|c| c.title.as_deref());
    escape_html(&chat_label(title, chat))
}

pub fn help(role: Role, chat_manager: bool) -> String {
    let mut out = String::from(
        "Здравствуйте! Я помогаю бухгалтерской компании вовремя отвечать клиентам: \
         слежу, чтобы на каждый вопрос в рабочем чате был дан ответ в согласованный срок.\n",
    );
    if !role.is_staff() {
        out.push_str(
            "\nПросто задавайте вопросы в чате — ваш бухгалтер ответит в рабочее время.\n\
             /menu — меню: связаться с бухгалтером, часы работы, частые вопросы\n\
             /help — эта справка",
        );
        return out;
    }
    out.push_str(
        "\n<b>В групповом чате</b>\n/diagnose — состояние контроля сроков в чате\n\
         /menu — меню для клиентов (часы работы, частые вопросы, вызов бухгалтера)\n\
         /t НАЗВАНИЕ — отправить шаблон ответа (лучше ответом на сообщение клиента)\n\
         \n<b>В личном чате со мной</b>\n/mystats — статистика ответов за 30 дней\n\
         /mychats — ваши чаты\n/open — запросы, ожидающие ответа (сначала самые давние)\n",
    );
    if role >= Role::Manager || chat_manager {
        out.push_str(
            "\n<b>Настройки чата (менеджеры и администраторы, в групповом чате)</b>\n\
             /sla on | /sla off — включить или выключить контроль сроков\n\
             /sla 30 — порог ответа в рабочих минутах\n\
             /accountant add @username | /accountant remove @username — бухгалтер чата \
             (или ответом на сообщение сотрудника)\n\
             /hours mon-fri 09:00-18:00 — рабочие часы (можно несколько интервалов: \
             09:00-13:00 14:00-18:00)\n",
        );
    }
    out.push_str("\n/help — эта справка");
    out
}

/// "пн–пт 09:00–18:00; сб 10:00–14:00": consecutive days with the same
/// hours are grouped; days off are left out.
pub fn week_summary(week: &[Vec<Interval>; 7]) -> String {
    let mut parts = Vec::new();
    let mut d = 0;
    while d < 7 {
        let mut end = d;
        while end + 1 < 7 && week[end + 1] == week[d] {
            end += 1;
        }
        if !week[d].is_empty() {
            let days = if end == d {
                DAYS_RU[d].to_string()
            } else {
                format!("{}–{}", DAYS_RU[d], DAYS_RU[end])
            };
            let hours: Vec<String> = week[d].iter().map(ToString::to_string).collect();
            parts.push(format!("{days} {}", hours.join(", ")));
        }
        d = end + 1;
    }
    if parts.is_empty() {
        "нет рабочих часов".to_string()
    } else {
        parts.join("; ")
    }
}

fn yes_no(b: bool, yes: &str, no: &str) -> String {
    (if b { yes } else { no }).to_string()
}

pub fn diagnose(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    chat: i64,
    reads_all: Option<bool>,
    now: DateTime<Utc>,
) -> Result<String> {
    let seen = messages::count_since(conn, chat, (now - Duration::hours(24)).timestamp())?;
    let mut out = format!("<b>Диагностика: {}</b>\n", title(eff, chat));
    match reads_all {
        Some(true) => out.push_str("Бот видит все сообщения чата: да.\n"),
        Some(false) => out.push_str(
            "⚠️ Бот видит только команды и ответы на свои сообщения: включён режим \
             приватности. Отключите его в @BotFather (/setprivacy → Disable) или назначьте \
             бота администратором чата, иначе запросы клиентов не отслеживаются.\n",
        ),
        None => {}
    }
    let Some(cfg) = eff.config.chats.get(&chat) else {
        out.push_str(&format!(
            "Чат не зарегистрирован: сроки ответа не отслеживаются.\n\
             Сообщений за последние 24 часа: {seen}"
        ));
        return Ok(out);
    };
    let row = chats::get(conn, chat)?;
    let monitored = row.as_ref().is_none_or(|r| r.monitored);
    let sla = row.as_ref().is_none_or(|r| r.sla_enabled);
    let cal = &cfg.calendar;
    let hours = if cal.always_open {
        "круглосуточно".to_string()
    } else {
        week_summary(&cal.week)
    };
    let open = requests::open_for_chat(conn, chat)?.len();
    out.push_str(&format!(
        "Чат зарегистрирован.\nМониторинг: {}\nКонтроль сроков (SLA): {}\n\
         Порог ответа: {}\nКалендарь: {}, {hours}\nОткрытых запросов: {open}\n\
         Сообщений за последние 24 часа: {seen}",
        yes_no(monitored, "включён", "выключен"),
        yes_no(sla, "включён", "выключен"),
        minutes(i64::from(cfg.policy.threshold_minutes)),
        cal.timezone,
    ));
    if engine.settings_revision().is_some_and(|r| r < eff.revision) {
        out.push_str("\n(последние изменения вступят в силу в течение нескольких секунд)");
    }
    Ok(out)
}

/// The median as `buhbot replay` reports it (nearest rank), so the bot and
/// the reports never disagree on the same requests.
fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    crate::domain::sla::percentile(&v, 50.0)
}

pub fn my_stats(conn: &Connection, mine: &[i64], now: DateTime<Utc>) -> Result<String> {
    if mine.is_empty() {
        return Ok(NO_CHATS.to_string());
    }
    let since = (now - Duration::days(STATS_DAYS)).timestamp();
    let mut total = 0;
    let mut answered = Vec::new();
    let mut closed = 0;
    let mut in_time = 0;
    for &chat in mine {
        for r in requests::list(conn, false, Some(chat), i64::MAX)? {
            if r.received_at < since {
                break; // newest first
            }
            total += 1;
            if r.status == RequestStatus::Open {
                continue;
            }
            closed += 1;
            if !r.breached {
                in_time += 1;
            }
            if r.status == RequestStatus::Answered
                && let Some(m) = r.working_minutes
            {
                answered.push(m);
            }
        }
    }
    let mut out = format!(
        "<b>Статистика за {STATS_DAYS} дней</b> ({} {})\n\
         Запросов клиентов: {total}\nОтвечено: {}\n",
        mine.len(),
        plural(mine.len() as i64, "чат", "чата", "чатов"),
        answered.len(),
    );
    match median(answered) {
        Some(m) => out.push_str(&format!("Медиана времени ответа: {}\n", minutes(m))),
        None => out.push_str("Медиана времени ответа: нет ответов\n"),
    }
    if closed > 0 {
        out.push_str(&format!(
            "Соблюдение срока: {}% ({in_time} из {closed})",
            in_time * 100 / closed
        ));
    } else {
        out.push_str("Соблюдение срока: нет закрытых запросов");
    }
    Ok(out)
}

const NO_CHATS: &str = "За вами пока не закреплено ни одного чата.";

pub fn my_chats(conn: &Connection, eff: &Effective, mine: &[i64], user: i64) -> Result<String> {
    if mine.is_empty() {
        return Ok(NO_CHATS.to_string());
    }
    let mut out = String::from("<b>Ваши чаты</b>\n");
    for &chat in mine {
        let Some(cfg) = eff.config.chats.get(&chat) else {
            continue;
        };
        let role = if cfg.managers.contains(&user) {
            ", вы менеджер"
        } else if cfg.accountants.contains(&user) {
            ", вы бухгалтер"
        } else {
            ""
        };
        let state = if eff.paused.contains(&chat) {
            "контроль сроков выключен".to_string()
        } else {
            format!("порог {}", minutes(i64::from(cfg.policy.threshold_minutes)))
        };
        let open = requests::open_for_chat(conn, chat)?.len();
        out.push_str(&format!(
            "• {} — {state}, открытых запросов: {open}{role}\n",
            title(eff, chat)
        ));
    }
    Ok(out.trim_end().to_string())
}

pub fn open(
    conn: &Connection,
    engine: &Engine,
    eff: &Effective,
    mine: &[i64],
    now: DateTime<Utc>,
) -> Result<String> {
    // Oldest first, as the store returns them.
    let rows: Vec<_> = requests::all_open(conn)?
        .into_iter()
        .filter(|r| mine.contains(&r.chat_id))
        .collect();
    if rows.is_empty() {
        return Ok("Открытых запросов нет: всем клиентам ответили.".to_string());
    }
    let mut out = format!("<b>Ожидают ответа: {}</b>\n", rows.len());
    for r in rows.iter().take(OPEN_LIMIT) {
        let cal = engine.calendar(r.chat_id);
        let waited = engine.used_seconds(r, now) / 60;
        let local = at(r.received_at).with_timezone(&cal.timezone());
        let text = messages::text_of(conn, r.chat_id, r.message_id)?
            .map(|(t, _)| escape_html(&preview(&t, 80)))
            .unwrap_or_default();
        out.push_str(&format!(
            "• {} — ждёт {} (с {}): {text}\n",
            title(eff, r.chat_id),
            minutes(waited),
            local.format("%d.%m %H:%M"),
        ));
    }
    if rows.len() > OPEN_LIMIT {
        out.push_str(&format!("…и ещё {}", rows.len() - OPEN_LIMIT));
    }
    Ok(out.trim_end().to_string())
}
