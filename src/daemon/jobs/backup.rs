//! The backup job: the same archive `buhbot backup create` makes, taken
//! from the running daemon's database (SQLite's online backup, so ingest
//! goes on meanwhile).

use chrono::Utc;

use super::JobError;
use crate::backup::{self, BackupInfo, BackupSettings, NoProgress};
use crate::core::shared::Shared;
use crate::metrics::catalogue;

/// Creates (and prunes) an archive per `[backup]`; records the outcome in
/// the metrics and the log.
pub async fn run_backup(shared: &Shared) -> Result<BackupInfo, JobError> {
    let config = shared.engine().config.clone();
    let settings = BackupSettings {
        dir: config.backup.dir.clone(),
        keep_days: config.backup.keep_days,
        keep_count: config.backup.keep_count,
    };
    let db = shared.store.path().to_path_buf();
    // Archive names carry the real time: they are files on this machine,
    // pruned by age, whatever clock a replay runs on.
    let now = Utc::now();
    // Copying and gzipping a database is seconds of blocking I/O and CPU.
    let result = tokio::task::spawn_blocking(move || {
        backup::create(&db, config.file.as_deref(), &settings, now, &NoProgress)
    })
    .await
    .map_err(|e| JobError::Join(e.to_string()))
    .and_then(|r| r.map_err(JobError::from));
    match &result {
        Ok(info) => {
            ::metrics::gauge!(catalogue::LAST_BACKUP_TIMESTAMP_SECONDS)
                .set(info.created_at.timestamp() as f64);
            ::metrics::gauge!(catalogue::LAST_BACKUP_SIZE_BYTES).set(info.size_bytes as f64);
            ::metrics::counter!(catalogue::BACKUPS_TOTAL, "outcome" => "success").increment(1);
            tracing::info!(
                path = %info.path.display(),
                size_bytes = info.size_bytes,
                "backup created"
            );
        }
        Err(e) => {
            ::metrics::counter!(catalogue::BACKUPS_TOTAL, "outcome" => "failure").increment(1);
            tracing::error!(error = %e, "backup failed");
        }
    }
    result
}
