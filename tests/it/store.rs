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

/// Settings changes reach the upstream outbox as upserts, and removals
/// (a user, a staff member, a chat's own calendar) as deletions.
#[test]
fn settings_changes_are_outboxed_as_upserts_and_deletions() {
    use buhbot::store::{chats, users};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let c = store.conn().unwrap();
    let user = users::UserRow {
        id: 7,
        name: "Иванова".into(),
        username: None,
        role: users::Role::Accountant,
        email: None,
    };
    users::add(&c, &user, "test", 0).unwrap();
    users::remove(&c, 7, "test", 0).unwrap();
    chats::ensure(&c, -5, "Группа", "test", 0).unwrap();
    chats::set_staff(&c, -5, 8, chats::ChatRole::Accountant, true, "test", 0).unwrap();
    chats::set_staff(&c, -5, 8, chats::ChatRole::Accountant, false, "test", 0).unwrap();
    let ops: Vec<(String, String)> = c
        .prepare("SELECT entity, op FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ops: Vec<(&str, &str)> = ops.iter().map(|(e, o)| (e.as_str(), o.as_str())).collect();
    assert_eq!(
        ops,
        [
            ("users", "upsert"),
            ("users", "delete"),
            ("chats", "upsert"),
            ("chat_staff", "upsert"),
            ("chat_staff", "delete"),
        ]
    );
}
