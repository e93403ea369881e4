//! The node_exporter textfile: rendered periodically and replaced
//! atomically, so that a scrape never sees a half-written file.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{Metrics, MetricsError};

/// Where and how often the textfile is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextfileSettings {
    pub path: PathBuf,
    pub interval: Duration,
}

impl Default for TextfileSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/lib/buhbot/metrics/buhbot.prom"),
            // node_exporter is usually scraped every 15–60 s; writing as
            // often as the fastest scrape keeps the data at most one old.
            interval: Duration::from_secs(15),
        }
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> MetricsError {
    let path = path.to_path_buf();
    move |source| MetricsError::Io { op, path, source }
}

/// Replaces `path` with `contents` so that readers see the old file or the
/// new one, never a mix: temp file in the same directory (rename is atomic
/// only within a filesystem), fsync, rename, fsync of the directory (so the
/// rename itself survives a power cut).
pub fn write_atomically(path: &Path, contents: &str) -> Result<(), MetricsError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| MetricsError::NoFileName(path.to_path_buf()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        // 0755: node_exporter runs as another user and must traverse it.
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(io_err("create directory", dir))?;
        // The mode above is filtered by the umask (often 077 for services).
        fs::set_permissions(dir, Permissions::from_mode(0o755))
            .map_err(io_err("chmod directory", dir))?;
    }

    // node_exporter only reads `*.prom`, so the temp name must not end in it;
    // the leading dot also hides it from a casual `ls`.
    // Concurrent writers of one process are on different threads (this
    // function never yields), so the thread tells their temp files apart
    // without a process-global counter.
    let seq = {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(std::thread::current().id())
    };
    let temp = dir.join(format!(
        ".{}.{}.{seq}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_temp(&temp, contents)
        .and_then(|()| fs::rename(&temp, path).map_err(io_err("rename temp file over", path)));
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&temp);
        return result;
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

fn write_temp(temp: &Path, contents: &str) -> Result<(), MetricsError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(temp)
        .map_err(io_err("create temp file", temp))?;
    file.write_all(contents.as_bytes())
        .map_err(io_err("write temp file", temp))?;
    // The open mode is filtered by the umask; node_exporter needs to read it.
    file.set_permissions(Permissions::from_mode(0o644))
        .map_err(io_err("chmod temp file", temp))?;
    file.sync_all().map_err(io_err("fsync temp file", temp))
}

/// Writes the textfile at once, then every `interval`, and a last time when
/// `cancel` fires (so that the final counters of a clean shutdown are kept).
/// Failures are logged and counted, never fatal: metrics must not take the
/// daemon down.
pub async fn run_textfile_writer(
    metrics: Metrics,
    settings: TextfileSettings,
    cancel: CancellationToken,
) {
    // tokio::time::interval panics on a zero period.
    let period = settings.interval.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval(period);
    // After a stall (suspend, overload) one write is enough, not a burst.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = ticker.tick() => write_once(&metrics, &settings.path).await,
        }
    }
    write_once(&metrics, &settings.path).await;
    tracing::debug!(path = %settings.path.display(), "metrics textfile writer stopped");
}

async fn write_once(metrics: &Metrics, path: &Path) {
    let (m, p) = (metrics.clone(), path.to_path_buf());
    // Rendering takes locks and writing does fsyncs: both block.
    let outcome = tokio::task::spawn_blocking(move || write_atomically(&p, &m.render())).await;
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string() + &source_chain(&e),
        Err(join) => format!("writer thread failed: {join}"),
    };
    metrics.count_write_error();
    tracing::warn!(path = %path.display(), %error, "cannot write metrics textfile");
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
