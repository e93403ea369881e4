//! Configuration: figment layering (built-in defaults → TOML file →
//! `BUHBOT_*` environment variables), then validation into typed settings.
//!
//! Validation walks the merged tree key by key ([`reader`]) so that a
//! sysadmin sees every problem at once, each with its key and its file.

mod calendar;
/// The keys of a calendar's `week` table, Monday first.
pub use calendar::DAYS as WEEK_DAYS;
mod daemon;
pub mod digest;
pub mod email;
pub mod faq;
pub mod heartbeat;
pub mod pg_backup;
pub mod postgres;
mod reader;
pub mod receipts;
pub mod secret;
pub mod surveys;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use figment::value::Value;

pub use daemon::{
    AlertSettings, BackupConfig, DEFAULT_DB_PATH, DaemonSettings, EmailConfig, MetricsSettings,
    StoreSettings, TelegramCredentials, TelegramSettings,
};
pub use digest::DigestSettings;
pub use email::{EmailSettings, TlsMode};
pub use faq::FaqSettings;
pub use heartbeat::HeartbeatSettings;
pub use pg_backup::PostgresBackupConfig;
pub use postgres::{PostgresSettings, SslMode};
pub use reader::Problem;
use reader::{Problems, Table, join};
pub use receipts::{MenuSettings, ReceiptsSettings};
pub use secret::{Secret, SecretError, credential, credential_in, read_secret_file};
pub use surveys::SurveySettings;

use crate::domain::calendar::CalendarSpec;
use crate::domain::classify::Classifier;
use crate::domain::sla::{Policy, UserId};

/// Where the configuration is read from unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/buhbot/buhbot.toml";
/// Prefix of environment overrides: `BUHBOT_SLA__THRESHOLD_MINUTES=30`.
pub const ENV_PREFIX: &str = "BUHBOT_";

const TOP_KEYS: &[&str] = &[
    "calendar",
    "sla",
    "chats",
    "classifier",
    "store",
    "daemon",
    "metrics",
    "backup",
    "alerts",
    "email",
    "telegram",
    "postgres",
    "heartbeat",
    "faq",
    "digest",
    "surveys",
    "receipts",
    "menu",
];
const CLASSIFIER_KEYS: &[&str] = &["rules"];
/// A `[[chats]]` entry's own keys; it also takes every [`POLICY_KEYS`] key.
const CHAT_KEYS: &[&str] = &[
    "id",
    "title",
    "accountants",
    "managers",
    "calendar",
    "faq_stops_sla",
    "receipts",
    "out_of_hours_reply",
];
const POLICY_KEYS: &[&str] = &[
    "threshold_minutes",
    "warning_percent",
    "escalation_interval_minutes",
    "max_escalations",
];
/// `[sla]`'s keys beyond the policy (not overridable per chat).
const SLA_KEYS: &[&str] = &["enabled_for_new_chats"];

/// Every key the configuration accepts, dotted (`calendar.week.mon`,
/// `chats.calendar.timezone`; array-of-tables elements without an index),
/// tables included. Built from the same lists validation uses, so the
/// documentation tests cannot drift from what the reader accepts.
pub fn all_keys() -> Vec<String> {
    fn calendar_keys(prefix: &str, out: &mut Vec<String>) {
        for key in calendar::KEYS {
            out.push(format!("{prefix}.{key}"));
        }
        for day in calendar::DAYS {
            out.push(format!("{prefix}.week.{day}"));
        }
        for key in calendar::WORKDAY_KEYS {
            out.push(format!("{prefix}.workdays.{key}"));
        }
    }
    let mut out = Vec::new();
    for section in TOP_KEYS {
        let keys: &[&str] = match *section {
            "calendar" => {
                calendar_keys("calendar", &mut out);
                continue;
            }
            "sla" => {
                for key in POLICY_KEYS.iter().chain(SLA_KEYS) {
                    out.push(format!("sla.{key}"));
                }
                continue;
            }
            "chats" => {
                for key in CHAT_KEYS.iter().chain(POLICY_KEYS) {
                    out.push(format!("chats.{key}"));
                }
                calendar_keys("chats.calendar", &mut out);
                continue;
            }
            "classifier" => CLASSIFIER_KEYS,
            "store" => daemon::STORE_KEYS,
            "daemon" => daemon::DAEMON_KEYS,
            "metrics" => daemon::METRICS_KEYS,
            "backup" => daemon::BACKUP_KEYS,
            "alerts" => daemon::ALERTS_KEYS,
            "email" => daemon::EMAIL_KEYS,
            "telegram" => daemon::TELEGRAM_KEYS,
            "postgres" => postgres::POSTGRES_KEYS,
            "heartbeat" => heartbeat::HEARTBEAT_KEYS,
            "faq" => faq::FAQ_KEYS,
            "digest" => digest::DIGEST_KEYS,
            "surveys" => surveys::SURVEYS_KEYS,
            "receipts" => receipts::RECEIPTS_KEYS,
            "menu" => receipts::MENU_KEYS,
            other => unreachable!("section {other} has no key list in all_keys"),
        };
        out.extend(keys.iter().map(|k| format!("{section}.{k}")));
    }
    out
}

