//! grammers' [`Session`] on our SQLite store (migration 0003).
//!
//! grammers 0.11 needs two kinds of access:
//! - `home_dc_id` and `dc_option` are **synchronous** and called on every
//!   request, so they must not touch SQLite;
//! - everything else returns a boxed future, polled on tokio.
//!
//! Design: the whole session lives in memory (a `std::sync::Mutex`, never
//! held across an `.await`) and is loaded once by [`StoreSession::open`].
//! Reads are served from memory. Every change is written through to SQLite
//! before the future completes, as one small indexed upsert on tokio's
//! blocking pool ([`Store::run`]: no pooled connection is held across an
//! await). Writes are serialized by an async mutex so the database sees
//! them in the same order as the memory copy, and a peer whose merged info
//! did not change is not written at all (grammers re-caches every peer of
//! every update).
//!
//! The rows live in `tg_home_dc`, `tg_dc_options` (addresses and auth
//! keys), `tg_peers` (access hashes; kept forever so sends to a stored id
//! keep working), `tg_update_state` and `tg_channel_state`, read and
//! written by [`crate::store::tg_session`].

use std::collections::HashMap;
use std::net::{SocketAddrV4, SocketAddrV6};
use std::sync::{Mutex, MutexGuard};

use grammers_session::types::{
    ChannelState, DcOption, PeerId, PeerInfo, PeerKind, PeerRef, UpdateState, UpdatesState,
};
use grammers_session::{BoxFuture, Session, SessionData};
use rusqlite::Connection;

use crate::store::tg_session::{self as rows, DcOptionRow, PeerRow, PeerType, UpdateStateRow};
use crate::store::{Store, StoreError};

/// A session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("telegram session: {0}")]
    Store(#[from] StoreError),
    #[error("telegram session: bad stored value: {0}")]
    Corrupt(String),
    #[error("telegram session: the in-memory lock is poisoned")]
    Poisoned,
}

