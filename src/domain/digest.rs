//! The weekly digest to the managers (pure): which week a run covers, and
//! its text (Telegram HTML, one message).

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;

use super::render::{escape_html, plural};
use super::sla::Line;

/// Telegram's limit on one message, in characters (after entity parsing;
/// the tags are few, so the raw text is kept well under it).
pub const MAX_CHARS: usize = 3900;

/// The last full Monday–Sunday week before `now`'s local day in `tz`:
/// `(monday, sunday)`. A run on Monday 09:00 covers the seven days that
/// ended at midnight; a run caught up later in the week still covers that
/// week, so a late digest is the same digest (and keyed the same).
pub fn week_before(tz: Tz, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&tz).date_naive();
    let this_monday = today
        .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
        .unwrap_or(today);
    let monday = this_monday
        .checked_sub_days(Days::new(7))
        .unwrap_or(this_monday);
    let sunday = this_monday
        .checked_sub_days(Days::new(1))
        .unwrap_or(this_monday);
    (monday, sunday)
}

/// A long wait of the week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitLine {
    pub chat: String,
    pub received_at: DateTime<Utc>,
    pub working_minutes: i64,
    pub answered_by: Option<String>,
}

/// A request open as the digest is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLine {
    pub chat: String,
    pub received_at: DateTime<Utc>,
    pub breached: bool,
}

/// A survey's results in the week (campaigns running or closed in it).
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyLine {
    pub title: String,
    pub votes: usize,
    pub average: Option<f64>,
    /// Chats that voted, of those asked, in percent.
    pub response_percent: Option<f64>,
}

/// What the digest says; names already resolved.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    pub tz: Tz,
    pub monday: NaiveDate,
    pub sunday: NaiveDate,
    pub total: &'a Line,
    pub chats: &'a [Line],
    pub accountants: &'a [Line],
    pub worst: &'a [WaitLine],
    /// All requests open now, and the oldest of them.
    pub open_now: usize,
    pub open_breached: usize,
    pub oldest_open: &'a [OpenLine],
    pub surveys: &'a [SurveyLine],
    /// Lines per list.
    pub top: usize,
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.1} %").replace('.', ","))
}

fn mins(v: Option<i64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v} мин"))
}

fn requests_ru(n: usize) -> String {
    let n = n as i64;
    format!("{n} {}", plural(n, "обращение", "обращения", "обращений"))
}

/// Worst first: lowest compliance, then most breaches, then by name.
fn worst_first(lines: &[Line]) -> Vec<&Line> {
    let mut v: Vec<&Line> = lines.iter().filter(|l| l.summary.requests > 0).collect();
    v.sort_by(|a, b| {
        let (ca, cb) = (
            a.summary.compliance_percent.unwrap_or(100.0),
            b.summary.compliance_percent.unwrap_or(100.0),
        );
        ca.total_cmp(&cb)
            .then(b.summary.breached.cmp(&a.summary.breached))
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    v
}

fn name_of(l: &Line) -> String {
    escape_html(&l.name.clone().unwrap_or_else(|| l.id.to_string()))
}

fn more(out: &mut String, shown: usize, all: usize) {
    if all > shown {
        out.push_str(&format!("  …и ещё {}\n", all - shown));
    }
}

fn local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%d.%m %H:%M").to_string()
}

impl Digest<'_> {
    /// The message: the totals, the worst accountants and chats, the
    /// longest waits, what is open now, the surveys. Cut to
    /// [`MAX_CHARS`] at a line end if the lists are long.
    pub fn html(&self) -> String {
        let t = &self.total.summary;
        let mut out = format!(
            "📊 <b>Сводка SLA за неделю {} – {}</b>\n\n",
            self.monday.format("%d.%m"),
            self.sunday.format("%d.%m.%Y")
        );
        if t.requests == 0 {
            out.push_str("За неделю обращений клиентов не было.\n");
        } else {
            out.push_str(&format!(
                "{}, отвечено {}, с нарушением срока {}.\nСоблюдение срока: <b>{}</b>; медиана ответа {}, p95 {} (рабочие минуты).\n",
                requests_ru(t.requests),
                t.answered,
                t.breached,
                pct(t.compliance_percent),
                mins(t.median_minutes),
                mins(t.p95_minutes),
            ));
        }
        let lists: [(&str, &[Line]); 2] = [
            ("По бухгалтерам", self.accountants),
            ("По чатам", self.chats),
        ];
        for (title, lines) in lists {
            let sorted = worst_first(lines);
            if sorted.is_empty() {
                continue;
            }
            out.push_str(&format!("\n<b>{title}</b> (сначала худшие):\n"));
            for l in sorted.iter().take(self.top) {
                let s = &l.summary;
                out.push_str(&format!(
                    "• {}: {}, соблюдение {}, нарушений {}, медиана {}\n",
                    name_of(l),
                    requests_ru(s.requests),
                    pct(s.compliance_percent),
                    s.breached,
                    mins(s.median_minutes),
                ));
            }
            more(&mut out, self.top.min(sorted.len()), sorted.len());
        }
        if !self.worst.is_empty() {
            out.push_str("\n<b>Самые долгие ожидания</b>:\n");
            for w in self.worst.iter().take(self.top) {
                let by = w
                    .answered_by
                    .as_deref()
                    .map_or_else(String::new, |b| format!(", ответ: {}", escape_html(b)));
                out.push_str(&format!(
                    "• {}, {} — {}{by}\n",
                    escape_html(&w.chat),
                    local(self.tz, w.received_at),
                    mins(Some(w.working_minutes)),
                ));
            }
        }
        out.push_str(&format!(
            "\n<b>Открыто сейчас</b>: {}, из них просрочено {}.\n",
            requests_ru(self.open_now),
            self.open_breached
        ));
        for o in self.oldest_open.iter().take(self.top) {
            out.push_str(&format!(
                "• {}, с {}{}\n",
                escape_html(&o.chat),
                local(self.tz, o.received_at),
                if o.breached {
                    " — срок истёк"
                } else {
                    ""
                }
            ));
        }
        more(
            &mut out,
            self.top.min(self.oldest_open.len()),
            self.open_now,
        );
        if !self.surveys.is_empty() {
            out.push_str("\n<b>Опросы клиентов</b>:\n");
            for s in self.surveys.iter().take(self.top) {
                out.push_str(&format!(
                    "• {}: {} {}, средняя оценка {}, ответили {}\n",
                    escape_html(&s.title),
                    s.votes,
                    plural(s.votes as i64, "голос", "голоса", "голосов"),
                    s.average
                        .map_or_else(|| "—".into(), |a| format!("{a:.2}").replace('.', ",")),
                    pct(s.response_percent),
                ));
            }
        }
        cut_at_line(out, MAX_CHARS)
    }
}