/// Parses a chat's calendar snippet (the keys of `[calendar]`) over
/// `base`, with the same validation as the configuration file. Relative
/// `production_calendar` paths are resolved against the current directory;
/// see [`parse_calendar_snippet_in`].
pub fn parse_calendar_snippet(
    toml: &str,
    base: &CalendarSpec,
) -> Result<CalendarSpec, Vec<Problem>> {
    calendar::read_snippet(toml, base, Path::new(""))
}

/// [`parse_calendar_snippet`] with relative paths resolved against
/// `base_dir` (the configuration file's folder, as for `[calendar]`).
pub fn parse_calendar_snippet_in(
    toml: &str,
    base: &CalendarSpec,
    base_dir: &Path,
) -> Result<CalendarSpec, Vec<Problem>> {
    calendar::read_snippet(toml, base, base_dir)
}

/// The top-level sections.
pub fn sections() -> &'static [&'static str] {
    TOP_KEYS
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("{0}")]
    Syntax(String),
    #[error("{} problem(s) in the configuration:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// One monitored chat's settings (the global ones where it sets none).
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub id: i64,
    pub title: Option<String>,
    pub accountants: BTreeSet<UserId>,
    pub managers: BTreeSet<UserId>,
    pub calendar: CalendarSpec,
    pub policy: Policy,
    /// `faq_stops_sla`: `None` follows `[faq] stops_sla`.
    pub faq_stops_sla: Option<bool>,
    /// `receipts`: `None` follows `[receipts] enabled`.
    pub receipts: Option<bool>,
    /// `out_of_hours_reply`: `None` follows `[menu] out_of_hours_reply`.
    pub out_of_hours_reply: Option<bool>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The TOML file read, if any.
    pub file: Option<PathBuf>,
    pub calendar: CalendarSpec,
    pub sla: Policy,
    /// Whether a group the bot is added to starts with SLA tracking on
    /// (`sla.enabled_for_new_chats`); off, a manager turns it on.
    pub sla_enabled_for_new_chats: bool,
    pub chats: BTreeMap<i64, ChatConfig>,
    pub classifier: Classifier,
    pub store: StoreSettings,
    pub daemon: DaemonSettings,
    pub metrics: MetricsSettings,
    pub backup: BackupConfig,
    pub alerts: AlertSettings,
    /// Present when `[email] host` is set.
    pub email: Option<EmailConfig>,
    pub telegram: TelegramSettings,
    /// Present when the file has a `[postgres]` section.
    pub postgres: Option<PostgresSettings>,
    /// Present when `[heartbeat]` has a URL.
    pub heartbeat: Option<HeartbeatSettings>,
    pub faq: FaqSettings,
    pub digest: DigestSettings,
    pub surveys: SurveySettings,
    pub receipts: ReceiptsSettings,
    pub menu: MenuSettings,
}

impl Config {
    /// What connecting to Telegram needs, or a configuration error (exit
    /// 78) naming each missing key and the file to put it in.
    pub fn telegram_credentials(&self) -> Result<TelegramCredentials, ConfigError> {
        self.telegram.credentials().map_err(|missing| {
            ConfigError::Invalid(
                missing
                    .into_iter()
                    .map(|(key, message)| Problem {
                        key,
                        origin: self.file.as_ref().map(|f| f.display().to_string()),
                        message,
                    })
                    .collect(),
            )
        })
    }

    /// The calendar of `chat` (its own, or the global one).
    pub fn chat_calendar(&self, chat: Option<i64>) -> &CalendarSpec {
        chat.and_then(|id| self.chats.get(&id))
            .map_or(&self.calendar, |c| &c.calendar)
    }

    /// The folder relative paths of the configuration are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Whether an FAQ answer in `chat` also answers its request.
    pub fn faq_stops_sla(&self, chat: i64) -> bool {
        self.chats
            .get(&chat)
            .and_then(|c| c.faq_stops_sla)
            .unwrap_or(self.faq.stops_sla)
    }

