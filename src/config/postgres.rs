//! `[postgres]`: where the firm's Postgres (Supabase) is and how to reach
//! it. The section absent = Postgres not configured: the daemon runs on
//! SQLite alone, as before.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Secret;
use super::credential;
use figment::value::Value;

use super::reader::{Problems, Table, join};

/// The keys `[postgres]` accepts (documented in buhbot.toml(5)).
pub const POSTGRES_KEYS: &[&str] = &[
    "url",
    "host",
    "port",
    "dbname",
    "user",
    "password_file",
    "sslmode",
    "ca_file",
    "pool_size",
    "push_interval_seconds",
    "pull_interval_seconds",
    "connect_timeout_seconds",
    "standby",
    "standby_lock",
];

/// The standby lock's name unless `standby_lock` says otherwise.
pub const DEFAULT_STANDBY_LOCK: &str = "buhbot";

/// The systemd credential holding the daemon role's password.
pub const PASSWORD_CREDENTIAL: &str = "postgres_password";
/// The login role the daemon uses unless `user` says otherwise.
pub const DEFAULT_USER: &str = "buhbot_daemon";
/// The most connections the daemon opens (seed T055).
pub const MAX_POOL_SIZE: u32 = 10;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS; only allowed to a loopback host (or a Unix socket).
    Disable,
    /// TLS. rustls always verifies the chain to `ca_file` and the host
    /// name, so this is as strict as `verify-full`; accepted because
    /// libpq URLs and Supabase's dashboard say `require`.
    Require,
    /// TLS, the certificate chained to `ca_file` and valid for the host.
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `[postgres]`, validated. `Debug` is safe to log: the password is a
/// [`Secret`].
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// A host name, an IP address, or a Unix socket directory (`/…`).
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    /// systemd credential `postgres_password`, else `password_file`.
    pub password: Option<Secret>,
    pub sslmode: SslMode,
    /// PEM certificates the server's chain must end in; `None` only with
    /// `sslmode = "disable"`.
    pub ca_file: Option<PathBuf>,
    pub pool_size: u32,
    pub push_interval: Duration,
    pub pull_interval: Duration,
    pub connect_timeout: Duration,
    /// `standby = true`: this daemon is one of two hosts of one bot and is
    /// active only while it holds the Postgres lock `standby_lock`
    /// (`sync::standby`); `None`: it always is.
    pub standby_lock: Option<String>,
}

impl PostgresSettings {
    /// `user@host:port/dbname`, for messages (never the password).
    pub fn target(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

/// Whether `host` is this machine: the only place a plaintext connection
/// may go.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What a `postgres://` URL holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct UrlParts {
    user: Option<String>,
    has_password: bool,
    host: String,
    port: Option<u16>,
    dbname: Option<String>,
}

/// Parses `postgres[ql]://[user[:password]@]host[:port][/dbname]`. Query
/// parameters are refused: the keys of this section say the same, and two
/// places for `sslmode` would be one too many.
fn parse_url(url: &str) -> Result<UrlParts, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or("must start with postgresql:// or postgres://")?;
    if rest.contains('?') {
        return Err(
            "query parameters are not accepted: use the keys sslmode, ca_file, \
                    connect_timeout_seconds of [postgres]"
                .into(),
        );
    }
    let mut parts = UrlParts::default();
    // The last '@': a password may contain one, the host cannot.
    let hostpart = match rest.rsplit_once('@') {
        Some((userinfo, hostpart)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            parts.has_password = password.is_some();
            if !user.is_empty() {
                parts.user = Some(user.to_string());
            }
            hostpart
        }
        None => rest,
    };
    let (hostport, dbname) = match hostpart.split_once('/') {
        Some((hp, db)) => (hp, Some(db)),
        None => (hostpart, None),
    };
    parts.dbname = dbname.filter(|d| !d.is_empty()).map(str::to_string);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, tail) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        (h, tail.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("names no host".into());
    }
    parts.host = host.to_string();
    if let Some(p) = port {
        parts.port = Some(
            p.parse()
                .map_err(|_| format!("port {p:?} is not a number 1–65535"))?,
        );
    }
    Ok(parts)
}

