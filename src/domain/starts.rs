//! Start history decisions (issue 14, part 3): given the stored starts,
//! the running version and `now`, why this start is notable (an install,
//! an upgrade, a restore, a plain restart), whether it continues a crash
//! loop that nobody was warned about yet, and the Russian texts the admins
//! get. Pure: the daemon reads the history and the clock, stores the
//! verdict and queues the texts.

use std::time::Duration;

use super::render::{escape_html, plural};

/// Why the daemon started, as stored in `starts.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A new database: nothing ran before.
    Install,
    /// The same version as the previous start.
    Restart,
    Upgrade,
    Downgrade,
    /// The database was put back by `buhbot backup restore`.
    Restore,
}

impl Reason {
    /// Whether the admins get a release notice at READY.
    pub fn notifies(self) -> bool {
        matches!(self, Reason::Upgrade | Reason::Downgrade | Reason::Restore)
    }
}

/// One stored start, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastStart {
    pub version: String,
    pub previous_version: Option<String>,
    pub reason: Reason,
    pub migrations: String,
    pub restored_from: Option<String>,
    pub started_at: i64,
    pub ready_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub after_crash: bool,
    /// The release notice of this start was queued.
    pub notified: bool,
}

/// What is known at this start besides the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFacts<'a> {
    pub version: &'a str,
    pub now: i64,
    /// Migrations applied just now ("7 starts"), empty when none.
    pub migrations: String,
    /// Schema version before this start's migrations: 0 for a new database.
    pub schema_before: i64,
    /// The archive `buhbot backup restore` put back since the last start.
    pub restored_from: Option<String>,
}

/// When restarts after crashes count as a loop: more than `restarts`
/// within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashLoop {
    pub restarts: u32,
    pub window: Duration,
}

impl Default for CrashLoop {
    fn default() -> Self {
        CrashLoop {
            restarts: 5,
            window: Duration::from_secs(600),
        }
    }
}

/// The decision for this start, stored in its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub reason: Reason,
    /// The version before an upgrade or downgrade ("" when unknown: the
    /// database predates the start history).
    pub previous_version: Option<String>,
    /// The migrations to report: this start's, after those of an earlier
    /// start whose notice was never queued (it crashed before READY).
    pub migrations: String,
    pub restored_from: Option<String>,
    /// The previous run did not stop cleanly.
    pub after_crash: bool,
    /// Restarts after a crash within the window, this one included, when
    /// they make a new loop (warn now); `None` when there is no loop or the
    /// admins were already warned about this one.
    pub crash_loop: Option<u32>,
}

/// Decides this start. `history` is the stored starts, newest first (at
/// least those within the crash-loop window, and the latest one).
pub fn decide(history: &[PastStart], facts: &StartFacts<'_>, crash_loop: CrashLoop) -> Verdict {
    let last = history.first();
    let after_crash = last.is_some_and(|l| l.stopped_at.is_none());
    // A notable start whose notice was never queued (the daemon died
    // before READY) hands it on: otherwise the next, plain restart would
    // swallow the upgrade.
    let pending = last.filter(|l| l.reason.notifies() && !l.notified);
    let (reason, previous_version, migrations, restored_from) =
        if let Some(r) = &facts.restored_from {
            (
                Reason::Restore,
                None,
                facts.migrations.clone(),
                Some(r.clone()),
            )
        } else if let Some(p) = pending.filter(|p| p.version == facts.version) {
            (
                p.reason,
                p.previous_version.clone(),
                join_migrations(&p.migrations, &facts.migrations),
                p.restored_from.clone(),
            )
        } else {
            let (reason, previous) = match last {
                None if facts.schema_before == 0 => (Reason::Install, None),
                // The database predates the start history: an upgrade from a
                // version nobody recorded.
                None => (Reason::Upgrade, Some(String::new())),
                Some(l) if l.version == facts.version => (Reason::Restart, None),
                Some(l) => (order(&l.version, facts.version), Some(l.version.clone())),
            };
            (reason, previous, facts.migrations.clone(), None)
        };

    let window = i64::try_from(crash_loop.window.as_secs()).unwrap_or(i64::MAX);
    let crashes_at = |at: i64, own: bool, rest: &[PastStart]| -> u32 {
        let earlier = rest
            .iter()
            .filter(|s| s.after_crash && s.started_at > at.saturating_sub(window))
            .count();
        u32::try_from(earlier).unwrap_or(u32::MAX) + u32::from(own)
    };
    let now_count = crashes_at(facts.now, after_crash, history);
    // The previous start already saw the loop (and warned): one warning
    // per loop, not one per restart.
    let already = last.is_some_and(|l| {
        l.after_crash && crashes_at(l.started_at, true, &history[1..]) > crash_loop.restarts
    });
    let crash_loop =
        (after_crash && now_count > crash_loop.restarts && !already).then_some(now_count);
    Verdict {
        reason,
        previous_version,
        migrations,
        restored_from,
        after_crash,
        crash_loop,
    }
}

