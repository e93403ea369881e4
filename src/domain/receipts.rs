//! File receipts: a client's document or photo is confirmed in the chat
//! once per burst, and the chat's accountants are told privately.
//!
//! A **burst** is a run of files one client sends into one chat with gaps
//! of at most `burst_seconds` between consecutive files: clients send a
//! scan as ten photos, or a month's papers as a dozen documents, and one
//! confirmation for the lot is what a person would write. The first file
//! of a burst is confirmed at once (the client sees it was received while
//! still sending); the rest extend the burst silently. Another client's
//! files in the same chat are their own burst.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::render::escape_html;

/// What kind of attachment a message carries (only those confirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    Document,
    Photo,
}

impl AttachmentKind {
    /// As the message log stores it (`messages.media_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Document => "document",
            AttachmentKind::Photo => "photo",
        }
    }
}

/// A document or photo as Telegram described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// The document's file name (photos have none).
    pub file_name: Option<String>,
    /// Bytes: the document's size, or the largest size of a photo.
    pub size: Option<u64>,
}

/// Whether a file at `at` starts a new burst, given when the same client's
/// previous file in the chat came (`None`: never, or forgotten).
pub fn starts_burst(previous: Option<i64>, at: i64, burst_seconds: u32) -> bool {
    match previous {
        None => true,
        // A file dated before the previous one (a late delivery) belongs
        // to the burst it came from.
        Some(p) => at - p > i64::from(burst_seconds),
    }
}

/// A size the way Russian speakers write it: "830 Б", "14 КБ", "1,2 МБ",
/// "2,5 ГБ" (binary units, one decimal below 10, a decimal comma).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["КБ", "МБ", "ГБ", "ТБ"];
    if bytes < 1024 {
        return format!("{bytes} Б");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // Rounded first, so 1023.96 КБ reads "1024 КБ" and 9.96 МБ "10 МБ".
    let tenths = (value * 10.0).round() as u64;
    if tenths < 100 && !tenths.is_multiple_of(10) {
        format!("{},{} {}", tenths / 10, tenths % 10, UNITS[unit])
    } else {
        format!("{} {}", value.round() as u64, UNITS[unit])
    }
}

/// "«акт.pdf», 1,2 МБ" / "фото, 340 КБ": what the file is, for the texts.
fn describe(a: &Attachment) -> String {
    let what = match (a.kind, a.file_name.as_deref().map(str::trim)) {
        (AttachmentKind::Document, Some(name)) if !name.is_empty() => {
            format!("«{}»", escape_html(name))
        }
        (AttachmentKind::Document, _) => "документ".to_string(),
        (AttachmentKind::Photo, _) => "фото".to_string(),
    };
    match a.size {
        Some(size) => format!("{what}, {}", format_size(size)),
        None => what,
    }
}

/// "13.01.2025 14:05" in the chat's time zone: the client and the
/// accountant read the time of their own clock, not the server's.
fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// The confirmation in the chat (Telegram HTML).
pub fn receipt_html(a: &Attachment, at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "📎 Файл получен: {} ({}). Бухгалтер посмотрит его в рабочее время. \
         Если вы отправляете несколько файлов, подтверждение придёт одно на все.",
        describe(a),
        local_time(at, tz)
    )
}

/// The accountant's private notice (Telegram HTML).
pub fn accountant_notice_html(
    a: &Attachment,
    client: &str,
    chat_title: &str,
    at: DateTime<Utc>,
    tz: Tz,
) -> String {
    format!(
        "📎 {} прислал(а) файл в чат «{}»: {} ({}).",
        escape_html(client),
        escape_html(chat_title),
        describe(a),
        local_time(at, tz)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_russians_write_them() {
        assert_eq!(format_size(0), "0 Б");
        assert_eq!(format_size(830), "830 Б");
        assert_eq!(format_size(1024), "1 КБ");
        assert_eq!(format_size(14 * 1024 + 100), "14 КБ");
        assert_eq!(format_size(1_258_291), "1,2 МБ");
        assert_eq!(format_size(1024 * 1024 - 1), "1024 КБ");
        assert_eq!(format_size(5 * 1024 * 1024 * 1024 / 2), "2,5 ГБ");
    }

    #[test]
    fn a_burst_ends_after_a_longer_gap() {
        assert!(starts_burst(None, 100, 60));
        assert!(!starts_burst(Some(100), 160, 60));
        assert!(starts_burst(Some(100), 161, 60));
        assert!(!starts_burst(Some(100), 90, 60));
    }

    #[test]
    fn texts_name_the_file_size_and_local_time() {
        let a = Attachment {
            kind: AttachmentKind::Document,
            file_name: Some("акт <сверки>.pdf".into()),
            size: Some(1_258_291),
        };
        let at = DateTime::parse_from_rfc3339("2025-01-13T11:05:00Z")
            .unwrap()
            .to_utc();
        let html = receipt_html(&a, at, chrono_tz::Europe::Moscow);
        assert!(
            html.contains("«акт &lt;сверки&gt;.pdf», 1,2 МБ (13.01.2025 14:05)"),
            "{html}"
        );
        let photo = Attachment {
            kind: AttachmentKind::Photo,
            file_name: None,
            size: None,
        };
        let notice = accountant_notice_html(
            &photo,
            "Иван",
            "ООО Ромашка",
            at,
            chrono_tz::Asia::Yekaterinburg,
        );
        assert!(
            notice.contains("в чат «ООО Ромашка»: фото (13.01.2025 16:05)"),
            "{notice}"
        );
    }
}
