//! The weekly digest job: last week's figures to every manager's private
//! chat (`[alerts] managers` and the users with the role `manager`).
//!
//! Each message's dedupe key is the week and the manager, and the whole
//! digest is queued in one transaction: a run repeated after a crash, a
//! catch-up, or a second run in the same week sends nothing twice.

use std::collections::BTreeSet;

use super::JobError;
use crate::core::digest;
use crate::core::shared::Shared;
use crate::store::outbound::{self, Kind, NewOutbound};
use crate::store::write_tx;

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRun {
    pub monday: chrono::NaiveDate,
    /// Newly queued messages (0 when this week's digest went out already).
    pub queued: usize,
    pub recipients: usize,
}

/// Composes last week's digest and queues it for the managers.
pub async fn run_digest(shared: &Shared) -> Result<DigestRun, JobError> {
    let engine = shared.engine();
    let now = shared.now();
    let run = shared
        .store
        .run(move |c| {
            Ok((|| -> Result<DigestRun, JobError> {
                // The settings in force now: managers added in Postgres or
                // given the role since the daemon's last reload get it too.
                let eff = engine.effective(c)?;
                let composed = digest::compose(c, &eff.config, now)?;
                let to: BTreeSet<i64> = eff
                    .config
                    .alerts
                    .managers
                    .iter()
                    .copied()
                    .filter(|u| *u > 0)
                    .collect();
                let tx = write_tx(c).map_err(crate::store::StoreError::from)?;
                let mut queued = 0;
                for user in &to {
                    let key = format!("digest:{}:{user}", composed.monday);
                    let msg = NewOutbound::new(key, *user, Kind::Alert, composed.html.clone());
                    if let outbound::Enqueued::New(_) =
                        outbound::enqueue(&tx, &msg, now.timestamp())?
                    {
                        queued += 1;
                    }
                }
                tx.commit().map_err(crate::store::StoreError::from)?;
                Ok(DigestRun {
                    monday: composed.monday,
                    queued,
                    recipients: to.len(),
                })
            })())
        })
        .await??;
    if run.recipients == 0 {
        tracing::warn!(
            "weekly digest: no managers to send it to ([alerts] managers or users with the role manager)"
        );
    }
    Ok(run)
}