    /// Whether client files in `chat` are confirmed.
    pub fn receipts_on(&self, chat: i64) -> bool {
        self.chats
            .get(&chat)
            .and_then(|c| c.receipts)
            .unwrap_or(self.receipts.enabled)
    }

    /// Whether requests opened outside working time in `chat` get the
    /// out-of-hours reply.
    pub fn out_of_hours_on(&self, chat: i64) -> bool {
        self.chats
            .get(&chat)
            .and_then(|c| c.out_of_hours_reply)
            .unwrap_or(self.menu.out_of_hours_reply)
    }

    pub fn chat_policy(&self, chat: i64) -> Policy {
        self.chats.get(&chat).map_or(self.sla, |c| c.policy)
    }

    /// Every staff member named anywhere in the configuration.
    pub fn staff(&self) -> BTreeSet<UserId> {
        self.chats
            .values()
            .flat_map(|c| c.accountants.iter().chain(&c.managers))
            .chain(&self.alerts.managers)
            .copied()
            .collect()
    }

    /// Loads `explicit` (must exist) or the default file (may be absent),
    /// with environment overrides from `env` (pass `std::env::vars()`).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let file = match explicit {
            Some(p) if !p.is_file() => return Err(ConfigError::NotFound(p.to_path_buf())),
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_PATH)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(path) = &file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["log"]));
        Config::from_figment(&figment, file)
    }

    /// Validates an assembled figment (tests build their own).
    pub fn from_figment(figment: &Figment, file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let root: Value = figment
            .extract()
            .map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let base_dir = file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut problems = Problems::new(figment);
        let top = Table::new(&mut problems, "", Some(&root), TOP_KEYS);
        let mut xml = calendar::XmlCache::default();

        let cal_table = Table::new(
            &mut problems,
            "calendar",
            top.raw("calendar"),
            calendar::KEYS,
        );
        let global_cal = calendar::read(&mut problems, &[cal_table], &base_dir, &mut xml);

        let sla_keys: Vec<&str> = POLICY_KEYS.iter().chain(SLA_KEYS).copied().collect();
        let sla_table = Table::new(&mut problems, "sla", top.raw("sla"), &sla_keys);
        let sla = read_policy(&mut problems, &[sla_table]);
        let sla_enabled_for_new_chats = sla_table
            .get::<bool>(&mut problems, "enabled_for_new_chats")
            .unwrap_or(false);

        let mut chats = BTreeMap::new();
        match top.raw("chats") {
            None => {}
            Some(Value::Array(_, list)) => {
                for (i, v) in list.iter().enumerate() {
                    let path = format!("chats[{i}]");
                    let chat = read_chat(
                        &mut problems,
                        &path,
                        v,
                        cal_table,
                        sla_table,
                        &base_dir,
                        &mut xml,
                    );
                    if let Some(chat) = chat
                        && let Some(old) = chats.insert(chat.id, chat)
                    {
                        problems.push(
                            &join(&path, "id"),
                            Some(v),
                            format!("chat {} is configured twice", old.id),
                        );
                    }
                }
            }
            Some(other) => problems.push(
                "chats",
                Some(other),
                "expected an array of tables ([[chats]])",
            ),
        }

        let cls = Table::new(
            &mut problems,
            "classifier",
            top.raw("classifier"),
            CLASSIFIER_KEYS,
        );
        let classifier = match cls.get::<String>(&mut problems, "rules") {
            None => Classifier::builtin(),
            Some(rules) => {
                let path = base_dir.join(rules);
                let loaded = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|text| Classifier::from_toml(&text).map_err(|e| e.to_string()));
                loaded.unwrap_or_else(|e| {
                    problems.push(
                        "classifier.rules",
                        cls.raw("rules"),
                        format!("{}: {e}", path.display()),
                    );
                    Classifier::builtin()
                })
            }
        };

        let mut section = |name: &'static str, keys: &[&str]| {
            Table::new(&mut problems, name, top.raw(name), keys)
        };
        let (st, dm, mt, bk, al, em, tg) = (
            section("store", daemon::STORE_KEYS),
            section("daemon", daemon::DAEMON_KEYS),
            section("metrics", daemon::METRICS_KEYS),
            section("backup", daemon::BACKUP_KEYS),
            section("alerts", daemon::ALERTS_KEYS),
            section("email", daemon::EMAIL_KEYS),
            section("telegram", daemon::TELEGRAM_KEYS),
        );
        let store = daemon::read_store(&mut problems, &st);
        let daemon_settings = daemon::read_daemon(&mut problems, &dm);
        let metrics = daemon::read_metrics(&mut problems, &mt);
        let backup = daemon::read_backup(&mut problems, &bk);
        let alerts = daemon::read_alerts(&mut problems, &al);
        let email = daemon::read_email(&mut problems, &em);
        let telegram = daemon::read_telegram(&mut problems, &tg);
        let postgres = postgres::read_postgres(&mut problems, top.raw("postgres"));
        let hb = Table::new(
            &mut problems,
            "heartbeat",
            top.raw("heartbeat"),
            heartbeat::HEARTBEAT_KEYS,
        );
        let heartbeat = heartbeat::read(&mut problems, &hb);
        let faq_table = Table::new(&mut problems, "faq", top.raw("faq"), faq::FAQ_KEYS);
        let faq = faq::read_faq(&mut problems, &faq_table);
        let digest_table = Table::new(
            &mut problems,
            "digest",
            top.raw("digest"),
            digest::DIGEST_KEYS,
        );
        let digest = digest::read_digest(&mut problems, &digest_table);
        let surveys_table = Table::new(
            &mut problems,
            "surveys",
            top.raw("surveys"),
            surveys::SURVEYS_KEYS,
        );
        let surveys = surveys::read_surveys(&mut problems, &surveys_table);
        let rc = Table::new(
            &mut problems,
            "receipts",
            top.raw("receipts"),
            receipts::RECEIPTS_KEYS,
        );
        let receipts = receipts::read_receipts(&mut problems, &rc);
        let mn = Table::new(&mut problems, "menu", top.raw("menu"), receipts::MENU_KEYS);
        let menu = receipts::read_menu(&mut problems, &mn);

        if !problems.list.is_empty() {
            return Err(ConfigError::Invalid(problems.list));
        }
        Ok(Config {
            file,
            calendar: global_cal,
            sla,
            sla_enabled_for_new_chats,
            chats,
            classifier,
            store,
            daemon: daemon_settings,
            metrics,
            backup,
            alerts,
            email,
            telegram,
            postgres,
            heartbeat,
            faq,
            digest,
            surveys,
            receipts,
            menu,
        })
    }
}

