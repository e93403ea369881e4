//! Sections of the daemon: `[store]`, `[daemon]`, `[metrics]`, `[backup]`,
//! `[alerts]`, `[email]`, `[telegram]`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::pg_backup::{self, PostgresBackupConfig};
use super::reader::{Problems, Table, cron, join, path};
use super::{EmailSettings, Secret, TlsMode, credential};
use crate::domain::render::DEFAULT_PREVIEW_CHARS;
use crate::domain::starts::CrashLoop;

/// Default database path (systemd's `StateDirectory=buhbot`).
pub const DEFAULT_DB_PATH: &str = "/var/lib/buhbot/buhbot.db";

pub const STORE_KEYS: &[&str] = &["path", "retention_days", "retention_schedule"];
pub const DAEMON_KEYS: &[&str] = &[
    "drain_timeout_seconds",
    "reconcile_schedule",
    "crash_loop_restarts",
    "crash_loop_minutes",
];
pub const METRICS_KEYS: &[&str] = &["textfile", "interval_seconds"];
pub const BACKUP_KEYS: &[&str] = &[
    "dir",
    "keep_days",
    "keep_count",
    "schedule",
    "enabled",
    // The Postgres dumps (config/pg_backup.rs).
    "postgres_enabled",
    "postgres_schedule",
    "postgres_keep",
    "pg_dump",
    "postgres_port",
    "postgres_user",
    "postgres_password_file",
];
pub const ALERTS_KEYS: &[&str] = &[
    "preview_chars",
    "managers",
    "retry_initial_seconds",
    "retry_max_seconds",
    "give_up_after_minutes",
    "retry_jitter_percent",
    "log",
    "telegram",
];
pub const EMAIL_KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "username",
    "password_file",
    "from",
    "timeout_seconds",
    "accountants",
    "managers",
];
pub const TELEGRAM_KEYS: &[&str] = &[
    "bot_id",
    "api_id",
    "api_hash_file",
    "bot_token_file",
    "rate_limit_per_minute",
];

/// `[store]`
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// Rows older than this are deleted by the daily retention job.
    pub retention_days: u32,
    /// 6-field cron (seconds first), in the calendar's time zone.
    pub retention_schedule: String,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: PathBuf::from(DEFAULT_DB_PATH),
            retention_days: 1096,
            retention_schedule: "0 30 4 * * *".into(),
        }
    }
}

/// `[daemon]`
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// How long a graceful stop may take before in-flight work is dropped
    /// (it is redone after the restart: nothing unacknowledged is lost).
    pub drain_timeout: Duration,
    pub reconcile_schedule: String,
    /// More restarts after a crash than this within its window: the
    /// admins get one warning (`crash_loop_restarts`, `crash_loop_minutes`).
    pub crash_loop: CrashLoop,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            drain_timeout: Duration::from_secs(10),
            reconcile_schedule: "0 */5 * * * *".into(),
            crash_loop: CrashLoop::default(),
        }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSettings {
    pub textfile: PathBuf,
    pub interval: Duration,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            textfile: PathBuf::from("/var/lib/buhbot/metrics/buhbot.prom"),
            interval: Duration::from_secs(15),
        }
    }
}

/// `[backup]`
#[derive(Debug, Clone, PartialEq)]
pub struct BackupConfig {
    pub enabled: bool,
    pub dir: PathBuf,
    pub keep_days: u32,
    pub keep_count: usize,
    /// Daily by default: the firm's recovery point objective is 24 hours,
    /// which a weekly archive cannot meet.
    pub schedule: String,
    /// The `pg_dump` of the `[postgres]` database (`postgres_*` keys).
    pub postgres: PostgresBackupConfig,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            enabled: true,
            dir: PathBuf::from("/var/backups/buhbot"),
            keep_days: 28,
            keep_count: 28,
            schedule: "0 0 3 * * *".into(),
            postgres: PostgresBackupConfig::with_enabled(true),
        }
    }
}

/// `[alerts]`
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    pub preview_chars: usize,
    /// Global managers: escalations go to them in every chat.
    pub managers: Vec<i64>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A delivery still failing this long after the alert is given up.
    pub give_up_after: Duration,
    /// Up to this share (0–100 %) of each retry delay is taken off at
    /// random, so that messages that failed together do not retry together.
    pub retry_jitter_percent: u32,
    /// Also write every alert to the log.
    pub log: bool,
    /// Send alerts to the staff's private chats with the bot (only when
    /// the daemon runs on Telegram; a replay forces it off).
    pub telegram: bool,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            preview_chars: DEFAULT_PREVIEW_CHARS,
            managers: Vec::new(),
            retry_initial: Duration::from_secs(30),
            retry_max: Duration::from_secs(900),
            give_up_after: Duration::from_secs(24 * 3600),
            retry_jitter_percent: 0,
            log: true,
            telegram: true,
        }
    }
}

/// `[email]`: SMTP settings and recipients per role.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub smtp: EmailSettings,
    /// Get warnings, breaches.
    pub accountants: Vec<String>,
    /// Get breaches and escalations.
    pub managers: Vec<String>,
}

