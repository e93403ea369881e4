//! grammers' MTProto session as stored (migration 0003): the home
//! datacenter, datacenter addresses and auth keys, cached peers and the
//! update state. Plain rows: `telegram::session` converts them to and from
//! grammers' types and keeps the session in memory.
//!
//! Tables: `tg_home_dc`, `tg_dc_options`, `tg_peers`, `tg_update_state`,
//! `tg_channel_state`.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// `tg_peers.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerType {
    User,
    Chat,
    Channel,
}

stored_enum!(PeerType, "peer kind", {
    User => "user",
    Chat => "chat",
    Channel => "channel",
});

/// The datacenter main queries go to, if one was chosen.
pub fn home_dc(conn: &Connection) -> Result<Option<i32>> {
    Ok(conn
        .query_row("SELECT dc_id FROM tg_home_dc WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_home_dc(conn: &Connection, dc_id: i32) -> Result<()> {
    conn.execute(
        "INSERT INTO tg_home_dc (id, dc_id) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET dc_id = excluded.dc_id",
        [dc_id],
    )?;
    Ok(())
}

/// A datacenter's addresses ("a.b.c.d:port", "[addr]:port") and its auth
/// key once one was generated (256 bytes; a credential).
#[derive(Clone, PartialEq, Eq)]
pub struct DcOptionRow {
    pub dc_id: i32,
    pub ipv4: String,
    pub ipv6: String,
    pub auth_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for DcOptionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print auth keys.
        f.debug_struct("DcOptionRow")
            .field("dc_id", &self.dc_id)
            .field("ipv4", &self.ipv4)
            .field("ipv6", &self.ipv6)
            .field("auth_key", &self.auth_key.as_ref().map(|_| "…"))
            .finish()
    }
}

pub fn dc_options(conn: &Connection) -> Result<Vec<DcOptionRow>> {
    let mut stmt = conn.prepare("SELECT dc_id, ipv4, ipv6, auth_key FROM tg_dc_options")?;
    let rows = stmt.query_map([], |r| {
        Ok(DcOptionRow {
            dc_id: r.get(0)?,
            ipv4: r.get(1)?,
            ipv6: r.get(2)?,
            auth_key: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn put_dc_option(conn: &Connection, dc: &DcOptionRow) -> Result<()> {
    conn.execute(
        "INSERT INTO tg_dc_options (dc_id, ipv4, ipv6, auth_key) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (dc_id) DO UPDATE SET ipv4 = excluded.ipv4,
             ipv6 = excluded.ipv6, auth_key = excluded.auth_key",
        params![dc.dc_id, dc.ipv4, dc.ipv6, dc.auth_key],
    )?;
    Ok(())
}

/// One cached peer: `info` is grammers' PeerInfo as JSON; the other
/// columns are for people and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow<'a> {
    /// The Bot-API dialog id.
    pub peer_id: i64,
    pub kind: PeerType,
    pub access_hash: Option<i64>,
    pub is_self: bool,
    pub info: &'a str,
}

/// One peer row: indexed upsert by its Bot-API id.
pub fn upsert_peer(conn: &Connection, p: &PeerRow<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tg_peers (peer_id, kind, access_hash, is_self, info, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, unixepoch())
         ON CONFLICT (peer_id) DO UPDATE SET
             kind = excluded.kind, access_hash = excluded.access_hash,
             is_self = excluded.is_self, info = excluded.info,
             updated_at = excluded.updated_at",
    )?
    .execute(params![p.peer_id, p.kind, p.access_hash, p.is_self, p.info])?;
    Ok(())
}

/// Every cached peer: (Bot-API id, info JSON).
pub fn peers(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare("SELECT peer_id, info FROM tg_peers")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The info JSON of one cached peer.
pub fn peer_info(conn: &Connection, peer_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT info FROM tg_peers WHERE peer_id = ?1")?
        .query_row([peer_id], |r| r.get(0))
        .optional()?)
}

pub fn peer_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM tg_peers", [], |r| r.get(0))?)
}

/// The account's update state (`tg_update_state`, one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateStateRow {
    pub pts: i32,
    pub qts: i32,
    pub date: i32,
    pub seq: i32,
}

pub fn update_state(conn: &Connection) -> Result<Option<UpdateStateRow>> {
    Ok(conn
        .query_row(
            "SELECT pts, qts, date, seq FROM tg_update_state WHERE id = 1",
            [],
            |r| {
                Ok(UpdateStateRow {
                    pts: r.get(0)?,
                    qts: r.get(1)?,
                    date: r.get(2)?,
                    seq: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn put_update_state(conn: &Connection, s: &UpdateStateRow) -> Result<()> {
    conn.execute(
        "INSERT INTO tg_update_state (id, pts, qts, date, seq) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET pts = excluded.pts, qts = excluded.qts,
             date = excluded.date, seq = excluded.seq",
        params![s.pts, s.qts, s.date, s.seq],
    )?;
    Ok(())
}

/// Each channel's pts: (bare channel id, pts), by id.
pub fn channel_states(conn: &Connection) -> Result<Vec<(i64, i32)>> {
    let mut stmt =
        conn.prepare("SELECT channel_id, pts FROM tg_channel_state ORDER BY channel_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn put_channel_state(conn: &Connection, channel_id: i64, pts: i32) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tg_channel_state (channel_id, pts) VALUES (?1, ?2)
         ON CONFLICT (channel_id) DO UPDATE SET pts = excluded.pts",
    )?
    .execute(params![channel_id, pts])?;
    Ok(())
}

/// Forgets every channel's pts (a full update state replaces the list).
pub fn clear_channel_states(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM tg_channel_state", [])?;
    Ok(())
}
