//! The SQLite store: migrations, pragmas, and a database newer than the
//! binary.

use buhbot::store::{MIGRATIONS, Store, StoreError};

#[test]
fn migrations_apply_once_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/b.db");
    let (store, report) = Store::open_migrated(&path).unwrap();
    assert_eq!(report.from, 0);
    assert_eq!(report.applied.len(), MIGRATIONS.len());
    let again = store.migrate().unwrap();
    assert!(again.applied.is_empty());
    let c = store.conn().unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.last().unwrap().0);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1, "foreign keys on every pooled connection");
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(sync, 1, "synchronous = NORMAL");
    for table in [
        "users",
        "chats",
        "client_requests",
        "sla_alerts",
        "feedback_responses",
        "working_schedules",
        "templates",
        "faq_items",
        "messages",
        "holidays",
        "timers",
        "outbox",
        "sync_state",
        "sync_dead_letters",
        "audit_log",
        "transport_state",
        "alert_deliveries",
        "chat_staff",
        "job_runs",
    ] {
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table}");
    }
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let (store, _) = Store::open_migrated(&path).unwrap();
    store
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
    let err = store.migrate().unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer than this buhbot"), "{err}");
}

/// With sync on, every change is queued for Postgres by the triggers, in
/// the transaction of the change, whoever makes it; a staff change is a
/// change of its chat. With sync off nothing is queued, and turning it on
/// asks for a backfill of every row.
#[test]
fn changes_are_queued_for_postgres_only_while_sync_is_on() {
    use buhbot::store::{chats, outbox, users};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let c = store.conn().unwrap();
    let ops = || -> Vec<(String, String, String)> {
        c.prepare("SELECT entity, entity_key, op FROM outbox ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let user = |id| users::UserRow {
        id,
        name: "Иванова".into(),
        username: None,
        role: users::Role::Accountant,
        email: None,
    };
    users::add(&c, &user(6), "test", 0).unwrap();
    chats::ensure(&c, -4, "Старая группа", "test", 0).unwrap();
    assert!(ops().is_empty(), "sync off: nothing queued");

    // On: what was there before is queued first (the backfill), once.
    assert_eq!(
        outbox::set_enabled(&c, true).unwrap(),
        2,
        "user 6 and chat -4"
    );
    assert_eq!(outbox::set_enabled(&c, true).unwrap(), 0, "already on");
    users::add(&c, &user(7), "test", 0).unwrap();
    users::remove(&c, 7, "test", 0).unwrap();
    chats::ensure(&c, -5, "Группа", "test", 0).unwrap();
    chats::set_staff(&c, -5, 8, chats::ChatRole::Accountant, true, "test", 0).unwrap();
    chats::set_staff(&c, -5, 8, chats::ChatRole::Accountant, false, "test", 0).unwrap();
    let own = |v: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    assert_eq!(
        ops(),
        own(&[
            ("users", "6", "upsert"),
            ("chats", "-4", "upsert"),
            ("users", "7", "upsert"),
            ("users", "7", "delete"),
            ("chats", "-5", "upsert"),
            ("chats", "-5", "upsert"),
            ("chats", "-5", "upsert"),
        ])
    );

    // Off: the queue goes (nothing would push it) and ids never repeat.
    let last: i64 = c
        .query_row("SELECT max(id) FROM outbox", [], |r| r.get(0))
        .unwrap();
    outbox::set_enabled(&c, false).unwrap();
    assert!(ops().is_empty());
    users::add(&c, &user(9), "test", 0).unwrap();
    assert!(ops().is_empty(), "off again: nothing queued");
    assert_eq!(
        outbox::set_enabled(&c, true).unwrap(),
        4,
        "back on: every row again (users 6, 9, chats -4, -5)"
    );
    let first: i64 = c
        .query_row("SELECT min(id) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(first > last, "ids grow after the queue emptied");
}

/// Root running a command before the daemon's first start (`buhbot
/// telegram check`) must not leave a database the daemon's user cannot
/// open: the new database and its -wal/-shm files get the directory's
/// owner. (CI runs as root; as another user there is nothing to hand over.)
#[test]
fn a_database_root_creates_belongs_to_its_directorys_owner() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let (uid, gid) = (65_534, 65_534);
    std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
    let db = state.join("buhbot.db");
    let (store, _) = Store::open_migrated(&db).unwrap();
    store
        .conn()
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    for name in ["buhbot.db", "buhbot.db-wal", "buhbot.db-shm"] {
        let m = std::fs::metadata(state.join(name)).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{name}");
    }
    assert_eq!(
        std::fs::metadata(&db).unwrap().mode() & 0o777,
        0o600,
        "the database is private"
    );
    // A directory root owns: nothing to hand over, the file is root's.
    let db2 = dir.path().join("root.db");
    drop(Store::open_migrated(&db2).unwrap());
    assert_eq!(std::fs::metadata(&db2).unwrap().uid(), 0);
}
