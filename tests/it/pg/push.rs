//! `sync::push` against a real cluster: refused rows, a crash between the
//! two commits, a restored store, an outage.

use buhbot::store::users::{self, Role, UserChange, UserRow};
use buhbot::store::{Store, chats, outbox};
use buhbot::sync::pg::Connector;
use buhbot::sync::push::{MAX_ATTEMPTS, PushError, Pusher};

use super::cluster::{Cluster, Options};
use super::replay_sync::migrated;

struct Env {
    cluster: Cluster,
    _dir: tempfile::TempDir,
    store: Store,
}

impl Env {
    async fn new() -> Env {
        let cluster = Cluster::start(Options::default());
        migrated(&cluster).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        let c = store.conn().unwrap();
        assert_eq!(
            outbox::set_enabled(&c, true).unwrap(),
            0,
            "empty: no backfill"
        );
        drop(c);
        Env {
            cluster,
            _dir: dir,
            store,
        }
    }

    /// A pusher as the daemon's role.
    fn pusher(&self) -> Pusher {
        let mut settings = super::settings(self.cluster.port);
        settings.user = "buhbot_daemon".into();
        let pool = Connector::new(&settings).unwrap().pool().unwrap();
        Pusher::new(pool, self.store.clone(), "test-daemon".into(), 60)
    }

    fn add_user(&self, id: i64, email: Option<&str>) {
        let user = UserRow {
            id,
            name: format!("Сотрудник {id}"),
            username: None,
            role: Role::Accountant,
            email: email.map(Into::into),
        };
        users::add(&self.store.conn().unwrap(), &user, "test", 0).unwrap();
    }

    fn depth(&self) -> i64 {
        outbox::stats(&self.store.conn().unwrap()).unwrap().depth
    }

    async fn pg(&self, sql: &str) -> i64 {
        self.cluster
            .admin()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test]
async fn a_refused_row_goes_to_the_dead_letters_and_the_rows_behind_it_flow() {
    let env = Env::new().await;
    env.add_user(1, Some("anna@firm.example"));
    // Postgres keeps e-mails unique; SQLite does not check.
    env.add_user(2, Some("anna@firm.example"));
    chats::ensure(
        &env.store.conn().unwrap(),
        -100123,
        "ООО Ромашка",
        "test",
        0,
    )
    .unwrap();
    let pusher = env.pusher();
    pusher.reconcile().await.unwrap();
    for attempt in 1..MAX_ATTEMPTS {
        match pusher.push_once(0).await {
            Err(PushError::Refused {
                rows,
                attempt: a,
                error,
            }) => {
                assert_eq!((rows, a), (1, attempt));
                assert!(error.contains("users_email_key"), "{error}");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
        assert_eq!(
            env.pg("SELECT count(*) FROM users").await,
            0,
            "all or nothing"
        );
    }
    let pushed = pusher.push_once(0).await.unwrap();
    assert_eq!(pushed.dead_letters, 1);
    assert_eq!(env.depth(), 0);
    assert_eq!(
        env.pg("SELECT count(*) FROM users WHERE telegram_id = 1")
            .await,
        1
    );
    assert_eq!(
        env.pg("SELECT count(*) FROM chats WHERE id = -100123")
            .await,
        1
    );
    let letters = outbox::dead_letters(&env.store.conn().unwrap()).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].entity.as_str(), letters[0].key.as_str()),
        ("users", "2")
    );
    assert_eq!(letters[0].attempts, MAX_ATTEMPTS);
    assert!(
        letters[0].error.contains("duplicate key"),
        "{}",
        letters[0].error
    );