/// `[telegram]`
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramSettings {
    /// The bot's own user id: its messages never open requests.
    pub bot_id: Option<i64>,
    /// From my.telegram.org; not a secret (it identifies the application).
    pub api_id: Option<i32>,
    /// systemd credential `telegram_api_hash`, else `api_hash_file`.
    pub api_hash: Option<Secret>,
    /// systemd credential `telegram_bot_token`, else `bot_token_file`.
    pub bot_token: Option<Secret>,
    /// Messages a non-staff user may address to the bot per minute.
    pub rate_limit_per_minute: std::num::NonZeroU32,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings {
            bot_id: None,
            api_id: None,
            api_hash: None,
            bot_token: None,
            rate_limit_per_minute: std::num::NonZeroU32::new(10).expect("nonzero"),
        }
    }
}

/// What connecting to Telegram needs, all present.
#[derive(Debug, Clone)]
pub struct TelegramCredentials {
    pub api_id: i32,
    pub api_hash: Secret,
    pub bot_token: Secret,
}

impl TelegramSettings {
    /// The credentials, or one problem per missing piece naming the key
    /// (and the credential) to set. Checked only where Telegram is used,
    /// so a replay-only configuration needs none.
    pub fn credentials(&self) -> Result<TelegramCredentials, Vec<(String, String)>> {
        let mut missing = Vec::new();
        if self.api_id.is_none() {
            missing.push((
                "telegram.api_id".to_string(),
                "is not set: the Telegram source needs the api_id from my.telegram.org".to_string(),
            ));
        }
        if self.api_hash.is_none() {
            missing.push((
                "telegram.api_hash_file".to_string(),
                "no api_hash: put it in the systemd credential `telegram_api_hash` \
                 (/etc/buhbot/credentials/telegram_api_hash) or name a file here"
                    .to_string(),
            ));
        }
        if self.bot_token.is_none() {
            missing.push((
                "telegram.bot_token_file".to_string(),
                "no bot token: put it in the systemd credential `telegram_bot_token` \
                 (/etc/buhbot/credentials/telegram_bot_token) or name a file here"
                    .to_string(),
            ));
        }
        match (self.api_id, &self.api_hash, &self.bot_token) {
            (Some(api_id), Some(h), Some(t)) if missing.is_empty() => Ok(TelegramCredentials {
                api_id,
                api_hash: h.clone(),
                bot_token: t.clone(),
            }),
            _ => Err(missing),
        }
    }
}

fn secs(
    problems: &mut Problems<'_>,
    t: &Table<'_>,
    key: &str,
    range: std::ops::RangeInclusive<u32>,
    default: Duration,
) -> Duration {
    t.int_in(problems, key, range)
        .map_or(default, |s| Duration::from_secs(u64::from(s)))
}

pub fn read_store(problems: &mut Problems<'_>, t: &Table<'_>) -> StoreSettings {
    let d = StoreSettings::default();
    StoreSettings {
        path: path(problems, t, "path", d.path),
        retention_days: t
            .int_in(problems, "retention_days", 30..=36_500)
            .unwrap_or(d.retention_days),
        retention_schedule: cron(problems, t, "retention_schedule", &d.retention_schedule),
    }
}

pub fn read_daemon(problems: &mut Problems<'_>, t: &Table<'_>) -> DaemonSettings {
    let d = DaemonSettings::default();
    DaemonSettings {
        drain_timeout: secs(
            problems,
            t,
            "drain_timeout_seconds",
            1..=25,
            d.drain_timeout,
        ),
        reconcile_schedule: cron(problems, t, "reconcile_schedule", &d.reconcile_schedule),
        crash_loop: CrashLoop {
            restarts: t
                .int_in(problems, "crash_loop_restarts", 1..=1000)
                .unwrap_or(d.crash_loop.restarts),
            window: t
                .int_in(problems, "crash_loop_minutes", 1..=1440)
                .map_or(d.crash_loop.window, |m| {
                    Duration::from_secs(u64::from(m) * 60)
                }),
        },
    }
}

pub fn read_metrics(problems: &mut Problems<'_>, t: &Table<'_>) -> MetricsSettings {
    let d = MetricsSettings::default();
    MetricsSettings {
        textfile: path(problems, t, "textfile", d.textfile),
        interval: secs(problems, t, "interval_seconds", 1..=3600, d.interval),
    }
}

pub fn read_backup(problems: &mut Problems<'_>, t: &Table<'_>) -> BackupConfig {
    let d = BackupConfig::default();
    let enabled = t.get(problems, "enabled").unwrap_or(d.enabled);
    BackupConfig {
        enabled,
        dir: path(problems, t, "dir", d.dir),
        keep_days: t
            .int_in(problems, "keep_days", 1..=3650)
            .unwrap_or(d.keep_days),
        keep_count: t
            .int_in(problems, "keep_count", 1..=1000)
            .map_or(d.keep_count, |n| n as usize),
        schedule: cron(problems, t, "schedule", &d.schedule),
        postgres: pg_backup::read(problems, t, enabled),
    }
}

