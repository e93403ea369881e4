//! Backups: online snapshot under a writer, verify, prune, restore, CLI.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use buhbot::backup::{self, BackupError, BackupSettings, DbLock, NoProgress, archive_name};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// A WAL database with tables `a` and `b` (always written in pairs) and
/// `notes`; ~6 MB so a snapshot takes several backup steps.
fn make_db(path: &Path, pairs: usize) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA user_version = 3;
         CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
         CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
         CREATE TABLE notes (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
    )
    .unwrap();
    let filler = "x".repeat(1000);
    let tx = conn.unchecked_transaction().unwrap();
    for _ in 0..pairs {
        tx.execute("INSERT INTO a (v) VALUES (?1)", [&filler])
            .unwrap();
        tx.execute("INSERT INTO b (v) VALUES (?1)", [&filler])
            .unwrap();
    }
    tx.execute_batch("INSERT INTO notes (v) VALUES ('one'), ('two')")
        .unwrap();
    tx.commit().unwrap();
}

fn count(path: &Path, table: &str) -> u64 {
    let conn = Connection::open(path).unwrap();
    let n: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    n as u64
}

fn members(archive: &Path) -> BTreeSet<String> {
    let gz = flate2::read::GzDecoder::new(fs::File::open(archive).unwrap());
    let mut tar = tar::Archive::new(gz);
    tar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn settings(dir: &Path) -> BackupSettings {
    BackupSettings {
        dir: dir.to_path_buf(),
        ..BackupSettings::default()
    }
}

/// Creates a database and one archive of it; returns (db, archive).
fn db_and_archive(root: &Path, now: DateTime<Utc>) -> (PathBuf, PathBuf) {
    let db = root.join("buhbot.db");
    make_db(&db, 300);
    (db.clone(), archive_of(root, &db, now).path)
}

/// An archive of `db` in `root/bak` at `now`.
fn archive_of(root: &Path, db: &Path, now: DateTime<Utc>) -> backup::BackupInfo {
    backup::create(db, None, &settings(&root.join("bak")), now, &NoProgress).unwrap()
}

#[test]
fn online_backup_is_a_consistent_snapshot_under_a_writer() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("buhbot.db");
    make_db(&db, 3000);
    let config = root.path().join("buhbot.toml");
    fs::write(&config, "[calendar]\n").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, commits) = (db.clone(), stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let conn = Connection::open(&db).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            while !stop.load(Ordering::Relaxed) {
                conn.execute_batch(
                    "BEGIN IMMEDIATE; INSERT INTO a (v) VALUES ('w'); INSERT INTO b (v) VALUES ('w'); COMMIT;",
                )
                .unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while commits.load(Ordering::Relaxed) < 10 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let dir = root.path().join("new").join("bak");
    let now = t(2025, 1, 15, 9, 30, 0);
    let info = backup::create(&db, Some(&config), &settings(&dir), now, &NoProgress);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let info = info.unwrap();

    assert_eq!(info.path, dir.join("buhbot-20250115T093000Z.tar.gz"));
    assert_eq!(info.created_at, now);
    assert_eq!(mode(&info.path), 0o600);
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(info.size_bytes, fs::metadata(&info.path).unwrap().len());
    let (a, b) = (info.row_counts["a"], info.row_counts["b"]);
    assert_eq!(
        a, b,
        "pairs are written in one transaction, so a snapshot has equal counts"
    );
    assert!(
        a >= 3000 && a < count(&db, "a"),
        "a={a}, live={}",
        count(&db, "a")
    );
    assert_eq!(info.row_counts["notes"], 2);
    let names: BTreeSet<String> = ["buhbot.db", "buhbot.toml", "manifest.json"]
        .map(String::from)
        .into();
    assert_eq!(members(&info.path), names);
    // Nothing else left behind in the backup directory (scratch removed).
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);

    let manifest = backup::verify(&info.path).unwrap();
    assert_eq!(manifest.row_counts, info.row_counts);
    assert_eq!(manifest.schema_version, 3);
    assert_eq!(manifest.created_at, now);
    assert_eq!(manifest.source, db);
    assert!(manifest.config_included);
}