    // Fixed locally and retried: it goes through.
    let fix = UserChange {
        email: Some("boris@firm.example".into()),
        ..UserChange::default()
    };
    users::update(&env.store.conn().unwrap(), 2, fix, "test", 0).unwrap();
    assert!(outbox::retry_dead_letter(&env.store.conn().unwrap(), letters[0].id).unwrap());
    while pusher.push_once(0).await.unwrap().entries > 0 {}
    assert_eq!(
        env.pg("SELECT count(*) FROM users WHERE email = 'boris@firm.example'")
            .await,
        1
    );
    assert!(
        outbox::dead_letters(&env.store.conn().unwrap())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_crash_between_the_postgres_commit_and_the_local_one_doubles_nothing() {
    let env = Env::new().await;
    for id in 1..=5 {
        env.add_user(id, None);
    }
    let c = env.store.conn().unwrap();
    // Keep the entries as they were before the push: the crash leaves
    // them in SQLite while Postgres has committed them.
    c.execute_batch("CREATE TABLE kept AS SELECT * FROM outbox")
        .unwrap();
    let pusher = env.pusher();
    pusher.reconcile().await.unwrap();
    let first = pusher.push_once(0).await.unwrap();
    assert_eq!(first.entries, 5);
    let pos = pusher.position().await.unwrap();
    assert_eq!(Some(pos), first.upto);
    c.execute_batch("INSERT INTO outbox SELECT * FROM kept")
        .unwrap();
    assert_eq!(env.depth(), 5);

    // A pusher that pushes them again changes nothing...
    let again = pusher.push_once(0).await.unwrap();
    assert_eq!(again.entries, 5);
    assert!(again.rows.iter().all(|(_, n)| *n == 0), "{:?}", again.rows);
    assert_eq!(env.pg("SELECT count(*) FROM users").await, 5);
    // ...and a restarted one drops them before pushing.
    c.execute_batch("INSERT INTO outbox SELECT * FROM kept")
        .unwrap();
    pusher.reconcile().await.unwrap();
    assert_eq!(env.depth(), 0);
    assert_eq!(pusher.position().await.unwrap(), pos);
}

#[tokio::test]
async fn a_store_restored_behind_postgres_continues_above_its_position() {
    let env = Env::new().await;
    chats::ensure(&env.store.conn().unwrap(), -100123, "Старое имя", "test", 0).unwrap();
    let pusher = env.pusher();
    pusher.reconcile().await.unwrap();
    for i in 0..3 {
        chats::ensure(&env.store.conn().unwrap(), -100200 - i, "Другой", "test", 0).unwrap();
        while pusher.push_once(0).await.unwrap().entries > 0 {}
    }
    let pos = pusher.position().await.unwrap();
    // An older backup restored: its ids stop below Postgres' position.
    env.store
        .conn()
        .unwrap()
        .execute_batch("UPDATE sqlite_sequence SET seq = 1 WHERE name = 'outbox'")
        .unwrap();
    pusher.reconcile().await.unwrap();
    let c = env.store.conn().unwrap();
    c.execute(
        "UPDATE chats SET title = 'Новое имя' WHERE id = -100123",
        [],
    )
    .unwrap();
    let id: i64 = c
        .query_row("SELECT max(id) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(id > pos, "entry {id} after position {pos}");
    while pusher.push_once(0).await.unwrap().entries > 0 {}
    let title: String = env
        .cluster
        .admin()
        .await
        .query_one("SELECT title FROM chats WHERE id = -100123", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        title, "Новое имя",
        "the new change is not taken for an old one"
    );
}

#[tokio::test]
async fn while_postgres_is_down_the_queue_waits_and_then_goes_through_once() {
    let env = Env::new().await;
    let pusher = env.pusher();
    pusher.reconcile().await.unwrap();
    env.cluster.stop();
    for id in 1..=50 {
        env.add_user(id, None);
    }
    match pusher.push_once(0).await {
        Err(PushError::Pg(e)) => {
            let text = e.to_string();
            assert!(text.contains("127.0.0.1"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.depth(), 50, "nothing lost while down");
    env.cluster.start_again();
    while pusher.push_once(0).await.unwrap().entries > 0 {}
    assert_eq!(env.depth(), 0);
    assert_eq!(env.pg("SELECT count(*) FROM users").await, 50);
    assert_eq!(
        env.pg("SELECT count(DISTINCT telegram_id) FROM users")
            .await,
        50
    );
}
