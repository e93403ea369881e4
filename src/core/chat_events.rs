//! Chat lifecycle events: what the bot being added to or removed from a
//! group, a title change and a group's upgrade to a supergroup change in the
//! store, written in the ingest batch's transaction like messages are.
//!
//! - Added: a group without a row is registered with the default calendar
//!   and policy (NULL overrides), monitored, and with SLA off unless
//!   `sla.enabled_for_new_chats` is set or the group has a `[[chats]]`
//!   entry (configured by hand: it was meant to be tracked). A group with a
//!   row (the bot re-added) is monitored again; its SLA switch, policy and
//!   staff stay as a manager left them.
//! - Removed: monitoring off; the row and all history are kept.
//! - Title: the row's title. A group without a row gets one with the
//!   schema's defaults (monitored, SLA on), which is how a group without a
//!   row was already treated: a title change must not pause tracking.
//! - Migrated: the settings row, staff, calendar, holidays, messages,
//!   requests (their timers and alerts follow by request id) and survey
//!   answers move to the supergroup's id; the old row stays as a tombstone
//!   (`monitored = 0`, `migrated_to = new`) rather than being deleted, so
//!   that the audit trail and a late delivery from the old id still resolve
//!   (the engine logs those under the new id), the configuration's entry
//!   for the old id keeps applying to the new one (see
//!   [`super::effective`]), and a second announcement of the same upgrade
//!   (Telegram sends it in both groups) finds it done and changes nothing.
//!
//! Every change goes through [`chats::put`], which bumps the settings
//! revision and writes the audit line (the outbox triggers queue the row
//! for Postgres, see [`outbox::record_move`] for the move); the ingest batch then
//! rebuilds its engine before the next event.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::engine::{Engine, at};
use super::event::EventKind;
use crate::store::chats::{self, ChatRow};
use crate::store::{Result, outbox, requests};

/// What a chat event did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatOutcome {
    /// The chat settings changed: the engine must be rebuilt.
    pub changed: bool,
    /// Rows moved to the supergroup's id by a migration.
    pub moved: chats::Moved,
}

/// The audit trail's "by": the user who added the bot, else the source.
fn actor(by: Option<i64>) -> String {
    by.map_or_else(|| "telegram".to_string(), |u| u.to_string())
}

/// A row as the schema's defaults make it: no overrides, monitored, SLA on.
fn default_row(id: i64, title: String) -> ChatRow {
    ChatRow {
        id,
        title,
        monitored: true,
        sla_enabled: true,
        threshold_minutes: None,
        warning_percent: None,
        escalation_interval_minutes: None,
        max_escalations: None,
        migrated_to: None,
    }
}

impl Engine {
    /// Applies a chat lifecycle event in the caller's transaction. Messages
    /// go through [`Engine::ingest`]; given one, this does nothing.
    pub fn chat_event(
        &self,
        conn: &Connection,
        ev: &EventKind,
        now: DateTime<Utc>,
    ) -> Result<ChatOutcome> {
        let now = now.timestamp();
        let changed = match ev {
            EventKind::Message(_) => false,
            EventKind::ChatAdded {
                chat_id, title, by, ..
            } => self.added(conn, *chat_id, title.as_deref(), *by, now)?,
            EventKind::ChatRemoved { chat_id, .. } => {
                let row = chats::get(conn, *chat_id)?
                    .unwrap_or_else(|| default_row(*chat_id, String::new()));
                let new = ChatRow {
                    monitored: false,
                    ..row
                };
                let what = format!("chat {chat_id}: the bot was removed, monitoring off");
                chats::put(conn, &new, "telegram", what, now)?
            }
            EventKind::ChatTitle { chat_id, title, .. } => {
                let row = chats::get(conn, *chat_id)?
                    .unwrap_or_else(|| default_row(*chat_id, String::new()));
                let new = ChatRow {
                    title: title.clone(),
                    ..row
                };
                let what = format!("chat {chat_id}: title changed");
                chats::put(conn, &new, "telegram", what, now)?
            }
            EventKind::ChatMigrated {
                old_chat_id,
                new_chat_id,
                ..
            } => return self.migrated(conn, *old_chat_id, *new_chat_id, now),
        };
        Ok(ChatOutcome {
            changed,
            ..ChatOutcome::default()
        })
    }

