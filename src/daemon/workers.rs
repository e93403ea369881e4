//! Worker impls for loops whose code lives where the daemon's wiring does
//! not belong: delivery (its internals are its own) and the metrics
//! textfile writer (a utility below every layer).

use std::sync::Arc;

use super::delivery;
use crate::core::shared::Shared;
use crate::core::worker::{BoxError, Worker, WorkerContext};
use crate::metrics::{self as bmetrics, Metrics, TextfileSettings};

/// Alerts sent through their sinks.
pub struct DeliveryWorker(pub Arc<Shared>);

impl Worker for DeliveryWorker {
    fn name(&self) -> &'static str {
        "delivery"
    }

    fn beats(&self) -> bool {
        true
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        Ok(delivery::run(self.0, ctx.heartbeat, ctx.cancel).await?)
    }
}

/// The Prometheus textfile, rewritten every interval.
pub struct MetricsWorker {
    pub metrics: Metrics,
    pub settings: TextfileSettings,
}

impl Worker for MetricsWorker {
    fn name(&self) -> &'static str {
        "metrics"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        bmetrics::run_textfile_writer(self.metrics, self.settings, ctx.cancel).await;
        Ok(())
    }
}
