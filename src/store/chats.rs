//! Monitored chats as set from the shell: the `chats` row (title, switches,
//! policy overrides; NULL = the configuration's value), the chat's staff
//! (`chat_staff`) and its own calendar (`working_schedules`). Every change
//! is validated, bumps the settings revision and is audited.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::codec;
use super::settings::{self, Change, Result, SettingsError, check_range};
use crate::domain::calendar::CalendarSpec;

/// A person's part in one chat (`chat_staff.role`): accountants answer its
/// clients, managers get its breaches and escalations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChatRole {
    Accountant,
    Manager,
}

stored_enum!(ChatRole, "chat role", {
    Accountant => "accountant",
    Manager => "manager",
});

/// `chats.kind`, derived from the id (written for people and upstream;
/// nothing reads it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Group,
    Supergroup,
}

stored_enum!(ChatKind, "chat kind", {
    Group => "group",
    Supergroup => "supergroup",
});

impl ChatKind {
    pub fn of(id: i64) -> ChatKind {
        if id < SUPERGROUP_BASE {
            ChatKind::Supergroup
        } else {
            ChatKind::Group
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatRow {
    pub id: i64,
    pub title: String,
    pub monitored: bool,
    pub sla_enabled: bool,
    pub threshold_minutes: Option<i64>,
    pub warning_percent: Option<i64>,
    pub escalation_interval_minutes: Option<i64>,
    pub max_escalations: Option<i64>,
    /// Set once the group became this supergroup: the row is then a
    /// tombstone (not monitored) and the configuration's `[[chats]]` entry
    /// for it applies to the new id (see `crate::core::effective`).
    pub migrated_to: Option<i64>,
}

/// A policy override to set: a value, or back to the configuration's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    Value(i64),
    Default,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChatChange {
    pub title: Option<String>,
    pub monitored: Option<bool>,
    pub sla_enabled: Option<bool>,
    pub threshold_minutes: Option<Override>,
    pub warning_percent: Option<Override>,
    pub escalation_interval_minutes: Option<Override>,
    pub max_escalations: Option<Override>,
}

/// Bot-API ids of supergroups and channels are `-100` followed by the
/// internal id (the one `t.me/c/` links use); other negative ids are basic
/// groups.
pub const SUPERGROUP_BASE: i64 = -1_000_000_000_000;

/// The valid ranges, the same as the configuration's (and the schema's).
pub const THRESHOLD: (i64, i64) = (1, 480);
pub const WARNING: (i64, i64) = (0, 99);
pub const INTERVAL: (i64, i64) = (5, 120);
pub const ESCALATIONS: (i64, i64) = (1, 10);

const COLUMNS: &str = "id, title, monitored, sla_enabled, threshold_minutes, warning_percent,
    escalation_interval_minutes, max_escalations, migrated_to";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ChatRow> {
    Ok(ChatRow {
        id: r.get(0)?,
        title: r.get(1)?,
        monitored: r.get(2)?,
        sla_enabled: r.get(3)?,
        threshold_minutes: r.get(4)?,
        warning_percent: r.get(5)?,
        escalation_interval_minutes: r.get(6)?,
        max_escalations: r.get(7)?,
        migrated_to: r.get(8)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> super::Result<Option<ChatRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM chats WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn list(conn: &Connection) -> super::Result<Vec<ChatRow>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM chats ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Creates the chat's row (every override NULL) unless it exists; returns
/// whether it was created.
pub fn ensure(conn: &Connection, id: i64, title: &str, by: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO chats (id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![id, title, now])?;
    if n == 1 {
        let new = get(conn, id)?;
        settings::record(
            conn,
            Change {
                by,
                entity: "chats",
                key: id.to_string(),
                what: format!("chat {id} added"),
                old: json!(null),
                new: json!(new),
            },
            now,
        )?;
    }
    Ok(n == 1)
}

fn apply(
    slot: &mut Option<i64>,
    field: &'static str,
    o: Option<Override>,
    range: (i64, i64),
) -> Result<()> {
    match o {
        None => {}
        Some(Override::Default) => *slot = None,
        Some(Override::Value(v)) => *slot = Some(check_range(field, v, range.0, range.1)?),
    }
    Ok(())
}

/// Applies `change` to an existing chat row; every value is checked before
/// anything is written.
pub fn update(
    conn: &Connection,
    id: i64,
    change: ChatChange,
    by: &str,
    now: i64,
) -> Result<ChatRow> {
    let old = get(conn, id)?.ok_or(SettingsError::NoChat(id))?;
    let mut new = old.clone();
    if let Some(t) = change.title {
        new.title = t;
    }
    if let Some(m) = change.monitored {
        new.monitored = m;
    }
    if let Some(s) = change.sla_enabled {
        new.sla_enabled = s;
    }
    apply(
        &mut new.threshold_minutes,
        "threshold",
        change.threshold_minutes,
        THRESHOLD,
    )?;
    apply(
        &mut new.warning_percent,
        "warning percent",
        change.warning_percent,
        WARNING,
    )?;
    apply(
        &mut new.escalation_interval_minutes,
        "escalation interval",
        change.escalation_interval_minutes,
        INTERVAL,
    )?;
    apply(
        &mut new.max_escalations,
        "max escalations",
        change.max_escalations,
        ESCALATIONS,
    )?;
    if new == old {
        return Ok(new);
    }
    conn.prepare_cached(
        "UPDATE chats SET title = ?2, monitored = ?3, sla_enabled = ?4, threshold_minutes = ?5,
             warning_percent = ?6, escalation_interval_minutes = ?7, max_escalations = ?8,
             updated_at = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        new.title,
        new.monitored,
        new.sla_enabled,
        new.threshold_minutes,
        new.warning_percent,
        new.escalation_interval_minutes,
        new.max_escalations,
        now
    ])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "chats",
            key: id.to_string(),
            what: format!("chat {id} changed"),
            old: json!(old),
            new: json!(new),
        },
        now,
    )?;
    Ok(new)
}

/// Every staff row: (chat, user, role), ordered.
pub fn all_staff(conn: &Connection) -> super::Result<Vec<(i64, i64, ChatRole)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT chat_id, user_id, role FROM chat_staff ORDER BY chat_id, role, user_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            codec::column(r, 2, "chat_staff", "role")?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A chat's staff rows: (user, role).
pub fn staff(conn: &Connection, chat: i64) -> super::Result<Vec<(i64, ChatRole)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, role FROM chat_staff WHERE chat_id = ?1 ORDER BY role, user_id",
    )?;
    let rows = stmt.query_map([chat], |r| {
        Ok((r.get(0)?, codec::column(r, 1, "chat_staff", "role")?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds (`add`) or removes a chat's accountant or manager; returns whether
/// anything changed.
pub fn set_staff(
    conn: &Connection,
    chat: i64,
    user: i64,
    role: ChatRole,
    add: bool,
    by: &str,
    now: i64,
) -> Result<bool> {
    get(conn, chat)?.ok_or(SettingsError::NoChat(chat))?;
    let n = if add {
        conn.prepare_cached(
            "INSERT INTO chat_staff (chat_id, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![chat, user, role])?
    } else {
        conn.prepare_cached(
            "DELETE FROM chat_staff WHERE chat_id = ?1 AND user_id = ?2 AND role = ?3",
        )?
        .execute(params![chat, user, role])?
    };
    if n > 0 {
        // The staff is a property of the chat: its row tells when it last
        // changed (the sync's conflict rule compares that time).
        conn.prepare_cached("UPDATE chats SET updated_at = ?2 WHERE id = ?1 AND updated_at < ?2")?
            .execute(params![chat, now])?;
        let member = json!({"chat_id": chat, "user_id": user, "role": role.to_string()});
        settings::record(
            conn,
            Change {
                by,
                entity: "chat_staff",
                key: format!("{chat}:{user}:{role}"),
                what: format!(
                    "{role} {user} {} chat {chat}",
                    if add { "added to" } else { "removed from" }
                ),
                old: if add { json!(null) } else { member.clone() },
                new: if add { member } else { json!(null) },
            },
            now,
        )?;
    }
    Ok(n > 0)
}

/// A chat's own calendar snippet, if it has one.
pub fn calendar(conn: &Connection, chat: i64) -> super::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT calendar FROM working_schedules WHERE chat_id = ?1")?
        .query_row([chat], |r| r.get(0))
        .optional()?)
}

/// Every chat's calendar snippet: (chat, snippet).
pub fn all_calendars(conn: &Connection) -> super::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached("SELECT chat_id, calendar FROM working_schedules")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets (`Some`) or clears a chat's calendar. A snippet is validated over
/// `base` with the configuration's own calendar reader before it is stored.
#[allow(clippy::too_many_arguments)]
pub fn set_calendar(
    conn: &Connection,
    chat: i64,
    snippet: Option<&str>,
    base: &CalendarSpec,
    base_dir: &Path,
    by_user: Option<i64>,
    by: &str,
    now: i64,
) -> Result<bool> {
    get(conn, chat)?.ok_or(SettingsError::NoChat(chat))?;
    let old = calendar(conn, chat)?;
    if old.as_deref() == snippet {
        return Ok(false);
    }
    match snippet {
        Some(text) => {
            crate::config::parse_calendar_snippet_in(text, base, base_dir)
                .map_err(SettingsError::Calendar)?;
            conn.prepare_cached(
                "INSERT INTO working_schedules (chat_id, calendar, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (chat_id) DO UPDATE SET calendar = excluded.calendar,
                     updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            )?
            .execute(params![chat, text, by_user, now])?;
        }
        None => {
            conn.prepare_cached("DELETE FROM working_schedules WHERE chat_id = ?1")?
                .execute([chat])?;
        }
    }
    settings::record(
        conn,
        Change {
            by,
            entity: "working_schedules",
            key: chat.to_string(),
            what: format!(
                "calendar of chat {chat} {}",
                if snippet.is_some() { "set" } else { "cleared" }
            ),
            old: json!(old),
            new: json!(snippet),
        },
        now,
    )?;
    Ok(true)
}

/// Writes `new` as the chat's whole row (creating it) and records the
/// change as `what`, unless the row already says exactly that. Used by the
/// chat lifecycle events, whose values need no range check (they are copied
/// from rows that passed it). Returns whether anything changed.
pub fn put(
    conn: &Connection,
    new: &ChatRow,
    by: &str,
    what: String,
    now: i64,
) -> super::Result<bool> {
    let old = get(conn, new.id)?;
    if old.as_ref() == Some(new) {
        return Ok(false);
    }
    let kind = ChatKind::of(new.id);
    conn.prepare_cached(
        "INSERT INTO chats (id, title, kind, monitored, sla_enabled, threshold_minutes,
             warning_percent, escalation_interval_minutes, max_escalations, migrated_to,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title,
             monitored = excluded.monitored, sla_enabled = excluded.sla_enabled,
             threshold_minutes = excluded.threshold_minutes,
             warning_percent = excluded.warning_percent,
             escalation_interval_minutes = excluded.escalation_interval_minutes,
             max_escalations = excluded.max_escalations, migrated_to = excluded.migrated_to,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        new.id,
        new.title,
        kind,
        new.monitored,
        new.sla_enabled,
        new.threshold_minutes,
        new.warning_percent,
        new.escalation_interval_minutes,
        new.max_escalations,
        new.migrated_to,
        now
    ])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "chats",
            key: new.id.to_string(),
            what,
            old: json!(old),
            new: json!(new),
        },
        now,
    )?;
    Ok(true)
}

/// Rows moved from a basic group to its supergroup, by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub chat_staff: usize,
    pub working_schedules: usize,
    pub holidays: usize,
    pub messages: usize,
    pub client_requests: usize,
    /// The legacy table of 0001 (no longer written: votes are in
    /// `survey_votes`), moved for a store that still has rows in it.
    pub feedback_responses: usize,
    /// The per-chat switches of the bot's client helpers.
    pub chat_options: usize,
    /// The chat's surveys (their votes follow by the survey's id), so that
    /// the buttons pressed in the supergroup still count.
    pub survey_chats: usize,
    /// The client menu's contacts, so that an open one is still closed by
    /// a staff answer in the supergroup and escalates there meanwhile.
    pub menu_contacts: usize,
}