pub fn read_alerts(problems: &mut Problems<'_>, t: &Table<'_>) -> AlertSettings {
    let d = AlertSettings::default();
    let a = AlertSettings {
        preview_chars: t
            .int_in(problems, "preview_chars", 100..=1000)
            .map_or(d.preview_chars, |n| n as usize),
        managers: t.get(problems, "managers").unwrap_or_default(),
        retry_initial: secs(
            problems,
            t,
            "retry_initial_seconds",
            1..=3600,
            d.retry_initial,
        ),
        retry_max: secs(problems, t, "retry_max_seconds", 1..=86_400, d.retry_max),
        give_up_after: t
            .int_in(problems, "give_up_after_minutes", 1..=10_080)
            .map_or(d.give_up_after, |m| Duration::from_secs(u64::from(m) * 60)),
        retry_jitter_percent: t
            .int_in(problems, "retry_jitter_percent", 0..=100)
            .unwrap_or(d.retry_jitter_percent),
        log: t.get(problems, "log").unwrap_or(d.log),
        telegram: t.get(problems, "telegram").unwrap_or(d.telegram),
    };
    if a.retry_max < a.retry_initial {
        problems.push(
            &join(t.path, "retry_max_seconds"),
            t.raw("retry_max_seconds"),
            "must not be smaller than retry_initial_seconds",
        );
    }
    a
}

/// `[email]` is optional; without `host` no e-mail is sent.
pub fn read_email(problems: &mut Problems<'_>, t: &Table<'_>) -> Option<EmailConfig> {
    let host = t.get::<String>(problems, "host");
    let tls = match t.get::<String>(problems, "tls").as_deref() {
        None | Some("starttls") => TlsMode::StartTls,
        Some("implicit") => TlsMode::Implicit,
        Some("none") => TlsMode::None,
        Some(other) => {
            problems.push(
                &join(t.path, "tls"),
                t.raw("tls"),
                format!("{other:?}: expected starttls, implicit or none"),
            );
            TlsMode::StartTls
        }
    };
    let default_port = if tls == TlsMode::Implicit { 465 } else { 587 };
    let port = t.get::<u16>(problems, "port").unwrap_or(default_port);
    let username = t.get::<String>(problems, "username");
    let explicit = t
        .get::<String>(problems, "password_file")
        .map(PathBuf::from);
    // The password comes from systemd's credential `smtp_password`, or
    // from password_file; never from this file itself.
    let password: Option<Secret> = match credential("smtp_password", explicit.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            problems.push(
                &join(t.path, "password_file"),
                t.raw("password_file"),
                e.to_string(),
            );
            None
        }
    };
    let from = t.get::<String>(problems, "from");
    let timeout = secs(
        problems,
        t,
        "timeout_seconds",
        1..=300,
        Duration::from_secs(30),
    );
    let accountants: Vec<String> = t.get(problems, "accountants").unwrap_or_default();
    let managers: Vec<String> = t.get(problems, "managers").unwrap_or_default();
    for (key, list) in [("accountants", &accountants), ("managers", &managers)] {
        for (i, addr) in list.iter().enumerate() {
            if lettre::Address::from_str(addr).is_err() {
                problems.push(
                    &format!("{}[{i}]", join(t.path, key)),
                    t.raw(key),
                    format!("{addr:?} is not an e-mail address"),
                );
            }
        }
    }
    let host = host?;
    let Some(from) = from else {
        problems.push(
            &join(t.path, "from"),
            t.raw("host"),
            "missing: the sender address is required with host",
        );
        return None;
    };
    Some(EmailConfig {
        smtp: EmailSettings {
            host,
            port,
            tls,
            username,
            password,
            from,
            timeout,
        },
        accountants,
        managers,
    })
}

pub fn read_telegram(problems: &mut Problems<'_>, t: &Table<'_>) -> TelegramSettings {
    let d = TelegramSettings::default();
    let mut secret = |cred: &str, key: &str| {
        let explicit = t.get::<String>(problems, key).map(PathBuf::from);
        // Like the SMTP password: a systemd credential, or a file named
        // here; never the secret itself in this file.
        match credential(cred, explicit.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(&join(t.path, key), t.raw(key), e.to_string());
                None
            }
        }
    };
    let api_hash = secret("telegram_api_hash", "api_hash_file");
    let bot_token = secret("telegram_bot_token", "bot_token_file");
    TelegramSettings {
        bot_id: t.get(problems, "bot_id"),
        api_id: t
            .int_in(problems, "api_id", 1..=i32::MAX as u32)
            .map(|v| v as i32),
        api_hash,
        bot_token,
        rate_limit_per_minute: t
            .int_in(problems, "rate_limit_per_minute", 1..=1000)
            .and_then(std::num::NonZeroU32::new)
            .unwrap_or(d.rate_limit_per_minute),
    }
}
