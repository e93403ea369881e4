//! Prometheus metrics, rendered to a textfile for node_exporter's textfile
//! collector instead of served over HTTP: the host already runs
//! node_exporter, and a file needs no open port, no TLS and no auth.
//!
//! - [`catalogue`]: every metric name, its kind, unit, labels and HELP.
//! - [`textfile`]: atomic writes of the rendered text and the periodic task.
//!
//! Code elsewhere records with the `metrics` macros and the catalogue's
//! names, e.g. `metrics::counter!(catalogue::SLA_BREACHES_TOTAL).increment(1)`.

pub mod catalogue;
pub mod textfile;

use std::path::PathBuf;

use ::metrics::Counter;
use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub use textfile::{TextfileSettings, run_textfile_writer, write_atomically};

use catalogue::{CATALOGUE, MetricKind};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("invalid histogram buckets for {name}")]
    Buckets {
        name: &'static str,
        #[source]
        source: BuildError,
    },
    #[error("a global metrics recorder is already installed")]
    AlreadyInstalled,
    #[error("metrics textfile path {} has no file name", .0.display())]
    NoFileName(PathBuf),
    #[error("cannot {op} {}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A cheap, cloneable handle to the installed recorder's state.
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
    // Held rather than looked up at each failure: the writer runs on tasks
    // and blocking threads where a test's local recorder is not in effect.
    write_errors: Counter,
}

impl Metrics {
    /// The exposition text of every series (no timestamps).
    ///
    /// Upkeep runs first because nobody else calls it: it drains histogram
    /// samples and publishes descriptions registered since the last render.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// Counts one failed write of the textfile.
    pub(crate) fn count_write_error(&self) {
        self.write_errors.increment(1);
    }
}

/// Builds the recorder, installs it globally, describes every metric and
/// creates the series alert rules rely on (`build_info`, zeroed counters).
pub fn install() -> Result<Metrics, MetricsError> {
    let recorder = build_recorder()?;
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder).map_err(|_| MetricsError::AlreadyInstalled)?;
    Ok(prepare(handle))
}

/// The same recorder as [`install`] but not installed: tests run their code
/// under `metrics::with_local_recorder(&recorder, ..)` so that they can run
/// in parallel without sharing the global recorder.
pub fn recorder_for_tests() -> Result<(PrometheusRecorder, Metrics), MetricsError> {
    let recorder = build_recorder()?;
    let metrics = ::metrics::with_local_recorder(&recorder, || prepare(recorder.handle()));
    Ok((recorder, metrics))
}

fn build_recorder() -> Result<PrometheusRecorder, MetricsError> {
    let mut builder = PrometheusBuilder::new();
    for def in CATALOGUE {
        if let MetricKind::Histogram(buckets) = def.kind {
            // Without explicit buckets the exporter renders a summary, whose
            // quantiles cannot be aggregated or used in histogram_quantile().
            builder = builder
                .set_buckets_for_metric(Matcher::Full(def.name.to_owned()), buckets)
                .map_err(|source| MetricsError::Buckets {
                    name: def.name,
                    source,
                })?;
        }
    }
    Ok(builder.build_recorder())
}

/// Must run with the target recorder current (global or local).
fn prepare(handle: PrometheusHandle) -> Metrics {
    catalogue::describe_all();
    catalogue::init_series();
    Metrics {
        handle,
        write_errors: ::metrics::counter!(catalogue::METRICS_WRITE_ERRORS_TOTAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The only test in this binary that touches the global recorder.
    #[test]
    fn install_renders_build_info_and_refuses_a_second_install() {
        let metrics = install().expect("first install");
        let version = env!("CARGO_PKG_VERSION");
        let text = metrics.render();
        assert!(text.contains(&format!("buhbot_build_info{{version=\"{version}\"}} 1\n")));
        assert!(matches!(install(), Err(MetricsError::AlreadyInstalled)));
    }
}
