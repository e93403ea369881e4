//! Chat settings changed from the shell take effect at once: the settings
//! revision in the store is polled (every tick and before each ingested
//! batch), and when it moved the engine is rebuilt from the configuration
//! and the store, open requests are re-timed and the engine swapped.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use super::shared::{Shared, TICK};
use super::worker::{BoxError, Worker, WorkerContext};
use crate::config::Config;
use crate::store::{self, settings};

/// Builds the engine for `config` over the store, re-times open requests
/// from the running engine and swaps it in. With `only_if_changed`, does
/// nothing when the running engine already reflects the store's revision.
/// Returns how many requests were re-timed, or `None` if nothing was done.
pub async fn swap(
    shared: &Arc<Shared>,
    config: Arc<Config>,
    only_if_changed: bool,
) -> store::Result<Option<usize>> {
    let s = shared.clone();
    let swapped = shared
        .store
        .run(move |conn| {
            // Serialised with every other rebuild: the next one re-times
            // from this one.
            s.engines.install_with(|old| {
                let tx = store::write_tx(conn)?;
                if only_if_changed && old.settings_revision() == Some(settings::revision(&tx)?) {
                    return Ok((None, None));
                }
                let new = Arc::new(Engine::from_config_and_store(config, &tx)?);
                let n = new.retime(&tx, old, s.clock.now())?;
                tx.commit()?;
                Ok((Some(n), Some(new)))
            })
        })
        .await?;
    if swapped.is_some() {
        shared.timers_changed.notify_one();
    }
    Ok(swapped)
}

/// Reloads the chat settings if the store's revision moved (a cheap
/// primary-key read when it did not).
pub async fn refresh(shared: &Arc<Shared>) -> store::Result<()> {
    let engine = shared.engine();
    let rev = shared.store.run(|c| settings::revision(c)).await?;
    if engine.settings_revision() == Some(rev) {
        return Ok(());
    }
    let config = engine.base_config().clone();
    if let Some(retimed) = swap(shared, config, true).await? {
        tracing::info!(revision = rev, retimed, "chat settings changed");
    }
    Ok(())
}

/// Polls the revision every tick until cancelled. A failed poll is logged
/// and retried: the settings in force stay valid meanwhile.
pub async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        if let Err(e) = refresh(&shared).await {
            tracing::warn!("cannot check the chat settings: {e}");
        }
    }
}

/// The settings poll as a worker.
pub struct LiveSettingsWorker(pub Arc<Shared>);

impl Worker for LiveSettingsWorker {
    fn name(&self) -> &'static str {
        "settings"
    }

    async fn run(self, ctx: WorkerContext) -> Result<(), BoxError> {
        run(self.0, ctx.cancel).await;
        Ok(())
    }
}
