//! Logging setup: one `tracing` subscriber whose output format depends on
//! where stderr goes.
//!
//! - **journald** (the daemon under systemd): one line per event with an
//!   sd-daemon priority prefix (`<3>`…`<7>`) so `journalctl -p` works, no
//!   colours and no timestamp (journald stamps every line itself). See
//!   [`journal`].
//! - **terminal**: the usual tracing-subscriber format, coloured, timestamped.
//! - **anything else** (a pipe, a file): the same format without colours.
//!
//! Secrets (bot token, SMTP password) are never logged as plain strings: the
//! config keeps them in a type whose `Debug`/`Display` print `[redacted]`, so
//! logging one as a field is safe. The formatters here only ever print what
//! the field's own `Debug`/`Display` produce, plus escaping.

pub mod journal;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Environment variable overriding the log filter (EnvFilter syntax, e.g.
/// `buhbot=debug,lettre=warn`).
pub const FILTER_ENV: &str = "BUHBOT_LOG";

/// The filter used when neither `BUHBOT_LOG` nor the caller give one.
pub const DEFAULT_FILTER: &str = "info";

/// Where stderr goes, which decides the output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// stderr is the journald stream systemd connected us to.
    Journal,
    /// stderr is a terminal.
    Terminal,
    /// stderr is a pipe or a file.
    Plain,
}

impl Output {
    /// Inspects fd 2 and the environment.
    pub fn detect() -> Output {
        if stderr_is_journal() {
            Output::Journal
        } else if std::io::stderr().is_terminal() {
            Output::Terminal
        } else {
            Output::Plain
        }
    }
}

/// Installs the global subscriber. The filter comes from `BUHBOT_LOG`, else
/// `filter`, else [`DEFAULT_FILTER`]. Calling it twice keeps the first
/// subscriber (tests and the CLI may both try).
pub fn init(filter: Option<&str>) {
    let (env_filter, problem) = build_filter(std::env::var(FILTER_ENV).ok().as_deref(), filter);
    let installed = match Output::detect() {
        // try_init (unlike set_global_default) also bridges the `log` crate
        // used by some dependencies.
        Output::Journal => journal::subscriber(env_filter, std::io::stderr)
            .try_init()
            .is_ok(),
        Output::Terminal => tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_writer(std::io::stderr)
            // NO_COLOR (https://no-color.org) still wins on a terminal.
            .with_ansi(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
            .try_init()
            .is_ok(),
        Output::Plain => tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init()
            .is_ok(),
    };
    // Reported through the subscriber just installed, so it lands where the
    // operator looks (the journal), not on a stderr nobody reads.
    if let (true, Some(problem)) = (installed, problem) {
        tracing::warn!("{problem}");
    }
}

/// Picks the filter by precedence. An unparsable directive must not cost us
/// all logging, so it falls back to the next source and the problem is
/// returned for reporting once logging works.
fn build_filter(env: Option<&str>, arg: Option<&str>) -> (EnvFilter, Option<String>) {
    let mut problem = None;
    for (source, directives) in [(FILTER_ENV, env), ("the log filter argument", arg)] {
        let Some(directives) = directives.filter(|d| !d.trim().is_empty()) else {
            continue;
        };
        match EnvFilter::try_new(directives) {
            Ok(f) => return (f, problem),
            Err(e) => {
                problem.get_or_insert(format!("ignoring {source} {directives:?}: {e}"));
            }
        }
    }
    (EnvFilter::new(DEFAULT_FILTER), problem)
}

/// sd-daemon's rule (systemd.exec(5), `$JOURNAL_STREAM`): systemd sets
/// `JOURNAL_STREAM=<dev>:<inode>` of the stream it connected to stdout or
/// stderr; a process should only switch to the native journal format if fd 2
/// still is that very stream. The variable alone is not enough: it is
/// inherited by children whose stderr was redirected (`buhbot replay … 2>x`
/// from a unit's ExecStartPre, a shell spawned by the service).
fn stderr_is_journal() -> bool {
    let Some(expected) = std::env::var("JOURNAL_STREAM")
        .ok()
        .and_then(|v| parse_journal_stream(&v))
    else {
        return false;
    };
    stderr_dev_ino() == Some(expected)
}

/// Parses `<dev>:<inode>` (both decimal).
fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

fn stderr_dev_ino() -> Option<(u64, u64)> {
    // SAFETY: fstat only writes into the zeroed stat buffer we own; fd 2 may
    // be closed, which fstat reports as an error.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(libc::STDERR_FILENO, &mut st) != 0 {
            return None;
        }
        st
    };
    // The field widths differ between targets; `as u64` is lossless here.
    #[allow(clippy::unnecessary_cast)]
    Some((st.st_dev as u64, st.st_ino as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_parsing() {
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_journal_stream(" 64768:9\n"), Some((64768, 9)));
        assert_eq!(parse_journal_stream("8"), None);
        assert_eq!(parse_journal_stream("a:1"), None);
        assert_eq!(parse_journal_stream(""), None);
    }

    #[test]
    fn stderr_identity_is_readable() {
        // Whatever cargo connected fd 2 to, it has an identity; the journal
        // check compares against exactly this.
        assert!(stderr_dev_ino().is_some());
    }

    #[test]
    fn filter_precedence() {
        let show = |env, arg| {
            let (f, p) = build_filter(env, arg);
            (f.to_string(), p.is_some())
        };
        assert_eq!(show(Some("debug"), Some("warn")), ("debug".into(), false));
        assert_eq!(show(None, Some("warn")), ("warn".into(), false));
        assert_eq!(show(Some("  "), None), ("info".into(), false));
        assert_eq!(show(None, None), ("info".into(), false));
        // A broken env filter falls through to the argument, reported.
        assert_eq!(
            show(Some("buhbot=lol"), Some("warn")),
            ("warn".into(), true)
        );
        assert_eq!(show(Some("buhbot=lol"), None), ("info".into(), true));
    }
}
