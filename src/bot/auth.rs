//! Who is asking: the firm's role of a Telegram user and the chats they
//! work in, read from the effective settings (configuration overlaid by the
//! store, freshly loaded per command so a change made a second ago counts).

use rusqlite::Connection;

use crate::core::effective::Effective;
use crate::store::{Result, users};

/// What a Telegram user may do: a staff member's role in the firm
/// ([`users::Role`]), or `Client` (not staff at all); lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Client,
    Observer,
    Accountant,
    Manager,
    Admin,
}

impl Role {
    pub fn is_staff(self) -> bool {
        self != Role::Client
    }
}

/// A staff member's role in the firm, as the `users` table holds it.
impl From<users::Role> for Role {
    fn from(r: users::Role) -> Role {
        match r {
            users::Role::Observer => Role::Observer,
            users::Role::Accountant => Role::Accountant,
            users::Role::Manager => Role::Manager,
            users::Role::Admin => Role::Admin,
        }
    }
}

/// The role of `user`. The `users` table decides; staff named only in the
/// configuration count as managers when they get every chat's escalations
/// (`[alerts] managers`), otherwise as accountants (per-chat manager rights
/// are checked separately, by [`is_chat_manager`]).
pub fn role_of(conn: &Connection, eff: &Effective, user: i64) -> Result<Role> {
    if let Some(row) = users::get(conn, user)? {
        return Ok(row.role.into());
    }
    Ok(if eff.config.alerts.managers.contains(&user) {
        Role::Manager
    } else if eff.config.staff().contains(&user) {
        Role::Accountant
    } else {
        Role::Client
    })
}

/// Whether `user` is a manager of `chat` (effective staff lists).
pub fn is_chat_manager(eff: &Effective, chat: i64, user: i64) -> bool {
    eff.config
        .chats
        .get(&chat)
        .is_some_and(|c| c.managers.contains(&user))
}

/// Whether `user` may change `chat`'s settings: the firm's managers and
/// admins anywhere, and the chat's own managers.
pub fn may_change(role: Role, eff: &Effective, chat: i64, user: i64) -> bool {
    role >= Role::Manager || is_chat_manager(eff, chat, user)
}

/// Whether `user` may mark a request of `chat` resolved: the firm's
/// managers and admins anywhere, and the chat's own accountants and
/// managers (an accountant of another chat may not).
pub fn may_resolve(role: Role, eff: &Effective, chat: i64, user: i64) -> bool {
    role >= Role::Manager
        || eff
            .config
            .chats
            .get(&chat)
            .is_some_and(|c| c.accountants.contains(&user) || c.managers.contains(&user))
}

/// The chats a staff member's statistics cover: every registered chat for
/// managers and admins (they answer for all of them), otherwise the chats
/// where the user is listed as an accountant or a manager.
pub fn chats_of(eff: &Effective, role: Role, user: i64) -> Vec<i64> {
    eff.config
        .chats
        .values()
        .filter(|c| {
            role >= Role::Manager || c.accountants.contains(&user) || c.managers.contains(&user)
        })
        .map(|c| c.id)
        .collect()
}
