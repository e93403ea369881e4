//! The one owner of the running engine. Three places build a new one — a
//! configuration reload or a settings change from the shell
//! ([`super::live_settings`]), an ingest batch whose chat events changed
//! the settings, and the bot's own id learnt at READY — and all of them go
//! through [`EngineOwner::install_with`], so that rebuilds are serialised:
//! two concurrent ones would both re-time open requests from the same old
//! engine, counting the time in between twice.

use std::sync::{Arc, Mutex, RwLock};

use super::engine::Engine;

pub struct EngineOwner {
    current: RwLock<Arc<Engine>>,
    /// Held while a new engine is built from the current one and installed.
    /// Readers never take it: they keep the engine they got until their
    /// next `current()`.
    rebuild: Mutex<()>,
}

impl EngineOwner {
    pub fn new(engine: Engine) -> EngineOwner {
        EngineOwner {
            current: RwLock::new(Arc::new(engine)),
            rebuild: Mutex::new(()),
        }
    }

    /// The engine in force now.
    pub fn current(&self) -> Arc<Engine> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `build` with the engine in force, serialised against every
    /// other rebuild, and installs the engine it returns (if any) before
    /// the next rebuild may start, so that the next one starts from it.
    /// `build` runs inside the caller's transaction and commits it (or
    /// not) itself: a failed build installs nothing.
    pub fn install_with<T, E>(
        &self,
        build: impl FnOnce(&Arc<Engine>) -> Result<(T, Option<Arc<Engine>>), E>,
    ) -> Result<T, E> {
        // A panic in another build leaves nothing half-done here: the
        // engine is replaced in one store below.
        let _serial = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let (out, new) = build(&self.current())?;
        if let Some(new) = new {
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = new;
        }
        Ok(out)
    }
}
