//! `[receipts]` and `[menu]`: the bot's client-facing helpers (issue 13):
//! file receipts, the client menu and the out-of-hours auto-reply.

use super::reader::{Problems, Table};

pub const RECEIPTS_KEYS: &[&str] = &["enabled", "burst_seconds", "notify_accountant"];
pub const MENU_KEYS: &[&str] = &["enabled", "contact_escalate_minutes", "out_of_hours_reply"];

/// How client files are confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptsSettings {
    /// The default for every chat (per chat: `[[chats]] receipts`, or
    /// `buhbot chats set ID --receipts on|off`).
    pub enabled: bool,
    /// Files of one client closer together than this are one burst: one
    /// confirmation.
    pub burst_seconds: u32,
    /// Whether the chat's accountants are told in private as well.
    pub notify_accountant: bool,
}

impl Default for ReceiptsSettings {
    fn default() -> Self {
        ReceiptsSettings {
            enabled: true,
            burst_seconds: 120,
            notify_accountant: true,
        }
    }
}

pub fn read_receipts(problems: &mut Problems<'_>, t: &Table<'_>) -> ReceiptsSettings {
    let d = ReceiptsSettings::default();
    ReceiptsSettings {
        enabled: t.get(problems, "enabled").unwrap_or(d.enabled),
        burst_seconds: t
            .int_in(problems, "burst_seconds", 5..=3_600)
            .unwrap_or(d.burst_seconds),
        notify_accountant: t
            .get(problems, "notify_accountant")
            .unwrap_or(d.notify_accountant),
    }
}

/// `[menu]`: the client menu (`/menu` in a chat) and the out-of-hours
/// reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MenuSettings {
    /// Whether `/menu` posts the menu (off: the command is ignored).
    pub enabled: bool,
    /// How long "contact the accountant" waits for a staff answer before
    /// the next level is told (accountants, the chat's managers, the
    /// firm's managers).
    pub contact_escalate_minutes: u32,
    /// The default for every chat (per chat: `[[chats]]
    /// out_of_hours_reply`, or `buhbot chats set ID --out-of-hours-reply`).
    /// Off by default.
    pub out_of_hours_reply: bool,
}

impl Default for MenuSettings {
    fn default() -> Self {
        MenuSettings {
            enabled: true,
            contact_escalate_minutes: 30,
            out_of_hours_reply: false,
        }
    }
}

pub fn read_menu(problems: &mut Problems<'_>, t: &Table<'_>) -> MenuSettings {
    let d = MenuSettings::default();
    MenuSettings {
        enabled: t.get(problems, "enabled").unwrap_or(d.enabled),
        contact_escalate_minutes: t
            .int_in(problems, "contact_escalate_minutes", 1..=1_440)
            .unwrap_or(d.contact_escalate_minutes),
        out_of_hours_reply: t
            .get(problems, "out_of_hours_reply")
            .unwrap_or(d.out_of_hours_reply),
    }
}
