//! Staff of the firm (`users`): Telegram user id, name, role, contacts.
//! Changes are validated, bump the settings revision and are audited.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::codec;
use super::settings::{self, Change, Result, SettingsError};

/// A staff member's role in the firm (`users.role`), lowest first: the
/// bot, the CLI and the engine share it. Clients are not users at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Observer,
    Accountant,
    Manager,
    Admin,
}

stored_enum!(Role, "role", {
    Admin => "admin",
    Manager => "manager",
    Accountant => "accountant",
    Observer => "observer",
});

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub role: Role,
    pub email: Option<String>,
}

/// Fields to change; `Some("")` clears `username` or `email`.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub name: Option<String>,
    pub username: Option<String>,
    pub role: Option<Role>,
    pub email: Option<String>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        username: r.get(2)?,
        role: codec::column(r, 3, "users", "role")?,
        email: r.get(4)?,
    })
}

/// A role as a person typed it (`buhbot users --role`).
pub fn parse_role(role: &str) -> Result<Role> {
    role.parse()
        .map_err(|_| SettingsError::Role(role.to_string()))
}

/// An empty string means "none".
fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn get(conn: &Connection, id: i64) -> super::Result<Option<UserRow>> {
    Ok(conn
        .prepare_cached("SELECT id, name, username, role, email FROM users WHERE id = ?1")?
        .query_row([id], from_row)
        .optional()?)
}

pub fn list(conn: &Connection) -> super::Result<Vec<UserRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, username, role, email FROM users ORDER BY id")?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn add(conn: &Connection, user: &UserRow, by: &str, now: i64) -> Result<UserRow> {
    if get(conn, user.id)?.is_some() {
        return Err(SettingsError::UserExists(user.id));
    }
    let user = UserRow {
        username: nonempty(user.username.clone()),
        email: nonempty(user.email.clone()),
        ..user.clone()
    };
    conn.prepare_cached(
        "INSERT INTO users (id, name, username, role, email, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        user.id,
        user.name,
        user.username,
        user.role,
        user.email,
        now
    ])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "users",
            key: user.id.to_string(),
            what: format!("user {} added", user.id),
            old: json!(null),
            new: json!(user),
        },
        now,
    )?;
    Ok(user)
}

pub fn update(
    conn: &Connection,
    id: i64,
    change: UserChange,
    by: &str,
    now: i64,
) -> Result<UserRow> {
    let old = get(conn, id)?.ok_or(SettingsError::NoUser(id))?;
    let new = UserRow {
        id,
        name: change.name.unwrap_or_else(|| old.name.clone()),
        username: change
            .username
            .map_or_else(|| old.username.clone(), |u| nonempty(Some(u))),
        role: change.role.unwrap_or(old.role),
        email: change
            .email
            .map_or_else(|| old.email.clone(), |e| nonempty(Some(e))),
    };
    if new == old {
        return Ok(new);
    }
    conn.prepare_cached(
        "UPDATE users SET name = ?2, username = ?3, role = ?4, email = ?5, updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        new.name,
        new.username,
        new.role,
        new.email,
        now
    ])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "users",
            key: id.to_string(),
            what: format!("user {id} changed"),
            old: json!(old),
            new: json!(new),
        },
        now,
    )?;
    Ok(new)
}

pub fn remove(conn: &Connection, id: i64, by: &str, now: i64) -> Result<UserRow> {
    let old = get(conn, id)?.ok_or(SettingsError::NoUser(id))?;
    conn.prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute([id])?;
    settings::record(
        conn,
        Change {
            by,
            entity: "users",
            key: id.to_string(),
            what: format!("user {id} removed"),
            old: json!(old),
            new: json!(null),
        },
        now,
    )?;
    Ok(old)
}
