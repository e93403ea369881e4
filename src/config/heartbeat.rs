//! `[heartbeat]`: the external heartbeat (an Uptime Kuma push monitor,
//! Healthchecks.io or any URL) the daemon calls while it is healthy (the
//! worker is `crate::daemon::heartbeat`).
//!
//! A push URL carries its monitor's token, so like the other secrets it
//! may come from a systemd credential (`heartbeat_url`,
//! `heartbeat_failure_url`) or a file (`url_file`, `failure_url_file`);
//! `url` / `failure_url` in the file itself are accepted too (a push token
//! only lets one report this monitor's state).

use std::path::PathBuf;
use std::time::Duration;

use super::reader::{Problems, Table, join};
use super::{Secret, credential};

pub const HEARTBEAT_KEYS: &[&str] = &[
    "url",
    "url_file",
    "failure_url",
    "failure_url_file",
    "interval_seconds",
    "timeout_seconds",
];

/// The placeholders a heartbeat URL may hold, replaced at every call.
pub const STATUS_PLACEHOLDER: &str = "{status}";
pub const MSG_PLACEHOLDER: &str = "{msg}";

/// `[heartbeat]`, present when a URL is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatSettings {
    /// Called every interval while healthy (`{status}` → `up`).
    pub url: Secret,
    /// Called every interval while unhealthy; without it, a `url` with
    /// `{status}` is called with `down`, any other is not called at all.
    pub failure_url: Option<Secret>,
    pub interval: Duration,
    /// Bound on one whole call (connect, TLS, request, response).
    pub timeout: Duration,
}

impl HeartbeatSettings {
    /// The URL to call when unhealthy, if any.
    pub fn failure_target(&self) -> Option<&Secret> {
        self.failure_url.as_ref().or_else(|| {
            self.url
                .expose()
                .contains(STATUS_PLACEHOLDER)
                .then_some(&self.url)
        })
    }
}

impl HeartbeatSettings {
    /// One line for `buhbot check-config`: scheme and host only (the path
    /// and query hold the token).
    pub fn describe(&self) -> String {
        let on_failure = match (&self.failure_url, self.failure_target()) {
            (Some(f), _) => format!("calls {}", origin(f)),
            (None, Some(_)) => "calls it with {status} = down".to_string(),
            (None, None) => "stops calling".to_string(),
        };
        format!(
            "{} every {}s (timeout {}s); when unhealthy {on_failure}",
            origin(&self.url),
            self.interval.as_secs(),
            self.timeout.as_secs()
        )
    }
}

/// `https://host:port/…` of a URL.
fn origin(url: &Secret) -> String {
    let filled = fill(url.expose(), "up", "");
    match filled.parse::<ureq::http::Uri>() {
        // Host and port only: the authority may carry user:password@.
        Ok(u) => format!(
            "{}://{}{}/…",
            u.scheme_str().unwrap_or("?"),
            u.host().unwrap_or("?"),
            u.port_u16().map_or_else(String::new, |p| format!(":{p}"))
        ),
        Err(_) => "?".to_string(),
    }
}

/// The URL with its placeholders filled: `status` as is, `msg`
/// percent-encoded (RFC 3986 unreserved characters kept).
pub fn fill(url: &str, status: &str, msg: &str) -> String {
    let mut encoded = String::with_capacity(msg.len() * 3);
    for b in msg.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    url.replace(STATUS_PLACEHOLDER, status)
        .replace(MSG_PLACEHOLDER, &encoded)
}

/// Why a URL is refused (never quoting it: it may hold a token).
fn check_url(url: &str) -> Result<(), String> {
    let filled = fill(url, "up", "ok");
    let rest = filled
        .strip_prefix("https://")
        .or_else(|| filled.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return Err("has no host".into());
    }
    if filled.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    filled
        .parse::<ureq::http::Uri>()
        .map(|_| ())
        .map_err(|_| "is not a valid URL".to_string())
}