fn read_policy(problems: &mut Problems<'_>, layers: &[Table<'_>]) -> Policy {
    let mut p = Policy::default();
    let pick = |key: &str| layers.iter().rev().find(|t| t.has(key)).copied();
    let fields: [(&str, std::ops::RangeInclusive<u32>, &mut u32); 4] = [
        ("threshold_minutes", 1..=480, &mut p.threshold_minutes),
        ("warning_percent", 0..=99, &mut p.warning_percent),
        (
            "escalation_interval_minutes",
            5..=120,
            &mut p.escalation_interval_minutes,
        ),
        ("max_escalations", 1..=10, &mut p.max_escalations),
    ];
    for (key, range, slot) in fields {
        if let Some(t) = pick(key)
            && let Some(v) = t.int_in(problems, key, range)
        {
            *slot = v;
        }
    }
    p
}

fn read_chat(
    problems: &mut Problems<'_>,
    path: &str,
    value: &Value,
    global_cal: Table<'_>,
    global_sla: Table<'_>,
    base_dir: &Path,
    xml: &mut calendar::XmlCache,
) -> Option<ChatConfig> {
    let mut keys = CHAT_KEYS.to_vec();
    keys.extend_from_slice(POLICY_KEYS);
    let t = Table::new(problems, path, Some(value), &keys);
    let id = t.get::<i64>(problems, "id");
    if id.is_none() && !t.has("id") {
        problems.push(
            &join(path, "id"),
            Some(value),
            "missing: every [[chats]] entry needs the chat's id",
        );
    }
    let title = t.get::<String>(problems, "title");
    let accountants = t
        .get::<BTreeSet<UserId>>(problems, "accountants")
        .unwrap_or_default();
    let managers = t
        .get::<BTreeSet<UserId>>(problems, "managers")
        .unwrap_or_default();
    let cal_path = join(path, "calendar");
    let own_cal = Table::new(problems, &cal_path, t.raw("calendar"), calendar::KEYS);
    let calendar = calendar::read(problems, &[global_cal, own_cal], base_dir, xml);
    let policy = read_policy(problems, &[global_sla, t]);
    let faq_stops_sla = t.get::<bool>(problems, "faq_stops_sla");
    let receipts = t.get::<bool>(problems, "receipts");
    let out_of_hours_reply = t.get::<bool>(problems, "out_of_hours_reply");
    Some(ChatConfig {
        id: id?,
        title,
        accountants,
        managers,
        calendar,
        policy,
        faq_stops_sla,
        receipts,
        out_of_hours_reply,
    })
}
