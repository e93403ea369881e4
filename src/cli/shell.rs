//! What the admin commands share (the users, chats and requests commands in
//! `admin` and `admin_chats`): the store they change and who is recorded as
//! making the change. A module of its own, so that neither of them imports
//! the other for it.

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;
use crate::store::Store;

/// The store named by the configuration, migrated.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let (store, _) = Store::open_migrated(&config.store.path)
        .with_context(|| format!("store {}", config.store.path.display()))?;
    Ok(store)
}

/// Who makes a change, as written to the audit trail.
pub fn actor(by: Option<i64>) -> String {
    by.map_or_else(|| "cli".to_string(), |u| u.to_string())
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}
