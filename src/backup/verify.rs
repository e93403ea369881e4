//! Checking an archive: members present, database intact, rows as recorded.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::fsutil::ScratchDir;
use super::{
    BackupError, CONFIG_MEMBER, DB_MEMBER, MANIFEST_FORMAT, MANIFEST_MEMBER, Manifest, db,
};

/// Unpacks `archive` into a private temporary directory and checks it: the
/// manifest is present and readable, the database has the recorded size,
/// passes `PRAGMA integrity_check`, and has exactly the recorded tables and
/// row counts. Returns the manifest.
pub fn verify(archive: &Path) -> Result<Manifest, BackupError> {
    let scratch = ScratchDir::new_in(&std::env::temp_dir())?;
    let (manifest, _db) = unpack_checked(archive, scratch.path())?;
    Ok(manifest)
}

/// [`verify`], unpacking into `into` (which must exist and be private);
/// returns the manifest and the checked database file inside `into`.
pub(super) fn unpack_checked(
    archive: &Path,
    into: &Path,
) -> Result<(Manifest, PathBuf), BackupError> {
    unpack(archive, into)?;
    let manifest_path = into.join(MANIFEST_MEMBER);
    let db_path = into.join(DB_MEMBER);
    let missing = |member| BackupError::MissingMember {
        archive: archive.to_path_buf(),
        member,
    };
    if !manifest_path.is_file() {
        return Err(missing(MANIFEST_MEMBER));
    }
    if !db_path.is_file() {
        return Err(missing(DB_MEMBER));
    }
    let text = fs::read(&manifest_path).map_err(BackupError::io("read", &manifest_path))?;
    // The version first, so a newer format is reported as such rather than
    // as a parse error on some field it added.
    let version = serde_json::from_slice::<serde_json::Value>(&text)
        .map_err(|source| BackupError::Manifest {
            archive: archive.to_path_buf(),
            source,
        })?
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if version != u64::from(MANIFEST_FORMAT) {
        return Err(BackupError::ManifestVersion {
            archive: archive.to_path_buf(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|source| BackupError::Manifest {
            archive: archive.to_path_buf(),
            source,
        })?;

    let actual = fs::metadata(&db_path)
        .map_err(BackupError::io("stat", &db_path))?
        .len();
    if actual != manifest.db_size_bytes {
        return Err(BackupError::SizeMismatch {
            archive: archive.to_path_buf(),
            expected: manifest.db_size_bytes,
            actual,
        });
    }
    let checked = db::check(&db_path)?;
    let mut differences = Vec::new();
    for (table, expected) in &manifest.row_counts {
        match checked.row_counts.get(table) {
            None => differences.push(format!("table {table} is missing")),
            Some(n) if n != expected => {
                differences.push(format!("table {table} has {n} rows, expected {expected}"))
            }
            Some(_) => {}
        }
    }
    for table in checked
        .row_counts
        .keys()
        .filter(|t| !manifest.row_counts.contains_key(*t))
    {
        differences.push(format!("table {table} is not in the manifest"));
    }
    if !differences.is_empty() {
        return Err(BackupError::RowCounts {
            archive: archive.to_path_buf(),
            differences: differences.join("; "),
        });
    }
    Ok((manifest, db_path))
}

/// Extracts only the known members as regular files, so a crafted archive
/// cannot write outside `into` (no paths, links or devices are honoured).
fn unpack(archive: &Path, into: &Path) -> Result<(), BackupError> {
    let read_err = BackupError::io("read archive", archive);
    let file = File::open(archive).map_err(BackupError::io("open", archive))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let entries = tar.entries();
    let result = (|| -> std::io::Result<()> {
        for entry in entries? {
            let mut entry = entry?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let path = entry.path()?.into_owned();
            let Some(name) = path.to_str() else { continue };
            if [DB_MEMBER, MANIFEST_MEMBER, CONFIG_MEMBER].contains(&name) {
                entry.unpack(into.join(name))?;
            }
        }
        Ok(())
    })();
    result.map_err(read_err)
}