/// Rewrites `archive` into `out`, passing each member through `edit`
/// (returning `None` drops it).
fn repack(archive: &Path, out: &Path, edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) {
    let gz = flate2::read::GzDecoder::new(fs::File::open(archive).unwrap());
    let mut input = tar::Archive::new(gz);
    let enc =
        flate2::write::GzEncoder::new(fs::File::create(out).unwrap(), flate2::Compression::fast());
    let mut output = tar::Builder::new(enc);
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if let Some(data) = edit(&name, data) {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            output.append_data(&mut header, &name, &data[..]).unwrap();
        }
    }
    output.into_inner().unwrap().finish().unwrap();
}

#[test]
fn verify_detects_tampering() {
    let root = tempfile::tempdir().unwrap();
    let (_db, archive) = db_and_archive(root.path(), t(2025, 1, 15, 9, 30, 0));
    let bad = root.path().join("bad.tar.gz");

    repack(&archive, &bad, |name, data| {
        Some(if name == "manifest.json" {
            String::from_utf8(data)
                .unwrap()
                .replace("\"notes\": 2", "\"notes\": 5")
                .into_bytes()
        } else {
            data
        })
    });
    let err = backup::verify(&bad).unwrap_err();
    assert!(matches!(err, BackupError::RowCounts { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("table notes has 2 rows, expected 5"),
        "{err}"
    );

    repack(&archive, &bad, |name, mut data| {
        if name == "buhbot.db" {
            data.truncate(data.len() / 2);
        }
        Some(data)
    });
    assert!(matches!(
        backup::verify(&bad),
        Err(BackupError::SizeMismatch { .. })
    ));

    // Same size, garbage in the middle: only SQLite can tell.
    repack(&archive, &bad, |name, mut data| {
        if name == "buhbot.db" {
            let mid = data.len() / 2;
            data[mid..mid + 8192].fill(0xA5);
        }
        Some(data)
    });
    let err = backup::verify(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            BackupError::Integrity { .. } | BackupError::Sqlite { .. }
        ),
        "{err}"
    );

    repack(&archive, &bad, |name, data| {
        (name != "manifest.json").then_some(data)
    });
    assert!(matches!(
        backup::verify(&bad),
        Err(BackupError::MissingMember {
            member: "manifest.json",
            ..
        })
    ));

    let bytes = fs::read(&archive).unwrap();
    fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let err = backup::verify(&bad).unwrap_err();
    assert!(matches!(err, BackupError::Io { .. }), "{err}");
    assert!(err.to_string().contains("bad.tar.gz"), "{err}");
}

/// One fake archive per day for 60 days before `now`, plus strays; returns
/// the remaining archive ages in days after pruning.
fn prune_days(keep_days: u32, keep_count: usize, first_age: i64) -> Vec<i64> {
    let dir = tempfile::tempdir().unwrap();
    let now = t(2025, 3, 1, 12, 0, 0);
    for age in first_age..60 {
        fs::write(
            dir.path()
                .join(archive_name(now - chrono::Duration::days(age))),
            b"x",
        )
        .unwrap();
    }
    let strays = [
        "buhbot-20240101T000000Z.tar.gz.part",
        "notes.txt",
        "buhbot-old.tar.gz",
        "buhbot-20240101T000000Z.tgz",
    ];
    for s in strays {
        fs::write(dir.path().join(s), b"x").unwrap();
    }
    let settings = BackupSettings {
        dir: dir.path().to_path_buf(),
        keep_days,
        keep_count,
    };
    let deleted = backup::prune(&settings, now).unwrap();
    for s in strays {
        assert!(dir.path().join(s).exists(), "{s} must not be touched");
    }
    let left = backup::list(dir.path()).unwrap();
    assert_eq!(deleted.len() + left.len(), (60 - first_age) as usize);
    assert!(
        left.windows(2).all(|w| w[0].created_at > w[1].created_at),
        "newest first"
    );
    left.iter()
        .map(|e| (now - e.created_at).num_days())
        .collect()
}

#[test]
fn prune_applies_both_limits_and_keeps_the_newest() {
    // Count is the tighter limit.
    assert_eq!(prune_days(28, 10, 0), (0..10).collect::<Vec<_>>());
    // Age is the tighter limit; exactly 28 days old is not older than 28.
    assert_eq!(prune_days(28, 50, 0), (0..=28).collect::<Vec<_>>());
    // Every archive is too old: the newest one survives anyway.
    assert_eq!(prune_days(28, 28, 40), vec![40]);
    assert_eq!(prune_days(28, 0, 0), vec![0]);
}

#[test]
fn restore_respects_the_lock_and_keeps_the_replaced_database() {
    let root = tempfile::tempdir().unwrap();
    let (db, archive) = db_and_archive(root.path(), t(2025, 1, 15, 9, 30, 0));
    Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM a; INSERT INTO notes (v) VALUES ('after')")
        .unwrap();
    fs::set_permissions(&db, fs::Permissions::from_mode(0o640)).unwrap();

    let lock = DbLock::acquire(&db).unwrap();
    let now = t(2025, 1, 16, 10, 0, 0);
    let err = backup::restore(&archive, &db, false, now).unwrap_err();
    assert!(matches!(err, BackupError::DaemonRunning { .. }), "{err}");
    assert!(err.to_string().contains("buhbot.db.lock"), "{err}");
    assert_eq!(
        count(&db, "a"),
        0,
        "refused restore leaves the database alone"
    );
    // Stand-ins for a live daemon's WAL files (written after `count`, whose
    // closing connection would remove them); they must go aside with the db.
    fs::write(root.path().join("buhbot.db-wal"), b"old wal").unwrap();
    fs::write(root.path().join("buhbot.db-shm"), b"old shm").unwrap();

    let info = backup::restore(&archive, &db, true, now).unwrap();
    drop(lock);
    assert!(info.forced);
    let aside = root.path().join("buhbot.db.replaced-20250116T100000Z");
    assert_eq!(info.replaced.as_deref(), Some(aside.as_path()));
    assert_eq!(
        fs::read(root.path().join("buhbot.db.replaced-20250116T100000Z-wal")).unwrap(),
        b"old wal"
    );
    assert_eq!(
        fs::read(root.path().join("buhbot.db.replaced-20250116T100000Z-shm")).unwrap(),
        b"old shm"
    );
    assert!(!root.path().join("buhbot.db-wal").exists());
    assert_eq!(mode(&db), 0o640);
    assert_eq!(count(&db, "a"), 300);
    assert_eq!(count(&db, "notes"), 2);
    assert_eq!(info.manifest.row_counts["a"], 300);
    fs::remove_file(root.path().join("buhbot.db.replaced-20250116T100000Z-wal")).unwrap();
    assert_eq!(count(&aside, "notes"), 3, "the replaced database is intact");

    // Lock free: no force needed; a second restore at the same second would
    // clobber the first's leftovers and is refused.
    let again = backup::restore(&archive, &db, false, t(2025, 1, 16, 11, 0, 0)).unwrap();
    assert!(!again.forced);
    let err = backup::restore(&archive, &db, false, t(2025, 1, 16, 11, 0, 0)).unwrap_err();
    assert!(matches!(err, BackupError::Exists { .. }), "{err}");
}

fn buhbot(args: &[&str]) -> Output {
    crate::buhbot()
        .args(args)
        .env_remove("BUHBOT_LOG")
        .output()
        .expect("run buhbot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn cli_list_verify_restore() {
    let root = tempfile::tempdir().unwrap();
    let (db, archive) = db_and_archive(root.path(), t(2025, 1, 15, 9, 30, 0));
    let (db_s, archive_s) = (db.to_str().unwrap(), archive.to_str().unwrap());
    let dir = root.path().join("bak");

    let o = buhbot(&["backup", "list", "--dir", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).starts_with("2025-01-15T09:30:00Z"), "{o:?}");
    assert!(stdout(&o).contains(archive_s), "{o:?}");

    let o = buhbot(&["backup", "verify", archive_s]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains(": OK"), "{o:?}");
    let junk = root.path().join("junk.tar.gz");
    fs::write(&junk, b"not gzip").unwrap();
    let o = buhbot(&["backup", "verify", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("junk.tar.gz"),
        "{o:?}"
    );

    let lock = DbLock::acquire(&db).unwrap();
    let o = buhbot(&["restore", archive_s, "--db", db_s]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("daemon seems to be running"),
        "{o:?}"
    );
    drop(lock);
    let o = buhbot(&["restore", archive_s, "--db", db_s]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("previous database kept as"), "{o:?}");
}

/// Needs the configuration to load (the built-in classifier included).
#[test]
fn cli_backup_creates_an_archive() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("buhbot.db");
    make_db(&db, 10);
    let cfg = format!("{}/config/buhbot.example.toml", env!("CARGO_MANIFEST_DIR"));
    let dir = root.path().join("bak");
    let o = buhbot(&[
        "backup",
        "--config",
        &cfg,
        "--to",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    assert!(out.contains("buhbot-") && out.contains("  a: 10"), "{out}");
    let entries = backup::list(&dir).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(members(&entries[0].path).contains("buhbot.toml"));
}

#[test]
fn restore_without_previous_database() {
    use std::os::unix::fs::MetadataExt;
    let root = tempfile::tempdir().unwrap();
    let (_db, archive) = db_and_archive(root.path(), t(2025, 1, 15, 9, 30, 0));
    let fresh = root.path().join("fresh");
    fs::create_dir(&fresh).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    if root_user {
        // As root the new files must go to the directory's (daemon's) owner.
        std::os::unix::fs::chown(&fresh, Some(4321), Some(4321)).unwrap();
    }
    let db = fresh.join("buhbot.db");
    let info = backup::restore(&archive, &db, false, t(2025, 1, 16, 10, 0, 0)).unwrap();
    assert_eq!(info.replaced, None);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(count(&db, "a"), 300);
    if root_user {
        for p in [db.clone(), backup::lock_path(&db)] {
            assert_eq!(fs::metadata(&p).unwrap().uid(), 4321, "{}", p.display());
        }
    }
}

/// A restored store pulls from Postgres in full: its pull cursor is as old
/// as the archive. Other positions (Telegram's, the jobs') are kept.
#[test]
fn a_restored_store_forgets_its_pull_cursor() {
    use buhbot::store::{Store, state};
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("buhbot.db");
    {
        let (store, _) = Store::open_migrated(&db).unwrap();
        let c = store.conn().unwrap();
        state::set_position(&c, state::PULL_CURSOR, "10:20:5", 1).unwrap();
        state::set_position(&c, "telegram", "42", 1).unwrap();
    }
    let now = t(2025, 1, 15, 9, 30, 0);
    let info = archive_of(root.path(), &db, now);
    backup::restore(&info.path, &db, false, now).unwrap();
    let c = Connection::open(&db).unwrap();
    assert_eq!(state::position(&c, state::PULL_CURSOR).unwrap(), None);
    assert_eq!(
        state::position(&c, "telegram").unwrap().as_deref(),
        Some("42")
    );
}

/// The daemon's catch-up backup at start and an operator's `buhbot backup`
/// in the same second: both archives are kept, the second under the next
/// second's name, and both verify.
#[test]
fn two_backups_in_one_second_both_land_under_unique_names() {
    let root = tempfile::tempdir().unwrap();
    let now = t(2025, 3, 4, 5, 6, 7);
    let (db, first) = db_and_archive(root.path(), now);
    let second = archive_of(root.path(), &db, now);
    assert_eq!(first.file_name().unwrap(), "buhbot-20250304T050607Z.tar.gz");
    assert_eq!(
        second.path.file_name().unwrap(),
        "buhbot-20250304T050608Z.tar.gz"
    );
    for archive in [&first, &second.path] {
        backup::verify(archive).unwrap();
    }
    // Nothing but the two archives is left in the directory.
    let names: BTreeSet<String> = fs::read_dir(root.path().join("bak"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