pub fn read(problems: &mut Problems<'_>, t: &Table<'_>) -> Option<HeartbeatSettings> {
    let mut url_of = |key: &str, file_key: &str, cred: &str| -> Option<Secret> {
        let explicit = t.get::<String>(problems, file_key).map(PathBuf::from);
        let secret = match credential(cred, explicit.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(&join(t.path, file_key), t.raw(file_key), e.to_string());
                return None;
            }
        };
        let inline = t.get::<String>(problems, key);
        if inline.is_some() && explicit.is_some() {
            problems.push(
                &join(t.path, key),
                t.raw(key),
                format!("set either {key} or {file_key}, not both"),
            );
        }
        let url = secret.or_else(|| inline.map(Secret::new))?;
        let url = Secret::new(url.expose().trim());
        if let Err(why) = check_url(url.expose()) {
            let at = if t.has(key) { key } else { file_key };
            problems.push(&join(t.path, at), t.raw(at), why);
            return None;
        }
        Some(url)
    };
    let url = url_of("url", "url_file", "heartbeat_url");
    let failure_url = url_of("failure_url", "failure_url_file", "heartbeat_failure_url");
    let interval = t
        .int_in(problems, "interval_seconds", 5..=3600)
        .map_or(Duration::from_secs(60), |s| {
            Duration::from_secs(u64::from(s))
        });
    let timeout = t
        .int_in(problems, "timeout_seconds", 1..=60)
        .map_or(Duration::from_secs(10), |s| {
            Duration::from_secs(u64::from(s))
        });
    if timeout >= interval {
        problems.push(
            &join(t.path, "timeout_seconds"),
            t.raw("timeout_seconds").or(t.raw("interval_seconds")),
            format!(
                "must be shorter than interval_seconds ({} s), so a slow call never delays the next",
                interval.as_secs()
            ),
        );
    }
    let Some(url) = url else {
        if failure_url.is_some() {
            problems.push(
                &join(t.path, "url"),
                t.raw("failure_url").or(t.raw("failure_url_file")),
                "missing: failure_url needs url (the call made while healthy)",
            );
        }
        return None;
    };
    Some(HeartbeatSettings {
        url,
        failure_url,
        interval,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_the_message_encoded() {
        let url = "https://kuma.example/api/push/T0k?status={status}&msg={msg}&ping=";
        assert_eq!(
            fill(url, "down", "Telegram: отключён; a&b"),
            "https://kuma.example/api/push/T0k?status=down&msg=Telegram%3A%20%D0%BE%D1%82%D0%BA%D0%BB%D1%8E%D1%87%D1%91%D0%BD%3B%20a%26b&ping="
        );
        assert_eq!(
            fill("https://hc.example/u", "up", "x y"),
            "https://hc.example/u"
        );
    }

    #[test]
    fn urls_are_checked_without_being_quoted() {
        assert!(check_url("https://hc-ping.example/5f1c").is_ok());
        assert!(check_url("http://127.0.0.1:8080/p?s={status}&m={msg}").is_ok());
        assert_eq!(
            check_url("ftp://x/secret").unwrap_err(),
            "must start with https:// or http://"
        );
        assert_eq!(check_url("https:///secret").unwrap_err(), "has no host");
        assert!(check_url("https://x/a b").is_err());
    }

    #[test]
    fn without_failure_url_only_a_status_placeholder_reports_down() {
        let mut s = HeartbeatSettings {
            url: Secret::new("https://hc.example/u"),
            failure_url: None,
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        };
        assert!(s.failure_target().is_none());
        assert_eq!(
            s.describe(),
            "https://hc.example/… every 60s (timeout 10s); when unhealthy stops calling"
        );
        let secret = Secret::new("https://me:pw@k.example:8443/api/push/T0k");
        assert_eq!(origin(&secret), "https://k.example:8443/…");
        s.url = Secret::new("https://k.example/p?status={status}");
        assert_eq!(s.failure_target(), Some(&s.url));
        s.failure_url = Some(Secret::new("https://hc.example/u/fail"));
        assert_eq!(
            s.failure_target().unwrap().expose(),
            "https://hc.example/u/fail"
        );
    }
}