/// `s` cut to at most `max` characters at a line end, marking the cut.
fn cut_at_line(s: String, max: usize) -> String {
    let Some((limit, _)) = s.char_indices().nth(max) else {
        return s;
    };
    let end = s[..limit].rfind('\n').unwrap_or(limit);
    format!("{}\n…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::{Group, RequestFigures};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_week_is_the_last_full_one_in_local_time() {
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Monday 09:00 Moscow: the week that ended at midnight.
        let monday = week_before(tz, at("2026-12-07T06:00:00Z"));
        assert_eq!(monday, (d("2026-11-30"), d("2026-12-06")));
        // Sunday 23:30 UTC is already Monday in Moscow.
        assert_eq!(week_before(tz, at("2026-12-06T23:30:00Z")), monday);
        // Caught up on Thursday: still that week.
        assert_eq!(week_before(tz, at("2026-12-10T12:00:00Z")), monday);
        // Sunday evening: the week before.
        assert_eq!(
            week_before(tz, at("2026-12-06T18:00:00Z")),
            (d("2026-11-23"), d("2026-11-29"))
        );
    }

    fn line(id: i64, name: &str, figures: &[(bool, Option<i64>)]) -> Line {
        let mut g = Group::default();
        for &(breached, answered_minutes) in figures {
            let f = RequestFigures {
                breached,
                answered_minutes,
            };
            g.add(f, answered_minutes.is_none());
        }
        g.line(id, Some(name.to_string()))
    }

    #[test]
    fn worst_come_first_and_long_lists_are_cut() {
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let good = line(1, "ООО <Ромашка>", &[(false, Some(10)), (false, Some(20))]);
        let bad = line(2, "ИП Петров", &[(true, Some(90)), (false, Some(5))]);
        let chats = vec![good.clone(), bad.clone()];
        let total = line(0, "", &[(false, Some(10)), (true, Some(90)), (false, None)]);
        let many: Vec<Line> = (10..40)
            .map(|i| line(i, &format!("Бухгалтер {i}"), &[(false, Some(i))]))
            .collect();
        let open: Vec<OpenLine> = (0..3)
            .map(|i| OpenLine {
                chat: format!("Чат {i}"),
                received_at: at("2026-12-04T07:00:00Z"),
                breached: i == 0,
            })
            .collect();
        let d = Digest {
            tz,
            monday: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            sunday: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
            total: &total,
            chats: &chats,
            accountants: &many,
            worst: &[],
            open_now: 7,
            open_breached: 1,
            oldest_open: &open,
            surveys: &[],
            top: 5,
        };
        let html = d.html();
        assert!(html.contains("30.11 – 06.12.2026"), "{html}");
        assert!(
            html.contains("3 обращения, отвечено 2, с нарушением срока 1"),
            "{html}"
        );
        let (petrov, romashka) = (
            html.find("ИП Петров").unwrap(),
            html.find("ООО &lt;Ромашка&gt;").unwrap(),
        );
        assert!(petrov < romashka, "the worse chat first: {html}");
        assert!(html.contains("соблюдение 50,0 %"), "{html}");
        assert!(
            html.contains("…и ещё 25"),
            "30 accountants, 5 shown: {html}"
        );
        assert!(
            html.contains("Открыто сейчас</b>: 7 обращений, из них просрочено 1"),
            "{html}"
        );
        assert!(
            html.contains("• Чат 0, с 04.12 10:00 — срок истёк"),
            "local time: {html}"
        );
        assert!(html.contains("…и ещё 4"), "7 open, 3 listed: {html}");
        assert!(!html.contains("Опросы"), "{html}");
    }

    #[test]
    fn a_quiet_week_says_so_and_the_text_fits_one_message() {
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let total = line(0, "", &[]);
        let long: Vec<Line> = (0..20)
            .map(|i| {
                line(
                    i,
                    &"Очень длинное название чата ".repeat(10),
                    &[(true, Some(i))],
                )
            })
            .collect();
        let d = Digest {
            tz,
            monday: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            sunday: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
            total: &total,
            chats: &long,
            accountants: &long,
            worst: &[],
            open_now: 0,
            open_breached: 0,
            oldest_open: &[],
            surveys: &[SurveyLine {
                title: "Опрос IV квартала".into(),
                votes: 3,
                average: Some(4.333),
                response_percent: Some(60.0),
            }],
            top: 20,
        };
        let html = d.html();
        assert!(html.contains("обращений клиентов не было"), "{html}");
        assert!(
            html.chars().count() <= MAX_CHARS + 2,
            "{}",
            html.chars().count()
        );
        assert!(html.ends_with("\n…"), "marked as cut: {html}");
    }
}
