//! Progress reporting for long copies, silent unless a human is watching.

use std::io::IsTerminal;

/// Receives progress of a long operation, in units the operation chooses
/// (database pages for a backup).
pub trait Progress {
    fn update(&self, done: u64, total: u64);
    fn finish(&self);
}

/// Reports nothing (daemon, tests, cron).
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _done: u64, _total: u64) {}
    fn finish(&self) {}
}

/// An indicatif bar on stderr.
pub struct TerminalProgress {
    bar: indicatif::ProgressBar,
}

impl TerminalProgress {
    pub fn new(label: &str) -> TerminalProgress {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        let style =
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {eta}")
                .expect("static template")
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        TerminalProgress { bar }
    }
}

impl Progress for TerminalProgress {
    fn update(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar when stderr is a terminal and we are not under systemd
/// (`JOURNAL_STREAM` set), where it would only litter the journal.
pub fn progress_for_terminal(label: &str) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() && std::env::var_os("JOURNAL_STREAM").is_none() {
        Box::new(TerminalProgress::new(label))
    } else {
        Box::new(NoProgress)
    }
}