impl From<rusqlite::Error> for SessionError {
    fn from(e: rusqlite::Error) -> Self {
        SessionError::Store(StoreError::Sql(e))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Data {
    home_dc: i32,
    dc_options: HashMap<i32, DcOption>,
    peers: HashMap<PeerId, PeerInfo>,
    /// The logged-in account (grammers asks for it as `PeerId::self_user()`).
    self_id: Option<PeerId>,
    updates: UpdatesState,
    /// Peers whose write-through failed: retried with the next peer write
    /// (memory already has them, so they would not count as changed).
    unsaved: HashMap<PeerId, (PeerInfo, String)>,
}

impl Default for Data {
    fn default() -> Self {
        let d = SessionData::default();
        Data {
            home_dc: d.home_dc,
            dc_options: d.dc_options,
            peers: HashMap::new(),
            self_id: None,
            updates: d.updates_state,
            unsaved: HashMap::new(),
        }
    }
}

/// grammers' session, persisted in the buhbot database.
pub struct StoreSession {
    store: Store,
    data: Mutex<Data>,
    /// Orders the write-throughs (held across the blocking write only).
    write: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StoreSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print auth keys.
        f.debug_struct("StoreSession")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl StoreSession {
    /// Loads the session from a migrated store (defaults when empty).
    pub async fn open(store: Store) -> Result<StoreSession, SessionError> {
        let loaded = store.run(|conn| Ok(load(conn))).await??;
        Ok(StoreSession {
            store,
            data: Mutex::new(loaded),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The same, for synchronous callers (CLI, tests without a runtime).
    pub fn open_blocking(store: Store) -> Result<StoreSession, SessionError> {
        let loaded = load(&*store.conn()?)?;
        Ok(StoreSession {
            store,
            data: Mutex::new(loaded),
            write: tokio::sync::Mutex::new(()),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether an auth key and a signed-in account are stored.
    pub fn is_signed_in(&self) -> bool {
        self.data().map(|d| d.self_id.is_some()).unwrap_or(false)
    }

    /// The signed-in account's user id, if any.
    pub fn self_user_id(&self) -> Option<i64> {
        self.data()
            .ok()?
            .self_id
            .and_then(PeerId::bot_api_dialog_id)
    }

    fn data(&self) -> Result<MutexGuard<'_, Data>, SessionError> {
        self.data.lock().map_err(|_| SessionError::Poisoned)
    }

    /// Runs one small write on the blocking pool.
    async fn persist<F>(&self, f: F) -> Result<(), SessionError>
    where
        F: FnOnce(&Connection) -> crate::store::Result<()> + Send + 'static,
    {
        self.store
            .run(move |conn| {
                let tx = crate::store::write_tx(conn)?;
                f(&tx)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}

fn peer_type(id: PeerId) -> PeerType {
    match id.kind() {
        PeerKind::User => PeerType::User,
        PeerKind::Chat => PeerType::Chat,
        PeerKind::Channel => PeerType::Channel,
    }
}

fn is_self(info: &PeerInfo) -> bool {
    matches!(
        info,
        PeerInfo::User {
            is_self: Some(true),
            ..
        }
    )
}

fn corrupt(what: impl std::fmt::Display) -> SessionError {
    SessionError::Corrupt(what.to_string())
}

fn load(conn: &Connection) -> Result<Data, SessionError> {
    let mut data = Data::default();
    if let Some(dc) = rows::home_dc(conn)? {
        data.home_dc = dc;
    }

    for row in rows::dc_options(conn)? {
        let DcOptionRow {
            dc_id: id,
            ipv4: v4,
            ipv6: v6,
            auth_key: key,
        } = row;
        let ipv4: SocketAddrV4 = v4
            .parse()
            .map_err(|_| corrupt(format!("dc {id} address {v4:?}")))?;
        let ipv6: SocketAddrV6 = v6
            .parse()
            .map_err(|_| corrupt(format!("dc {id} address {v6:?}")))?;
        let auth_key = match key {
            None => None,
            Some(k) => Some(
                <[u8; 256]>::try_from(k.as_slice())
                    .map_err(|_| corrupt(format!("dc {id} auth key length {}", k.len())))?,
            ),
        };
        data.dc_options.insert(
            id,
            DcOption {
                id,
                ipv4,
                ipv6,
                auth_key,
            },
        );
    }

    for (peer_id, json) in rows::peers(conn)? {
        let info: PeerInfo =
            serde_json::from_str(&json).map_err(|e| corrupt(format!("peer {peer_id}: {e}")))?;
        if is_self(&info) {
            data.self_id = Some(info.id());
        }
        data.peers.insert(info.id(), info);
    }

    if let Some(u) = rows::update_state(conn)? {
        data.updates.pts = u.pts;
        data.updates.qts = u.qts;
        data.updates.date = u.date;
        data.updates.seq = u.seq;
    }
    data.updates.channels = rows::channel_states(conn)?
        .into_iter()
        .map(|(id, pts)| ChannelState { id, pts })
        .collect();
    Ok(data)
}

/// The cached peer (id and access hash) of a Bot-API chat id, read from
/// the store rather than from a [`StoreSession`]'s memory: grammers'
/// `Client` keeps its session private, and every peer it caches is written
/// through to `tg_peers` before its future completes, so any reader of the
/// store sees it. `None`: never seen (or a min peer without access hash).
pub fn cached_peer_ref(conn: &Connection, chat_id: i64) -> Result<Option<PeerRef>, SessionError> {
    let Some(id) = PeerId::from_bot_api_dialog_id(chat_id) else {
        return Ok(None);
    };
    let Some(json) = rows::peer_info(conn, chat_id)? else {
        return Ok(None);
    };
    let info: PeerInfo =
        serde_json::from_str(&json).map_err(|e| corrupt(format!("peer {chat_id}: {e}")))?;
    Ok(info.auth().map(|auth| PeerRef { id, auth }))
}

/// How many peers the session has cached (users, groups and channels).
pub fn cached_peer_count(conn: &Connection) -> Result<i64, SessionError> {
    Ok(rows::peer_count(conn)?)
}

/// One peer row: indexed upsert by its Bot-API id.
fn upsert_peer(conn: &Connection, info: &PeerInfo, json: &str) -> crate::store::Result<()> {
    let id = info.id();
    rows::upsert_peer(
        conn,
        &PeerRow {
            peer_id: id.bot_api_dialog_id_unchecked(),
            kind: peer_type(id),
            access_hash: info.auth().map(|a| a.hash()),
            is_self: is_self(info),
            info: json,
        },
    )
}

fn write_update_row(conn: &Connection, s: &UpdatesState) -> crate::store::Result<()> {
    rows::put_update_state(
        conn,
        &UpdateStateRow {
            pts: s.pts,
            qts: s.qts,
            date: s.date,
            seq: s.seq,
        },
    )
}

impl StoreSession {
    /// Merges peers into memory; returns those whose info changed, as JSON.
    fn merge_peers(&self, peers: Vec<PeerInfo>) -> Result<Vec<(PeerInfo, String)>, SessionError> {
        let mut data = self.data()?;
        let mut changed: Vec<(PeerInfo, String)> = Vec::new();
        for peer in peers {
            let id = peer.id();
            let merged = match data.peers.get(&id) {
                Some(old) => {
                    let mut merged = old.clone();
                    merged.extend_info(&peer);
                    if &merged == old {
                        continue;
                    }
                    merged
                }
                None => peer,
            };
            if is_self(&merged) {
                data.self_id = Some(id);
            }
            data.peers.insert(id, merged.clone());
            let json = serde_json::to_string(&merged).map_err(corrupt)?;
            changed.retain(|(p, _)| p.id() != id);
            changed.push((merged, json));
        }
        Ok(changed)
    }

    async fn write_peers(&self, peers: Vec<PeerInfo>) -> Result<(), SessionError> {
        let _order = self.write.lock().await;
        let mut changed = self.merge_peers(peers)?;
        {
            let mut data = self.data()?;
            for (id, pending) in data.unsaved.drain() {
                if !changed.iter().any(|(p, _)| p.id() == id) {
                    changed.push(pending);
                }
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        let batch = changed.clone();
        let result = self
            .persist(move |conn| {
                for (info, json) in &batch {
                    upsert_peer(conn, info, json)?;
                }
                Ok(())
            })
            .await;
        if result.is_err() {
            let mut data = self.data()?;
            for (info, json) in changed {
                data.unsaved.insert(info.id(), (info, json));
            }
        }
        result
    }
}

impl Session for StoreSession {
    type Error = SessionError;

    fn home_dc_id(&self) -> Result<i32, SessionError> {
        Ok(self.data()?.home_dc)
    }

    fn set_home_dc_id(&self, dc_id: i32) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(async move {
            let _order = self.write.lock().await;
            self.data()?.home_dc = dc_id;
            self.persist(move |conn| rows::set_home_dc(conn, dc_id))
                .await
        })
    }

    fn dc_option(&self, dc_id: i32) -> Result<Option<DcOption>, SessionError> {
        Ok(self.data()?.dc_options.get(&dc_id).cloned())
    }

    fn set_dc_option(&self, dc_option: &DcOption) -> BoxFuture<'_, Result<(), SessionError>> {
        let dc = dc_option.clone();
        Box::pin(async move {
            let _order = self.write.lock().await;
            self.data()?.dc_options.insert(dc.id, dc.clone());
            let row = DcOptionRow {
                dc_id: dc.id,
                ipv4: dc.ipv4.to_string(),
                ipv6: dc.ipv6.to_string(),
                auth_key: dc.auth_key.map(|k| k.to_vec()),
            };
            self.persist(move |conn| rows::put_dc_option(conn, &row))
                .await
        })
    }

    fn peer(&self, peer: PeerId) -> BoxFuture<'_, Result<Option<PeerInfo>, SessionError>> {
        Box::pin(async move {
            let data = self.data()?;
            let id = if peer == PeerId::self_user() {
                match data.self_id {
                    Some(id) => id,
                    None => return Ok(None),
                }
            } else {
                peer
            };
            Ok(data.peers.get(&id).cloned())
        })
    }

    fn cache_peer(&self, peer: PeerInfo) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(self.write_peers(vec![peer]))
    }

    fn cache_peers(&self, peers: Vec<PeerInfo>) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(self.write_peers(peers))
    }

    fn updates_state(&self) -> BoxFuture<'_, Result<UpdatesState, SessionError>> {
        Box::pin(async move { Ok(self.data()?.updates.clone()) })
    }

    fn set_update_state(&self, update: UpdateState) -> BoxFuture<'_, Result<(), SessionError>> {
        Box::pin(async move {
            let _order = self.write.lock().await;
            let state = {
                let mut data = self.data()?;
                let s = &mut data.updates;
                match &update {
                    UpdateState::All(all) => *s = all.clone(),
                    UpdateState::Primary { pts, date, seq } => {
                        s.pts = *pts;
                        s.date = *date;
                        s.seq = *seq;
                    }
                    UpdateState::Secondary { qts } => s.qts = *qts,
                    UpdateState::Channel { id, pts } => {
                        s.channels.retain(|c| c.id != *id);
                        s.channels.push(ChannelState { id: *id, pts: *pts });
                    }
                }
                s.clone()
            };
            self.persist(move |conn| match update {
                UpdateState::All(all) => {
                    write_update_row(conn, &all)?;
                    rows::clear_channel_states(conn)?;
                    for c in &all.channels {
                        rows::put_channel_state(conn, c.id, c.pts)?;
                    }
                    Ok(())
                }
                UpdateState::Primary { .. } | UpdateState::Secondary { .. } => {
                    write_update_row(conn, &state)
                }
                UpdateState::Channel { id, pts } => rows::put_channel_state(conn, id, pts),
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use grammers_session::types::{ChannelKind, PeerAuth};

    use super::*;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open_migrated(&dir.path().join("db.sqlite"))
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn a_new_session_has_grammers_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = StoreSession::open(store(&dir)).await.unwrap();
        let d = SessionData::default();
        assert_eq!(s.home_dc_id().unwrap(), d.home_dc);
        for (id, opt) in &d.dc_options {
            assert_eq!(s.dc_option(*id).unwrap().as_ref(), Some(opt));
        }
        assert_eq!(s.updates_state().await.unwrap(), UpdatesState::default());
        assert_eq!(s.peer(PeerId::self_user()).await.unwrap(), None);
        assert!(!s.is_signed_in());
    }

    #[tokio::test]
    async fn everything_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let me = PeerInfo::User {
            id: 777,
            auth: Some(PeerAuth::from_hash(-5)),
            bot: Some(true),
            is_self: Some(true),
        };
        let client = PeerInfo::User {
            id: 42,
            auth: Some(PeerAuth::from_hash(4242)),
            bot: Some(false),
            is_self: None,
        };
        let group = PeerInfo::Chat { id: 1234 };
        let channel = PeerInfo::Channel {
            id: 1_555_000_111,
            auth: Some(PeerAuth::from_hash(i64::MIN + 3)),
            kind: Some(ChannelKind::Megagroup),
        };
        let dc9 = DcOption {
            id: 9,
            ipv4: SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 443),
            ipv6: SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 0, 0),
            auth_key: Some([7; 256]),
        };
        let state = UpdatesState {
            pts: 10,
            qts: 3,
            date: 1_700_000_000,
            seq: 5,
            channels: vec![ChannelState {
                id: 1_555_000_111,
                pts: 99,
            }],
        };
        {
            let s = StoreSession::open(store(&dir)).await.unwrap();
            s.set_home_dc_id(4).await.unwrap();
            s.set_dc_option(&dc9).await.unwrap();
            let mut dc2 = s.dc_option(2).unwrap().unwrap();
            dc2.auth_key = Some([2; 256]);
            s.set_dc_option(&dc2).await.unwrap();
            s.cache_peer(me.clone()).await.unwrap();
            s.cache_peers(vec![client.clone(), group.clone(), channel.clone()])
                .await
                .unwrap();
            s.set_update_state(UpdateState::All(state.clone()))
                .await
                .unwrap();
            s.set_update_state(UpdateState::Primary {
                pts: 11,
                date: 1_700_000_100,
                seq: 6,
            })
            .await
            .unwrap();
            s.set_update_state(UpdateState::Secondary { qts: 4 })
                .await
                .unwrap();
            s.set_update_state(UpdateState::Channel { id: 77, pts: 1 })
                .await
                .unwrap();
        }
        // A fresh pool on the same file: only what reached SQLite is seen.
        let s = StoreSession::open(store(&dir)).await.unwrap();
        assert_eq!(s.home_dc_id().unwrap(), 4);
        assert_eq!(s.dc_option(9).unwrap(), Some(dc9));
        assert_eq!(s.dc_option(2).unwrap().unwrap().auth_key, Some([2; 256]));
        assert_eq!(s.peer(PeerId::self_user()).await.unwrap(), Some(me.clone()));
        assert!(s.is_signed_in());
        for p in [&me, &client, &group, &channel] {
            assert_eq!(s.peer(p.id()).await.unwrap().as_ref(), Some(p));
        }
        // The access hash is what later sends need.
        let r = s.peer_ref(channel.id()).await.unwrap().unwrap();
        assert_eq!(r.auth.hash(), i64::MIN + 3);
        let mut got = s.updates_state().await.unwrap();
        got.channels.sort_by_key(|c| c.id);
        assert_eq!(
            got,
            UpdatesState {
                pts: 11,
                qts: 4,
                date: 1_700_000_100,
                seq: 6,
                channels: vec![
                    ChannelState { id: 77, pts: 1 },
                    ChannelState {
                        id: 1_555_000_111,
                        pts: 99
                    },
                ],
            }
        );
        // "All" replaces the channel list.
        s.set_update_state(UpdateState::All(UpdatesState::default()))
            .await
            .unwrap();
        let s = StoreSession::open_blocking(s.store().clone()).unwrap();
        assert_eq!(s.updates_state().await.unwrap(), UpdatesState::default());
    }

    #[tokio::test]
    async fn cached_peers_are_found_by_their_bot_api_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = StoreSession::open(store(&dir)).await.unwrap();
        s.cache_peers(vec![
            PeerInfo::User {
                id: 42,
                auth: Some(PeerAuth::from_hash(4242)),
                bot: None,
                is_self: None,
            },
            PeerInfo::Channel {
                id: 1_555_000_111,
                auth: Some(PeerAuth::from_hash(-9)),
                kind: None,
            },
            PeerInfo::Chat { id: 555 },
            PeerInfo::User {
                id: 43,
                auth: None,
                bot: None,
                is_self: None,
            },
        ])
        .await
        .unwrap();
        let conn = s.store().conn().unwrap();
        let user = cached_peer_ref(&conn, 42).unwrap().unwrap();
        assert_eq!(
            (user.id, user.auth.hash()),
            (PeerId::user(42).unwrap(), 4242)
        );
        let chan = cached_peer_ref(&conn, -1_001_555_000_111).unwrap().unwrap();
        assert_eq!(chan.id, PeerId::channel(1_555_000_111).unwrap());
        assert_eq!(chan.auth.hash(), -9);
        let chat = cached_peer_ref(&conn, -555).unwrap().unwrap();
        assert_eq!(chat.id, PeerId::chat(555).unwrap());
        // A min user (no access hash), an unknown one and a nonsense id.
        assert_eq!(cached_peer_ref(&conn, 43).unwrap(), None);
        assert_eq!(cached_peer_ref(&conn, 44).unwrap(), None);
        assert_eq!(cached_peer_ref(&conn, 0).unwrap(), None);
        assert_eq!(cached_peer_count(&conn).unwrap(), 4);
    }

    #[tokio::test]
    async fn a_min_peer_does_not_erase_a_known_access_hash() {
        let dir = tempfile::tempdir().unwrap();
        let s = StoreSession::open(store(&dir)).await.unwrap();
        let full = PeerInfo::User {
            id: 42,
            auth: Some(PeerAuth::from_hash(4242)),
            bot: None,
            is_self: None,
        };
        s.cache_peer(full).await.unwrap();
        s.cache_peer(PeerInfo::User {
            id: 42,
            auth: None,
            bot: Some(false),
            is_self: None,
        })
        .await
        .unwrap();
        let s = StoreSession::open(s.store().clone()).await.unwrap();
        assert_eq!(
            s.peer(PeerId::user(42).unwrap()).await.unwrap(),
            Some(PeerInfo::User {
                id: 42,
                auth: Some(PeerAuth::from_hash(4242)),
                bot: Some(false),
                is_self: None,
            })
        );
    }

    #[tokio::test]
    async fn a_failed_peer_write_is_retried_with_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = StoreSession::open(store(&dir)).await.unwrap();
        let ddl = "CREATE TABLE tg_peers (
            peer_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, access_hash INTEGER,
            is_self INTEGER NOT NULL DEFAULT 0, info TEXT NOT NULL, updated_at INTEGER NOT NULL)";
        s.store()
            .conn()
            .unwrap()
            .execute_batch("ALTER TABLE tg_peers RENAME TO tg_peers_away")
            .unwrap();
        let a = PeerInfo::Channel {
            id: 10,
            auth: Some(PeerAuth::from_hash(1)),
            kind: None,
        };
        assert!(s.cache_peer(a.clone()).await.is_err());
        // Memory has it already; the store gets it with the next write.
        assert_eq!(s.peer(a.id()).await.unwrap(), Some(a.clone()));
        s.store().conn().unwrap().execute_batch(ddl).unwrap();
        let b = PeerInfo::Chat { id: 20 };
        s.cache_peer(b.clone()).await.unwrap();
        let s = StoreSession::open(s.store().clone()).await.unwrap();
        assert_eq!(s.peer(a.id()).await.unwrap(), Some(a));
        assert_eq!(s.peer(b.id()).await.unwrap(), Some(b));
    }
}
