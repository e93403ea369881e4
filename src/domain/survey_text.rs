//! The bot's survey texts (Russian, Telegram HTML with user content
//! escaped) and the results as text and CSV for the CLI.

use super::render::{escape_html, plural, preview};
use super::survey::{Results, VoteChange};

/// The survey message posted in a chat; its five buttons are the ratings.
pub fn survey_html(validity_days: u32) -> String {
    format!(
        "📋 <b>Оцените, пожалуйста, работу бухгалтерии</b>\n\
         Насколько вы довольны нашей работой за последнее время? \
         Нажмите оценку от 1 (плохо) до 5 (отлично). Голосовать может каждый \
         участник чата; оценку можно изменить, а повторное нажатие той же \
         оценки её отменяет. После оценки можно написать комментарий \
         следующим сообщением. Опрос открыт {validity_days} {}.",
        plural(i64::from(validity_days), "день", "дня", "дней")
    )
}

/// The reminder to a chat where nobody voted yet.
pub fn reminder_html() -> String {
    "🔔 Напоминаем об опросе: нам важно ваше мнение о работе бухгалтерии. \
     Пожалуйста, поставьте оценку от 1 до 5 кнопками ниже."
        .to_string()
}

/// The toast after a press (plain text).
pub fn vote_toast(change: VoteChange, comment_minutes: u32) -> String {
    let invite = format!(
        "Если хотите, напишите комментарий следующим сообщением в течение {comment_minutes} {}.",
        plural(i64::from(comment_minutes), "минуты", "минут", "минут")
    );
    match change {
        VoteChange::Cast(r) => format!("Спасибо! Ваша оценка: {r}. {invite}"),
        VoteChange::Changed { to, .. } => format!("Оценка изменена на {to}. {invite}"),
        VoteChange::Withdrawn(_) => "Ваша оценка отменена.".to_string(),
    }
}

pub const CLOSED_TOAST: &str = "Этот опрос уже завершён. Спасибо!";

/// The reply confirming a captured comment.
pub const COMMENT_SAVED_HTML: &str = "Спасибо, ваш комментарий к оценке сохранён.";

/// The alert to the chat's accountants and managers about a low rating.
pub fn low_rating_html(chat_title: &str, voter: &str, rating: u8, comment: Option<&str>) -> String {
    let mut s = format!(
        "⚠️ <b>Низкая оценка в опросе</b>\nЧат: «{}»\nКлиент: {}\nОценка: {rating} из 5",
        escape_html(chat_title),
        escape_html(voter)
    );
    match comment {
        Some(c) => s.push_str(&format!("\nКомментарий: {}", escape_html(&preview(c, 500)))),
        None => s.push_str("\nКомментария пока нет."),
    }
    s
}

/// The notice to a manager: chats of theirs that did not answer.
pub fn unanswered_html(campaign: i64, titles: &[String]) -> String {
    let list: Vec<String> = titles
        .iter()
        .map(|t| format!("• {}", escape_html(t)))
        .collect();
    format!(
        "📋 <b>Опрос №{campaign}</b>: в {} {} пока никто не ответил:\n{}",
        titles.len(),
        plural(titles.len() as i64, "чате", "чатах", "чатах"),
        list.join("\n")
    )
}

/// One results row, for the CLI.
pub struct ResultRow<'a> {
    /// "all" or a chat id.
    pub scope: String,
    pub title: &'a str,
    pub results: &'a Results,
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The CSV header and rows (RFC 4180 quoting of the title).
pub fn results_csv(rows: &[ResultRow<'_>]) -> String {
    let mut out = String::from(
        "scope,title,chats,answered_chats,response_rate,votes_1,votes_2,votes_3,votes_4,votes_5,\
         votes,average,promoters,passives,detractors,nps\n",
    );
    for r in rows {
        let res = r.results;
        let s = res.split();
        let v = res.votes;
        out.push_str(&format!(
            "{},\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.scope,
            r.title.replace('"', "\"\""),
            res.chats,
            res.answered_chats,
            fmt_opt(res.response_rate(), 3),
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            res.total(),
            fmt_opt(res.average(), 2),
            s.promoters,
            s.passives,
            s.detractors,
            fmt_opt(s.score(), 1),
        ));
    }
    out
}

/// The results as aligned text.
pub fn results_text(rows: &[ResultRow<'_>]) -> String {
    let mut out = format!(
        "{:<16} {:<30} {:>5} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}\n",
        "SCOPE", "TITLE", "CHATS", "RESPONSE", "1", "2", "3", "4", "5", "VOTES", "AVERAGE", "NPS"
    );
    for r in rows {
        let res = r.results;
        let v = res.votes;
        out.push_str(&format!(
            "{:<16} {:<30} {:>5} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}\n",
            r.scope,
            preview(r.title, 30),
            res.chats,
            res.response_rate()
                .map_or_else(|| "-".to_string(), |x| format!("{:.0}%", x * 100.0)),
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            res.total(),
            fmt_opt(res.average(), 2),
            fmt_opt(res.split().score(), 0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_quotes_titles_and_leaves_empty_figures_as_dashes() {
        let mut r = Results {
            chats: 2,
            answered_chats: 1,
            ..Results::default()
        };
        r.add_vote(5);
        r.add_vote(2);
        let none = Results::default();
        let csv = results_csv(&[
            ResultRow {
                scope: "-100".into(),
                title: "ООО \"Ромашка\"",
                results: &r,
            },
            ResultRow {
                scope: "-200".into(),
                title: "ИП",
                results: &none,
            },
        ]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[1],
            "-100,\"ООО \"\"Ромашка\"\"\",2,1,0.500,0,1,0,0,1,2,3.50,1,0,1,0.0"
        );
        assert_eq!(lines[2], "-200,\"ИП\",0,0,-,0,0,0,0,0,0,-,0,0,0,-");
    }

    #[test]
    fn the_low_rating_alert_escapes_the_comment() {
        let s = low_rating_html("ООО <Ромашка>", "Иван", 2, Some("долго & медленно"));
        assert!(s.contains("«ООО &lt;Ромашка&gt;»"), "{s}");
        assert!(s.contains("Оценка: 2 из 5"), "{s}");
        assert!(s.contains("долго &amp; медленно"), "{s}");
    }
}
