//! Russian texts of SLA alerts (pure). Telegram gets HTML (parse mode
//! HTML), e-mail gets a subject and a plain-text body.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::sla::AlertKind;

/// Default and allowed length of the message preview in alerts.
pub const DEFAULT_PREVIEW_CHARS: usize = 500;

/// Everything an alert text shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertText<'a> {
    pub kind: AlertKind,
    pub level: u32,
    pub chat_title: &'a str,
    pub client_name: &'a str,
    pub received_at: DateTime<Utc>,
    pub timezone: Tz,
    /// Working minutes the client has waited so far.
    pub waiting_minutes: i64,
    pub threshold_minutes: i64,
    /// The request's first message.
    pub message: &'a str,
    pub preview_chars: usize,
}

/// Russian plural form for `n`: `plural(5, "минута", "минуты", "минут")`.
pub fn plural<'s>(n: i64, one: &'s str, few: &'s str, many: &'s str) -> &'s str {
    let n = n.unsigned_abs();
    match (n % 10, n % 100) {
        (1, r) if r != 11 => one,
        (2..=4, r) if !(12..=14).contains(&r) => few,
        _ => many,
    }
}

/// How bot texts name a chat: its configured title, else «чат ID» (plain
/// text; escape for HTML).
pub fn chat_label(title: Option<&str>, chat: i64) -> String {
    title.map_or_else(|| format!("чат {chat}"), str::to_string)
}

/// Escapes the three characters Telegram's HTML parse mode reserves.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` characters (not bytes), marking the cut.
pub fn preview(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}…", s[..cut].trim_end()),
    }
}

/// "N рабочих минут", declined.
pub fn minutes(n: i64) -> String {
    format!(
        "{n} {}",
        plural(n, "рабочая минута", "рабочие минуты", "рабочих минут")
    )
}

impl AlertText<'_> {
    fn headline(&self) -> String {
        match self.kind {
            AlertKind::Warning => "Скоро истечёт срок ответа клиенту".to_string(),
            AlertKind::Breach => "Нарушен срок ответа клиенту".to_string(),
            AlertKind::Escalation => format!(
                "Эскалация (уровень {}): клиент всё ещё ждёт ответа",
                self.level
            ),
        }
    }

    fn icon(&self) -> &'static str {
        match self.kind {
            AlertKind::Warning => "⏳",
            AlertKind::Breach => "🚨",
            AlertKind::Escalation => "🔺",
        }
    }

    fn received_local(&self) -> String {
        self.received_at
            .with_timezone(&self.timezone)
            .format("%d.%m.%Y %H:%M")
            .to_string()
    }

    /// HTML for Telegram; every value from users is escaped.
    pub fn html(&self) -> String {
        format!(
            "{} <b>{}</b>\n\n<b>Чат:</b> {}\n<b>Клиент:</b> {}\n<b>Получено:</b> {}\n<b>Ожидание:</b> {} (норматив {})\n\n<b>Сообщение:</b>\n<i>{}</i>",
            self.icon(),
            escape_html(&self.headline()),
            escape_html(self.chat_title),
            escape_html(self.client_name),
            self.received_local(),
            minutes(self.waiting_minutes),
            minutes(self.threshold_minutes),
            escape_html(&preview(self.message, self.preview_chars)),
        )
    }

    /// E-mail subject.
    pub fn subject(&self) -> String {
        format!("[buhbot] {}: {}", self.headline(), self.chat_title)
    }

    /// Plain-text e-mail body.
    pub fn plain(&self) -> String {
        format!(
            "{}\n\nЧат: {}\nКлиент: {}\nПолучено: {}\nОжидание: {} (норматив {})\n\nСообщение:\n{}\n\n-- \nbuhbot\n",
            self.headline(),
            self.chat_title,
            self.client_name,
            self.received_local(),
            minutes(self.waiting_minutes),
            minutes(self.threshold_minutes),
            preview(self.message, self.preview_chars),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(kind: AlertKind, message: &str) -> AlertText<'_> {
        AlertText {
            kind,
            level: 3,
            chat_title: "ООО <Ромашка> & Ко",
            client_name: "Иван",
            received_at: DateTime::parse_from_rfc3339("2025-01-13T07:00:00Z")
                .unwrap()
                .into(),
            timezone: chrono_tz::Europe::Moscow,
            waiting_minutes: 61,
            threshold_minutes: 60,
            message,
            preview_chars: 10,
        }
    }

    #[test]
    fn plural_forms() {
        let f = |n| plural(n, "минута", "минуты", "минут");
        assert_eq!(
            [
                f(1),
                f(2),
                f(5),
                f(11),
                f(12),
                f(21),
                f(22),
                f(25),
                f(111),
                f(0)
            ],
            [
                "минута",
                "минуты",
                "минут",
                "минут",
                "минут",
                "минута",
                "минуты",
                "минут",
                "минут",
                "минут"
            ]
        );
    }

    #[test]
    fn html_escapes_and_cuts_by_characters() {
        let t = text(AlertKind::Breach, "Где <мой> счёт & акт сверки?");
        let html = t.html();
        assert!(html.contains("ООО &lt;Ромашка&gt; &amp; Ко"), "{html}");
        assert!(html.contains("<i>Где &lt;мой&gt;…</i>"), "{html}");
        assert!(html.contains("13.01.2025 10:00"), "local time: {html}");
        assert!(
            html.contains("61 рабочая минута (норматив 60 рабочих минут)"),
            "{html}"
        );
    }

    #[test]
    fn each_kind_has_its_headline() {
        assert!(
            text(AlertKind::Warning, "x")
                .subject()
                .contains("Скоро истечёт")
        );
        assert!(
            text(AlertKind::Breach, "x")
                .plain()
                .starts_with("Нарушен срок")
        );
        assert!(
            text(AlertKind::Escalation, "x")
                .html()
                .contains("уровень 3")
        );
    }
}
