//! Hot standby through Postgres (issue 14, part 5): of the daemons of one
//! bot (`[postgres] standby = true` on each host) exactly one is active —
//! the one holding a session advisory lock on a connection of its own.
//!
//! The lock lives as long as that session: a daemon that dies (kill -9,
//! host down) loses it when Postgres drops the session, and the standby's
//! next `pg_try_advisory_lock` gets it. Hence:
//! - the connection is direct and outside the pool: through a
//!   transaction-mode pooler (pgbouncer, Supavisor on 6543) the session
//!   is not ours and the lock would belong to whichever client used that
//!   server connection. [`Lock::check`] looks the lock up in `pg_locks`
//!   under this session's backend pid, so a pooler that moves us to
//!   another backend is seen (as a lost lock) within one renewal;
//! - the session asks the server to probe the client's TCP connection
//!   (`tcp_keepalives_*`): a host that vanishes without closing its
//!   socket (power loss) is noticed by the server in [`DEAD_PEER`], not
//!   in the kernel's two hours;
//! - the active daemon re-checks the lock every [`RENEW`] (each check
//!   bounded by [`RENEW_TIMEOUT`]) and stops at once when it fails; a
//!   daemon that gets the lock waits [`FENCE`] before it acts, so that an
//!   old active whose session the server dropped while it still ran (a
//!   network cut) has noticed and stopped by then. That is the
//!   split-brain window this closes; see docs/standby.md.

use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::pg::{Connector, Login, PgError};

/// The first key of the two-key advisory lock: ours ("bhbt"), so that a
/// firm's own advisory locks on the same database do not collide.
pub const LOCK_CLASS: i32 = 0x6268_6274;
/// How often the active daemon re-checks its lock.
pub const RENEW: Duration = Duration::from_secs(2);
/// How long one check may take before the lock counts as lost.
pub const RENEW_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a daemon that got the lock waits before it acts: longer than
/// an old active needs to see its own lock gone.
pub const FENCE: Duration = Duration::from_secs(6);
/// How often the standby tries to get the lock.
pub const POLL: Duration = Duration::from_secs(2);
/// The keepalive probing the lock's session asks of the server: idle 5 s,
/// then a probe every 5 s, 3 missed = dead. A vanished host's lock is free
/// after about this long.
pub const DEAD_PEER: Duration = Duration::from_secs(20);
const KEEPALIVES: &str = "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 5; \
                          SET tcp_keepalives_count = 3";

/// The second key: the lock's name, hashed (the same on every host).
pub fn lock_key(name: &str) -> i32 {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(name.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// `buhbot active <host> <tag>`: the lock session's `application_name`,
/// which `buhbot sync status` shows as the holder. The tag (from the
/// store's path) tells two daemons of one host apart; the name is cut to
/// Postgres' 63 bytes here, as the server would.
pub fn holder_label(host: &str, store: &std::path::Path) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(store.as_os_str().as_encoded_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut label = format!("buhbot active {host} {tag}");
    while label.len() > 63 {
        label.pop();
    }
    label
}

/// This machine's name, as the holder label says it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(
        "the standby lock {name:?} is not held by this session any more: its connection to \
         Postgres was lost, the server ended it, or it goes through a transaction-mode pooler \
         (the lock needs a direct connection)"
    )]
    Lost { name: String },
    #[error("the standby lock {name:?}: no answer from Postgres within {}s", timeout.as_secs())]
    Timeout { name: String, timeout: Duration },
}

/// Who holds a lock, from `pg_locks` and `pg_stat_activity`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Holder {
    pub pid: i32,
    pub application_name: String,
    pub client_addr: Option<String>,
    /// Since when the holder's session exists (Unix seconds).
    pub since: Option<i64>,
}

/// A held lock: the session that holds it.
pub struct Lock {
    client: Client,
    connector: Connector,
    name: String,
    key: i32,
}