    fn added(
        &self,
        conn: &Connection,
        chat: i64,
        title: Option<&str>,
        by: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let title = title.filter(|t| !t.is_empty());
        let (new, what) = match chats::get(conn, chat)? {
            // A basic group that became a supergroup cannot take the bot
            // again: a late announcement changes nothing.
            Some(row) if row.migrated_to.is_some() => return Ok(false),
            Some(row) => (
                ChatRow {
                    monitored: true,
                    title: title.map_or(row.title.clone(), str::to_string),
                    ..row
                },
                format!("chat {chat}: the bot was added again, monitoring on"),
            ),
            None => {
                let configured = self.base_config().chats.contains_key(&chat);
                let row = ChatRow {
                    sla_enabled: configured || self.config.sla_enabled_for_new_chats,
                    ..default_row(chat, title.unwrap_or_default().to_string())
                };
                let what = format!(
                    "chat {chat} registered: the bot was added (SLA {})",
                    if row.sla_enabled { "on" } else { "off" }
                );
                (row, what)
            }
        };
        chats::put(conn, &new, &actor(by), what, now)
    }

    fn migrated(&self, conn: &Connection, old: i64, new: i64, now: i64) -> Result<ChatOutcome> {
        let mut out = ChatOutcome::default();
        if old == new {
            return Ok(out);
        }
        let old_row = chats::get(conn, old)?;
        match old_row.as_ref().and_then(|r| r.migrated_to) {
            None => {}
            Some(to) if to == new => {
                // Done before (the other group's announcement, or a repeated
                // delivery). Rows keyed by the old id since, say staff set
                // from the shell on the old id, still move.
                out.moved = self.move_rows(conn, old, new, now)?;
                if out.moved.total() > 0 {
                    tracing::info!(old, new, moved = ?out.moved, "rows of a migrated chat moved");
                    out.changed = true;
                }
                return Ok(out);
            }
            Some(to) => {
                tracing::warn!(
                    old,
                    new,
                    to,
                    "chat {old} already became {to}; ignoring a migration to {new}"
                );
                return Ok(out);
            }
        }
        let new_row = chats::get(conn, new)?;
        // The old group's settings win over a row the supergroup may have
        // got first (say, from a message's title): they are what a manager
        // set. Without an old row the group ran on the defaults.
        let settings = old_row
            .clone()
            .or_else(|| new_row.clone())
            .unwrap_or_else(|| default_row(new, String::new()));
        let title = new_row
            .as_ref()
            .map(|r| r.title.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| old_row.as_ref().map(|r| r.title.clone()))
            .unwrap_or_default();
        let target = ChatRow {
            id: new,
            title,
            migrated_to: None,
            ..settings.clone()
        };
        let what = format!("chat {new}: settings of group {old} moved (upgraded to a supergroup)");
        out.changed |= chats::put(conn, &target, "telegram", what, now)?;
        out.moved = self.move_rows(conn, old, new, now)?;
        let tombstone = ChatRow {
            id: old,
            title: old_row.map(|r| r.title).unwrap_or_default(),
            monitored: false,
            migrated_to: Some(new),
            ..settings
        };
        let what = format!(
            "chat {old} became supergroup {new}: {} row(s) moved, monitoring off",
            out.moved.total()
        );
        out.changed |= chats::put(conn, &tombstone, "telegram", what, now)?;
        tracing::info!(old, new, moved = ?out.moved, "chat upgraded to a supergroup");
        Ok(out)
    }

    /// Moves the rows keyed by `old` to `new`. Open requests are first
    /// re-anchored at `now` on the old chat's calendar, so that re-timing
    /// after the engine is rebuilt counts the time already used on the
    /// calendar it was used under, whatever calendar the new id gets.
    fn move_rows(&self, conn: &Connection, old: i64, new: i64, now: i64) -> Result<chats::Moved> {
        outbox::record_move(conn, old, new)?;
        for row in requests::open_for_chat(conn, old)? {
            let anchor = now.max(row.anchor_at);
            let used = self.used_seconds(&row, at(anchor));
            requests::retime(
                conn,
                row.id,
                anchor,
                used,
                row.threshold_minutes,
                row.deadline_at,
            )?;
        }
        let moved = chats::move_rows(conn, old, new)?;
        Ok(moved)
    }
}
