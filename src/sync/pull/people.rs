//! Pulled users and chats (with their staff) applied to the store.

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::{PgChat, PgUser, PullError};
use crate::config::Config;
use crate::store::chats::{self, ChatChange, ChatRole, Override};
use crate::store::users::{self, Role, UserChange, UserRow};

pub(super) fn apply_user(conn: &Connection, u: &PgUser, now: i64) -> Result<(), PullError> {
    let fail = |e: crate::store::settings::SettingsError| PullError::Apply {
        table: "users",
        key: u.telegram_id.to_string(),
        reason: e.to_string(),
    };
    let local = users::get(conn, u.telegram_id)?;
    if !u.active {
        if local.is_some() {
            users::remove(conn, u.telegram_id, "postgres", now).map_err(fail)?;
        }
        return Ok(());
    }
    let role: Role = users::parse_role(&u.role).map_err(fail)?;
    match local {
        None => {
            let row = UserRow {
                id: u.telegram_id,
                name: u.full_name.clone(),
                username: u.username.clone(),
                role,
                email: u.email.clone(),
            };
            users::add(conn, &row, "postgres", now).map_err(fail)?;
        }
        Some(l) => {
            let change = UserChange {
                name: (l.name != u.full_name).then(|| u.full_name.clone()),
                username: (l.username != u.username)
                    .then(|| u.username.clone().unwrap_or_default()),
                role: (l.role != role).then_some(role),
                email: (u.email.is_some() && l.email != u.email)
                    .then(|| u.email.clone().unwrap_or_default()),
            };
            users::update(conn, u.telegram_id, change, "postgres", now).map_err(fail)?;
        }
    }
    Ok(())
}

pub(super) fn apply_chat(
    conn: &Connection,
    c: &PgChat,
    config: &Config,
    now: i64,
) -> Result<(), PullError> {
    let default_threshold = i64::from(config.sla.threshold_minutes);
    let fail = |e: crate::store::settings::SettingsError| PullError::Apply {
        table: "chats",
        key: c.id.to_string(),
        reason: e.to_string(),
    };
    chats::ensure(
        conn,
        c.id,
        c.title.as_deref().unwrap_or(""),
        "postgres",
        now,
    )
    .map_err(fail)?;
    let local = chats::get(conn, c.id)?.ok_or_else(|| PullError::Apply {
        table: "chats",
        key: c.id.to_string(),
        reason: "the row vanished".into(),
    })?;
    let over = |pg: Option<i64>, mine: Option<i64>| {
        (pg != mine).then_some(pg.map_or(Override::Default, Override::Value))
    };
    let threshold = if local.threshold_minutes.unwrap_or(default_threshold) == c.threshold {
        None
    } else {
        Some(Override::Value(c.threshold))
    };
    let monitored = c.monitored && !c.deleted;
    let change = ChatChange {
        title: c
            .title
            .as_ref()
            .filter(|t| !t.is_empty() && **t != local.title)
            .cloned(),
        monitored: (monitored != local.monitored).then_some(monitored),
        sla_enabled: (c.sla_enabled != local.sla_enabled).then_some(c.sla_enabled),
        threshold_minutes: threshold,
        warning_percent: over(c.warning, local.warning_percent),
        escalation_interval_minutes: over(c.interval, local.escalation_interval_minutes),
        max_escalations: over(c.max_escalations, local.max_escalations),
    };
    chats::update(conn, c.id, change, "postgres", now).map_err(fail)?;
    // Staff: Postgres' arrays are the chat's whole staff.
    let want: BTreeSet<(i64, ChatRole)> = c
        .accountants
        .iter()
        .map(|&a| (a, ChatRole::Accountant))
        .chain(
            c.managers
                .iter()
                .filter_map(|m| m.trim().parse().ok())
                .map(|m| (m, ChatRole::Manager)),
        )
        .collect();
    let have: BTreeSet<(i64, ChatRole)> = chats::staff(conn, c.id)?.into_iter().collect();
    // A chat staffed by the configuration shows that staff upstream (the
    // push sends it): unchanged there, it stays the configuration's.
    let configured: BTreeSet<(i64, ChatRole)> = config
        .chats
        .get(&c.id)
        .map(|cc| {
            (cc.accountants.iter().map(|&a| (a, ChatRole::Accountant)))
                .chain(cc.managers.iter().map(|&m| (m, ChatRole::Manager)))
                .collect()
        })
        .unwrap_or_default();
    if have.is_empty() && want == configured {
        return Ok(());
    }
    for (user, role) in have.difference(&want) {
        chats::set_staff(conn, c.id, *user, *role, false, "postgres", now).map_err(fail)?;
    }
    for (user, role) in want.difference(&have) {
        chats::set_staff(conn, c.id, *user, *role, true, "postgres", now).map_err(fail)?;
    }
    Ok(())
}
