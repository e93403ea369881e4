//! Enums stored as text: a value this binary does not know (written by a
//! newer binary, or by hand) is an error naming the table, the column and
//! the value, never a silent default. One case per enum family, each
//! written with raw SQL past the schema's CHECK constraints and read back
//! through the store function that owns the column.

use buhbot::domain::classify::Category;
use buhbot::domain::sla::AlertKind;
use buhbot::store::requests::NewRequest;
use buhbot::store::users::{Role, UserRow};
use buhbot::store::{Store, StoreError, alerts, chats, requests, timers, users};

struct Db {
    _dir: tempfile::TempDir,
    store: Store,
    request: i64,
}

/// A store with one user, one chat with staff, one open request with a
/// timer and a fired alert.
fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
    let c = store.conn().unwrap();
    let user = UserRow {
        id: 7,
        name: "Иванова".into(),
        username: None,
        role: Role::Accountant,
        email: None,
    };
    users::add(&c, &user, "test", 0).unwrap();
    chats::ensure(&c, -5, "Группа", "test", 0).unwrap();
    chats::set_staff(&c, -5, 7, chats::ChatRole::Accountant, true, "test", 0).unwrap();
    let request = requests::insert_open(
        &c,
        &NewRequest {
            chat_id: -5,
            message_id: 1,
            client_id: 100,
            received_at: 1_000,
            category: Category::Request,
            confidence: 0.9,
            threshold_minutes: 60,
            deadline_at: Some(4_600),
            now: 1_000,
        },
    )
    .unwrap()
    .unwrap();
    let timer = timers::TimerRow {
        request_id: request,
        kind: AlertKind::Breach,
        level: 1,
        due_at: 4_600,
    };
    timers::insert(&c, &timer).unwrap();
    alerts::insert(&c, request, AlertKind::Warning, 0, 3_880, 3_880).unwrap();
    drop(c);
    Db {
        _dir: dir,
        store,
        request,
    }
}

/// Writes `sql` (which stores 'bogus' somewhere) with CHECK constraints
/// off, as a hand edit or a newer schema would.
fn corrupt(db: &Db, sql: &str) {
    let c = db.store.conn().unwrap();
    c.execute_batch("PRAGMA ignore_check_constraints = ON")
        .unwrap();
    c.execute(sql, []).unwrap();
    c.execute_batch("PRAGMA ignore_check_constraints = OFF")
        .unwrap();
}

fn names_place<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str, place: &str) {
    let err = r.unwrap_err().to_string();
    let want = format!(r#"unknown {what} "bogus" in {place}"#);
    assert!(err.contains(&want), "{err:?} should contain {want:?}");
}

#[test]
fn an_unknown_alert_kind_names_its_table_and_column() {
    let db = db();
    let c = db.store.conn().unwrap();
    assert_eq!(
        timers::for_request(&c, db.request).unwrap()[0].kind,
        AlertKind::Breach
    );
    assert_eq!(
        alerts::fired_for_request(&c, db.request).unwrap(),
        [(AlertKind::Warning, 0)]
    );
    corrupt(&db, "UPDATE timers SET kind = 'bogus'");
    names_place(
        timers::for_request(&c, db.request),
        "alert kind",
        "timers.kind",
    );
    names_place(timers::due(&c, i64::MAX, 10), "alert kind", "timers.kind");
    corrupt(&db, "UPDATE sla_alerts SET kind = 'bogus'");
    names_place(
        alerts::fired_for_request(&c, db.request),
        "alert kind",
        "sla_alerts.kind",
    );
    let alert: i64 = c
        .query_row("SELECT id FROM sla_alerts", [], |r| r.get(0))
        .unwrap();
    names_place(alerts::context(&c, alert), "alert kind", "sla_alerts.kind");
}

#[test]
fn an_unknown_request_status_or_category_names_its_column() {
    let db = db();
    let c = db.store.conn().unwrap();
    let row = requests::get(&c, db.request).unwrap().unwrap();
    assert_eq!(row.category, Category::Request);
    corrupt(&db, "UPDATE client_requests SET category = 'bogus'");
    names_place(
        requests::get(&c, db.request),
        "category",
        "client_requests.category",
    );
    corrupt(
        &db,
        "UPDATE client_requests SET category = 'REQUEST', status = 'bogus'",
    );
    names_place(
        requests::list(&c, false, None, 10),
        "request status",
        "client_requests.status",
    );
}

#[test]
fn an_unknown_role_names_its_table() {
    let db = db();
    let c = db.store.conn().unwrap();
    assert_eq!(users::get(&c, 7).unwrap().unwrap().role, Role::Accountant);
    corrupt(&db, "UPDATE users SET role = 'bogus'");
    names_place(users::list(&c), "role", "users.role");
    names_place(users::get(&c, 7), "role", "users.role");

    assert_eq!(
        chats::staff(&c, -5).unwrap(),
        [(7, chats::ChatRole::Accountant)]
    );
    corrupt(&db, "UPDATE chat_staff SET role = 'bogus'");
    names_place(chats::staff(&c, -5), "chat role", "chat_staff.role");
    names_place(chats::all_staff(&c), "chat role", "chat_staff.role");
}

/// What a person types is checked against the same spelling, and the
/// error lists what would have been accepted.
#[test]
fn a_typed_role_is_parsed_with_the_stored_spelling() {
    assert_eq!("manager".parse::<Role>(), Ok(Role::Manager));
    let err = "boss".parse::<Role>().unwrap_err().to_string();
    assert_eq!(
        err,
        r#"invalid role "boss": expected admin, manager, accountant, observer"#
    );
    assert!(users::parse_role("boss").is_err());
}
