//! The Postgres backup job: `pg_dump -Fc` of the `[postgres]` database
//! into the backup directory (see `backup::postgres`), as
//! `buhbot backup create-postgres` does. pg_dump runs as a child process;
//! the job only waits for it.

use chrono::Utc;

use super::JobError;
use crate::backup::postgres::{self, DumpInfo, DumpSettings};
use crate::core::shared::Shared;
use crate::metrics::catalogue;

/// Dumps (and prunes) per `[backup] postgres_*`; records the outcome in
/// the metrics and the log. Scheduled only with `[postgres]`.
pub async fn run_postgres_backup(shared: &Shared) -> Result<DumpInfo, JobError> {
    let config = shared.engine().config.clone();
    let Some(settings) = DumpSettings::from_config(&config) else {
        return Err(JobError::NotConfigured("[postgres]"));
    };
    // Real time, as for the archives: dumps are files on this machine.
    let result = postgres::dump(&settings, Utc::now()).await;
    match &result {
        Ok(info) => {
            ::metrics::gauge!(catalogue::LAST_POSTGRES_BACKUP_TIMESTAMP_SECONDS)
                .set(info.created_at.timestamp() as f64);
            ::metrics::gauge!(catalogue::LAST_POSTGRES_BACKUP_SIZE_BYTES)
                .set(info.size_bytes as f64);
            ::metrics::counter!(catalogue::POSTGRES_BACKUPS_TOTAL, "outcome" => "success")
                .increment(1);
            tracing::info!(
                path = %info.path.display(),
                size_bytes = info.size_bytes,
                pruned = info.pruned.len(),
                "Postgres backup created"
            );
        }
        Err(e) => {
            ::metrics::counter!(catalogue::POSTGRES_BACKUPS_TOTAL, "outcome" => "failure")
                .increment(1);
            tracing::error!(target_db = %settings.target(), error = %e, "Postgres backup failed");
        }
    }
    Ok(result?)
}