/// A session to take the lock on: direct, with the keepalives above. The
/// standby keeps one and tries on it every [`POLL`]; the one that gets the
/// lock is the lock's session from then on.
pub async fn session(connector: &Connector) -> Result<Client, PgError> {
    let client = connector
        .connect(&Login::daemon(connector.settings()))
        .await?;
    client
        .batch_execute(KEEPALIVES)
        .await
        .map_err(|e| connector.query_error("setting the lock session's keepalives", e))?;
    Ok(client)
}

/// Tries once to take the lock `name` on `client`: gives the session back
/// while another session holds it. The session that took it is labelled
/// `label` (see [`holder_label`]).
pub async fn try_acquire(
    client: Client,
    connector: &Connector,
    name: &str,
    label: &str,
) -> Result<Result<Lock, Client>, PgError> {
    let key = lock_key(name);
    let got: bool = client
        .query_typed(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[(&LOCK_CLASS, Type::INT4), (&key, Type::INT4)],
        )
        .await
        .map_err(|e| connector.query_error("taking the standby lock", e))?
        .first()
        .is_some_and(|r| r.get(0));
    if !got {
        return Ok(Err(client));
    }
    // Set only once it holds: a standby's probing session is no holder.
    client
        .query_typed(
            "SELECT set_config('application_name', $1, false)",
            &[(&label, Type::TEXT)],
        )
        .await
        .map_err(|e| connector.query_error("labelling the standby lock's session", e))?;
    Ok(Ok(Lock {
        client,
        connector: connector.clone(),
        name: name.to_string(),
        key,
    }))
}

impl Lock {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock's session, to ask who else is there.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether this session still holds the lock, bounded by
    /// [`RENEW_TIMEOUT`]. Any failure means: no longer active.
    pub async fn check(&self) -> Result<(), LockError> {
        let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 2] =
            [(&LOCK_CLASS, Type::INT4), (&self.key, Type::INT4)];
        let query = self.client.query_typed(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2 \
             AND pid = pg_backend_pid() AND granted)",
            &params,
        );
        let rows = tokio::time::timeout(RENEW_TIMEOUT, query)
            .await
            .map_err(|_| LockError::Timeout {
                name: self.name.clone(),
                timeout: RENEW_TIMEOUT,
            })?
            .map_err(|e| self.connector.query_error("checking the standby lock", e))?;
        match rows.first().is_some_and(|r| r.get::<_, bool>(0)) {
            true => Ok(()),
            false => Err(LockError::Lost {
                name: self.name.clone(),
            }),
        }
    }
}

/// Who holds the lock `name` now (`None`: nobody), over any connection.
pub async fn holder(
    client: &Client,
    connector: &Connector,
    name: &str,
) -> Result<Option<Holder>, PgError> {
    let rows = client
        .query_typed(
            "SELECT l.pid, coalesce(a.application_name, ''), host(a.client_addr), \
                    extract(epoch FROM a.backend_start)::bigint \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.classid = $1::int4::oid \
               AND l.objid = $2::int4::oid AND l.objsubid = 2 AND l.granted",
            &[(&LOCK_CLASS, Type::INT4), (&lock_key(name), Type::INT4)],
        )
        .await
        .map_err(|e| connector.query_error("looking up the standby lock's holder", e))?;
    Ok(rows.first().map(|r| Holder {
        pid: r.get(0),
        application_name: r.get(1),
        client_addr: r.get(2),
        since: r.get(3),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_labels() {
        assert_eq!(lock_key("buhbot"), lock_key("buhbot"));
        assert_ne!(lock_key("buhbot"), lock_key("buhbot-2"));
        let a = holder_label("vds-1", std::path::Path::new("/var/lib/buhbot/buhbot.db"));
        let b = holder_label("vds-1", std::path::Path::new("/tmp/x/buhbot.db"));
        assert!(a.starts_with("buhbot active vds-1 "));
        assert_ne!(a, b);
        assert!(holder_label(&"h".repeat(100), std::path::Path::new("/x")).len() <= 63);
    }
}
