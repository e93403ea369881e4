//! `[faq]`: the FAQ auto-answers (issue 13).

use super::reader::{Problems, Table};

pub const FAQ_KEYS: &[&str] = &["enabled", "min_score", "stops_sla", "repeat_after_minutes"];

/// How the daemon answers client messages from the FAQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaqSettings {
    /// Off: no message is answered (entries stay editable).
    pub enabled: bool,
    /// Points an entry needs: one per word of each keyword found.
    pub min_score: u32,
    /// Whether an FAQ answer also answers the request for the SLA clock
    /// (per chat: `[[chats]] faq_stops_sla`). Off by default: the
    /// accountant still owes a human answer.
    pub stops_sla: bool,
    /// One answer per client per entry within this many minutes.
    pub repeat_after_minutes: u32,
}

impl Default for FaqSettings {
    fn default() -> Self {
        FaqSettings {
            enabled: true,
            min_score: 1,
            stops_sla: false,
            repeat_after_minutes: 60,
        }
    }
}

pub fn read_faq(problems: &mut Problems<'_>, t: &Table<'_>) -> FaqSettings {
    let d = FaqSettings::default();
    FaqSettings {
        enabled: t.get(problems, "enabled").unwrap_or(d.enabled),
        min_score: t
            .int_in(problems, "min_score", 1..=20)
            .unwrap_or(d.min_score),
        stops_sla: t.get(problems, "stops_sla").unwrap_or(d.stops_sla),
        repeat_after_minutes: t
            .int_in(problems, "repeat_after_minutes", 1..=10_080)
            .unwrap_or(d.repeat_after_minutes),
    }
}