impl Moved {
    pub fn total(&self) -> usize {
        self.chat_staff
            + self.working_schedules
            + self.holidays
            + self.messages
            + self.client_requests
            + self.feedback_responses
            + self.chat_options
            + self.survey_chats
            + self.menu_contacts
    }
}

/// Moves every row keyed by chat `old` to chat `new` (whose `chats` row
/// must exist: staff and calendars reference it). Timers, alerts and
/// deliveries follow their request by its id.
///
/// A row whose key already exists under `new` keeps the existing row
/// (`UPDATE OR IGNORE`): message ids of a basic group and of its supergroup
/// do not overlap in practice, so only settings can collide. A colliding
/// staff row is the same member twice and is dropped; a colliding calendar
/// means the supergroup got its own since, which wins. Colliding history
/// (messages, requests, holidays, feedback) stays under `old` rather than
/// being deleted. Running it again moves nothing.
pub fn move_rows(conn: &Connection, old: i64, new: i64) -> super::Result<Moved> {
    let mv = |table: &str| -> super::Result<usize> {
        Ok(conn.execute(
            &format!("UPDATE OR IGNORE {table} SET chat_id = ?2 WHERE chat_id = ?1"),
            params![old, new],
        )?)
    };
    // The message log and the requests are their own modules' tables.
    let moved = Moved {
        chat_staff: mv("chat_staff")?,
        working_schedules: mv("working_schedules")?,
        holidays: mv("holidays")?,
        messages: super::messages::move_chat(conn, old, new)?,
        client_requests: super::requests::move_chat(conn, old, new)?,
        feedback_responses: mv("feedback_responses")?,
        chat_options: super::chat_options::move_chat(conn, old, new)?,
        survey_chats: mv("survey_chats")?,
        menu_contacts: mv("menu_contacts")?,
    };
    conn.execute("DELETE FROM chat_staff WHERE chat_id = ?1", [old])?;
    conn.execute("DELETE FROM working_schedules WHERE chat_id = ?1", [old])?;
    Ok(moved)
}