/// Reads `[postgres]`; `None` when the section is absent (or invalid: the
/// problems are recorded then).
pub fn read_postgres(problems: &mut Problems<'_>, raw: Option<&Value>) -> Option<PostgresSettings> {
    raw?;
    // `password` is read only to refuse it with a message that says where
    // the password goes (an "unknown key" would not).
    let mut accepted = POSTGRES_KEYS.to_vec();
    accepted.push("password");
    let t = &Table::new(problems, "postgres", raw, &accepted);
    if t.has("password") {
        problems.push(
            "postgres.password",
            t.raw("password"),
            format!(
                "the password never goes in the configuration: put it in the systemd credential \
                 `{PASSWORD_CREDENTIAL}` (/etc/buhbot/credentials/{PASSWORD_CREDENTIAL}) or name \
                 a file in password_file"
            ),
        );
    }
    let key = |k: &str| join(t.path, k);
    let before = problems.list.len();

    let mut from_url = UrlParts::default();
    match (t.get::<String>(problems, "url"), t.has("host")) {
        (Some(_), true) => problems.push(
            &key("url"),
            t.raw("url"),
            "set either url or host/port/dbname/user, not both",
        ),
        // The URL itself is never quoted: it may hold a password.
        (Some(url), false) => match parse_url(&url) {
            Ok(parts) if parts.has_password => problems.push(
                &key("url"),
                t.raw("url"),
                format!(
                    "holds a password: the password never goes in the configuration; put it in \
                     the systemd credential `{PASSWORD_CREDENTIAL}` \
                     (/etc/buhbot/credentials/{PASSWORD_CREDENTIAL}) or name a file in password_file"
                ),
            ),
            Ok(parts) => from_url = parts,
            Err(e) => problems.push(&key("url"), t.raw("url"), format!("not a PostgreSQL URL: {e}")),
        },
        (None, _) => {}
    }
    for k in ["port", "dbname", "user"] {
        if t.has("url") && t.has(k) {
            problems.push(
                &key(k),
                t.raw(k),
                "set either url or host/port/dbname/user, not both",
            );
        }
    }
    let host = t
        .get::<String>(problems, "host")
        .or(Some(from_url.host).filter(|h| !h.is_empty()));
    if host.is_none() && !t.has("url") && !t.has("host") {
        problems.push(
            &key("host"),
            raw,
            "missing: [postgres] needs url or host (remove the section to run without Postgres)",
        );
    }
    let port = match t.get::<u16>(problems, "port") {
        Some(0) => {
            problems.push(
                &key("port"),
                t.raw("port"),
                "must be between 1 and 65535, got 0",
            );
            None
        }
        p => p,
    };
    let port = port.or(from_url.port).unwrap_or(5432);
    let dbname = t
        .get::<String>(problems, "dbname")
        .or(from_url.dbname)
        .unwrap_or_else(|| "postgres".into());
    let user = t
        .get::<String>(problems, "user")
        .or(from_url.user)
        .unwrap_or_else(|| DEFAULT_USER.into());

    let explicit = t
        .get::<String>(problems, "password_file")
        .map(PathBuf::from);
    let password = match credential(PASSWORD_CREDENTIAL, explicit.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            problems.push(&key("password_file"), t.raw("password_file"), e.to_string());
            None
        }
    };

    let sslmode = match t.get::<String>(problems, "sslmode").as_deref() {
        None | Some("verify-full") => SslMode::VerifyFull,
        Some("require") => SslMode::Require,
        Some("disable") => SslMode::Disable,
        Some(other) => {
            problems.push(
                &key("sslmode"),
                t.raw("sslmode"),
                format!("{other:?}: expected verify-full, require or disable"),
            );
            SslMode::VerifyFull
        }
    };
    if let Some(h) = &host
        && sslmode == SslMode::Disable
        && !is_loopback(h)
    {
        problems.push(
            &key("sslmode"),
            t.raw("sslmode"),
            format!("\"disable\" is only allowed to a loopback host, not {h:?}: the password and the firm's data would cross the network in clear"),
        );
    }
    let ca_file = t.get::<String>(problems, "ca_file").map(PathBuf::from);
    match (&ca_file, sslmode) {
        // Without a host the section is already wrong; one problem is enough.
        (None, _) if host.is_none() => {}
        (None, SslMode::Require | SslMode::VerifyFull) => problems.push(
            &key("ca_file"),
            t.raw("sslmode").or(raw),
            format!(
                "missing: sslmode {} verifies the server against a CA certificate file \
                 (Supabase: Database settings → SSL certificate); name it here",
                sslmode.as_str()
            ),
        ),
        (Some(path), _) if !path.is_absolute() => problems.push(
            &key("ca_file"),
            t.raw("ca_file"),
            format!("{:?} must be an absolute path", path.display().to_string()),
        ),
        (Some(path), _) if !path.is_file() => problems.push(
            &key("ca_file"),
            t.raw("ca_file"),
            format!("{} does not exist or is not a file", path.display()),
        ),
        _ => {}
    }
    let pool_size = t
        .int_in(problems, "pool_size", 1..=MAX_POOL_SIZE)
        .unwrap_or(4);
    let secs = |problems: &mut Problems<'_>, k: &str, range, default: u64| {
        t.int_in(problems, k, range)
            .map_or(Duration::from_secs(default), |s| {
                Duration::from_secs(u64::from(s))
            })
    };
    let push_interval = secs(problems, "push_interval_seconds", 1..=3600, 1);
    let pull_interval = secs(problems, "pull_interval_seconds", 1..=3600, 5);
    let connect_timeout = secs(problems, "connect_timeout_seconds", 1..=300, 10);
    let lock = t.get::<String>(problems, "standby_lock");
    if let Some(l) = &lock
        && (l.trim().is_empty() || l.len() > 63)
    {
        problems.push(
            &key("standby_lock"),
            t.raw("standby_lock"),
            "must be a name of 1 to 63 bytes (the same on both hosts of one bot)",
        );
    }
    let standby_lock = match t.get::<bool>(problems, "standby") {
        Some(true) => Some(lock.unwrap_or_else(|| DEFAULT_STANDBY_LOCK.into())),
        _ => None,
    };

    if problems.list.len() > before {
        return None;
    }
    Some(PostgresSettings {
        host: host?,
        port,
        dbname,
        user,
        password,
        sslmode,
        ca_file,
        pool_size,
        push_interval,
        pull_interval,
        connect_timeout,
        standby_lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = parse_url("postgresql://buhbot_daemon@db.example.ru:6543/postgres").unwrap();
        assert_eq!(p.user.as_deref(), Some("buhbot_daemon"));
        assert_eq!((p.host.as_str(), p.port), ("db.example.ru", Some(6543)));
        assert_eq!(p.dbname.as_deref(), Some("postgres"));
        assert!(!p.has_password);
        assert!(parse_url("postgres://u:p@w@h/db").unwrap().has_password);
        let v6 = parse_url("postgres://[::1]:5433").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(5433)));
        assert!(parse_url("mysql://h").is_err());
        assert!(parse_url("postgres://h/db?sslmode=disable").is_err());
        assert!(parse_url("postgres://h:x/db").is_err());
    }

    #[test]
    fn loopback() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
            "/run/postgresql",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["db.example.ru", "10.0.0.1", "localhost.example.ru"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
