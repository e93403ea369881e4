//! `[digest]`: the weekly digest to the managers (issue 13; the job is
//! `crate::daemon::jobs::digest`).

use super::reader::{Problems, Table, cron};

pub const DIGEST_KEYS: &[&str] = &["enabled", "schedule", "top"];

/// When and how much of last week's figures the managers get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSettings {
    pub enabled: bool,
    /// 6-field cron in the `[calendar]` timezone; the digest covers the
    /// last full Monday–Sunday week before the run.
    pub schedule: String,
    /// Lines per list (chats, accountants, worst waits, open requests):
    /// the digest is one Telegram message (4096 characters at most).
    pub top: u32,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            enabled: true,
            schedule: "0 0 9 * * Mon".into(),
            top: 5,
        }
    }
}

pub fn read_digest(problems: &mut Problems<'_>, t: &Table<'_>) -> DigestSettings {
    let d = DigestSettings::default();
    DigestSettings {
        enabled: t.get(problems, "enabled").unwrap_or(d.enabled),
        schedule: cron(problems, t, "schedule", &d.schedule),
        top: t.int_in(problems, "top", 1..=20).unwrap_or(d.top),
    }
}