/// Stores (or with `None` clears) the chat's invite link, which the "open
/// the chat" button of a basic group's alerts uses. Only Telegram invite
/// links are accepted: the link ends up behind a button staff press.
pub fn set_invite_link(
    conn: &Connection,
    id: i64,
    link: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool> {
    let link = link.map(str::trim).filter(|l| !l.is_empty());
    if let Some(l) = link {
        let ok = ["https://t.me/+", "https://t.me/joinchat/"]
            .iter()
            .any(|p| l.len() > p.len() && l.starts_with(p))
            && !l.contains(char::is_whitespace);
        if !ok {
            return Err(SettingsError::InviteLink(l.to_string()));
        }
    }
    let old = invite_link(conn, id)?;
    if old.as_deref() == link {
        return Ok(false);
    }
    let n = conn.execute(
        "UPDATE chats SET invite_link = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, link, now],
    )?;
    if n == 0 {
        return Err(SettingsError::NoChat(id));
    }
    settings::record(
        conn,
        Change {
            by,
            entity: "chats",
            key: id.to_string(),
            what: format!(
                "chat {id}: invite link {}",
                if link.is_some() { "set" } else { "cleared" }
            ),
            old: json!({ "invite_link": old }),
            new: json!({ "invite_link": link }),
        },
        now,
    )?;
    Ok(true)
}

/// The chat's invite link, if one was stored: the only way to open a basic
/// group from an alert (supergroups have `t.me/c/…` message links).
pub fn invite_link(conn: &Connection, id: i64) -> super::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT invite_link FROM chats WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten()
        .filter(|l| !l.trim().is_empty()))
}