fn join_migrations(earlier: &str, now: &str) -> String {
    match (earlier.is_empty(), now.is_empty()) {
        (true, _) => now.to_string(),
        (_, true) => earlier.to_string(),
        _ => format!("{earlier}, {now}"),
    }
}

/// Upgrade or downgrade, by the numeric parts of the versions (a version
/// that does not parse counts as older).
fn order(old: &str, new: &str) -> Reason {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map_while(|p| p.parse::<u64>().ok())
            .collect()
    };
    if parse(new) < parse(old) {
        Reason::Downgrade
    } else {
        Reason::Upgrade
    }
}

/// What the release notice says besides the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFacts<'a> {
    pub version: &'a str,
    /// The newest backup archive at start (name, Unix time), if any.
    pub backup: Option<(&'a str, i64)>,
    /// From start to READY.
    pub ready_after: Duration,
}

/// The release notice (HTML) for a notable start, or `None`.
pub fn release_notice(v: &Verdict, f: &NoticeFacts<'_>) -> Option<String> {
    let version = escape_html(f.version);
    let head = match v.reason {
        Reason::Install | Reason::Restart => return None,
        Reason::Upgrade | Reason::Downgrade => {
            let verb = if v.reason == Reason::Upgrade {
                "обновлён"
            } else {
                "откачен на старую версию"
            };
            let old = v
                .previous_version
                .as_deref()
                .filter(|o| !o.is_empty())
                .map_or_else(|| "неизвестная версия".to_string(), escape_html);
            format!("🔄 <b>БухБот {verb}</b>: {old} → {version}")
        }
        Reason::Restore => {
            let from = v
                .restored_from
                .as_deref()
                .map_or_else(String::new, |a| format!(" <code>{}</code>", escape_html(a)));
            format!(
                "♻️ <b>БухБот запущен после восстановления из резервной копии</b>{from}\nВерсия: {version}"
            )
        }
    };
    let migrations = if v.migrations.is_empty() {
        "не потребовались".to_string()
    } else {
        escape_html(&v.migrations)
    };
    let backup = f.backup.map_or_else(
        || "нет".to_string(),
        |(name, at)| {
            let when = chrono::DateTime::from_timestamp(at, 0).map_or_else(String::new, |t| {
                t.format(" от %d.%m.%Y %H:%M UTC").to_string()
            });
            format!("<code>{}</code>{when}", escape_html(name))
        },
    );
    Some(format!(
        "{head}\nМиграции базы: {migrations}\nПоследняя резервная копия: {backup}\nГотов к работе через {}",
        seconds_ru(f.ready_after)
    ))
}

/// The crash-loop warning (HTML).
pub fn crash_loop_warning(restarts: u32, crash_loop: CrashLoop, version: &str) -> String {
    let minutes = (crash_loop.window.as_secs() / 60).max(1) as i64;
    let n = i64::from(restarts);
    format!(
        "⚠️ <b>БухБот перезапускается после сбоев</b>: {n} {} за {minutes} {} (версия {}).\n\
         Проверьте журнал: <code>journalctl -u buhbot</code>",
        plural(n, "раз", "раза", "раз"),
        plural(minutes, "минуту", "минуты", "минут"),
        escape_html(version),
    )
}

/// "3,2 с", "2 мин 5 с".
fn seconds_ru(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} мин {} с", s / 60, s % 60)
    } else {
        format!("{},{} с", s, d.subsec_millis() / 100)
    }
}

#[cfg(test)]
mod tests;
