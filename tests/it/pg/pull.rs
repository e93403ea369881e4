//! `sync::pull` against a real cluster: edits made in Postgres reach the
//! store (chats and staff, users, weekly hours and days off, firm-wide
//! settings, templates and FAQ), a transaction that commits late is not
//! skipped, the conflict rule both ways, deletes, a refetch in full.

use buhbot::store::chats::{self, ChatRole};
use buhbot::store::users::{self, Role, UserRow};
use buhbot::store::{Store, outbox};
use buhbot::sync::pg::{Connector, PgPool};
use buhbot::sync::pull;
use buhbot::sync::push::Pusher;

use super::cluster::{Cluster, Options};
use super::replay_sync::migrated;

const ME: &str = "daemon:test-daemon";

struct Env {
    cluster: Cluster,
    _dir: tempfile::TempDir,
    store: Store,
    pool: PgPool,
}

impl Env {
    async fn new() -> Env {
        let cluster = Cluster::start(Options::default());
        migrated(&cluster).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open_migrated(&dir.path().join("b.db")).unwrap();
        outbox::set_enabled(&store.conn().unwrap(), true).unwrap();
        let mut settings = super::settings(cluster.port);
        settings.user = "buhbot_daemon".into();
        let pool = Connector::new(&settings).unwrap().pool().unwrap();
        Env {
            cluster,
            _dir: dir,
            store,
            pool,
        }
    }

    async fn push_all(&self) {
        let p = Pusher::new(
            self.pool.clone(),
            self.store.clone(),
            "test-daemon".into(),
            60,
        );
        while p.push_once(0).await.unwrap().entries > 0 {}
    }

    async fn pull(&self) -> (pull::Batch, pull::Pulled) {
        let from = pull::cursor(&self.store.conn().unwrap()).unwrap();
        let batch = pull::read(&self.pool, from, ME).await.unwrap();
        let done = pull::apply(&self.store, &batch, &defaults(), 1).unwrap();
        (batch, done)
    }

    fn depth(&self) -> i64 {
        outbox::stats(&self.store.conn().unwrap()).unwrap().depth
    }

    async fn seed(&self) {
        let c = self.store.conn().unwrap();
        let user = UserRow {
            id: 1,
            name: "Анна".into(),
            username: None,
            role: Role::Accountant,
            email: None,
        };
        users::add(&c, &user, "test", 0).unwrap();
        chats::ensure(&c, -100123, "ООО Ромашка", "test", 0).unwrap();
        drop(c);
        self.push_all().await;
        // The daemon's own rows are not pulled back.
        let (batch, _) = self.pull().await;
        assert!(
            batch.chats.is_empty() && batch.users.is_empty(),
            "{batch:?}"
        );
    }
}

#[tokio::test]
async fn an_edit_in_postgres_reaches_the_store_once_and_is_not_pushed_back() {
    let env = Env::new().await;
    env.seed().await;
    env.cluster
        .admin()
        .await
        .batch_execute(
            "UPDATE chats SET sla_threshold_minutes = 30, accountant_telegram_ids = '{1,2}',
                              manager_telegram_ids = '{7}'
             WHERE id = -100123",
        )
        .await
        .unwrap();
    let (_, done) = env.pull().await;
    assert_eq!(done.applied, 1);
    let c = env.store.conn().unwrap();
    let chat = chats::get(&c, -100123).unwrap().unwrap();
    assert_eq!(chat.threshold_minutes, Some(30));
    assert_eq!(
        chats::staff(&c, -100123).unwrap(),
        vec![
            (1, ChatRole::Accountant),
            (2, ChatRole::Accountant),
            (7, ChatRole::Manager)
        ]
    );
    drop(c);
    assert_eq!(env.depth(), 0, "pulled rows are not queued back up");
    let (batch, done) = env.pull().await;
    assert!(batch.chats.is_empty(), "pulled once: {batch:?}");
    assert_eq!(done.applied, 0);
}

#[tokio::test]
async fn a_transaction_that_commits_after_a_later_one_is_not_skipped() {
    let env = Env::new().await;
    env.seed().await;
    // A takes its row version first and commits last.
    let a = env.cluster.admin().await;
    a.batch_execute("BEGIN; UPDATE chats SET title = 'Ромашка (А)' WHERE id = -100123")
        .await
        .unwrap();
    env.cluster
        .admin()
        .await
        .batch_execute("UPDATE users SET full_name = 'Анна Б.' WHERE telegram_id = 1")
        .await
        .unwrap();
    let (batch, _) = env.pull().await;
    assert_eq!(batch.users.len(), 1);
    assert!(batch.chats.is_empty(), "A is not committed yet");
    a.batch_execute("COMMIT").await.unwrap();
    let (batch, _) = env.pull().await;
    assert_eq!(batch.chats.len(), 1, "A's row, below the cursor's version");
    let chat = chats::get(&env.store.conn().unwrap(), -100123)
        .unwrap()
        .unwrap();
    assert_eq!(chat.title, "Ромашка (А)");
}

#[tokio::test]
async fn the_later_edit_wins_and_a_deleted_user_goes() {
    let env = Env::new().await;
    env.seed().await;
    let admin = env.cluster.admin().await;
    // Postgres first, then a local edit one second later: local wins.
    admin
        .batch_execute("UPDATE chats SET sla_enabled = false WHERE id = -100123")
        .await
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    chats::update(
        &env.store.conn().unwrap(),
        -100123,
        chats::ChatChange {
            title: Some("локально".into()),
            ..Default::default()
        },
        "test",
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    let (_, done) = env.pull().await;
    assert_eq!(done.kept_local, 1);
    assert!(
        chats::get(&env.store.conn().unwrap(), -100123)
            .unwrap()
            .unwrap()
            .sla_enabled
    );
    assert!(env.depth() > 0, "the local edit is still to be pushed");
    // Now a later edit in Postgres: it wins and the local entry is dropped.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    admin
        .batch_execute("UPDATE chats SET monitoring_enabled = false WHERE id = -100123")
        .await
        .unwrap();
    let (_, done) = env.pull().await;
    assert_eq!(done.applied, 1);
    let chat = chats::get(&env.store.conn().unwrap(), -100123)
        .unwrap()
        .unwrap();
    assert!(!chat.monitored && !chat.sla_enabled);
    assert_eq!(env.depth(), 0);
    admin
        .batch_execute("DELETE FROM users WHERE telegram_id = 1")
        .await
        .unwrap();
    env.pull().await;
    assert!(users::get(&env.store.conn().unwrap(), 1).unwrap().is_none());
    // A chat deleted upstream is no longer monitored here; its row stays.
    admin
        .batch_execute("UPDATE chats SET monitoring_enabled = true WHERE id = -100123")
        .await
        .unwrap();
    env.pull().await;
    let chat = chats::get(&env.store.conn().unwrap(), -100123)
        .unwrap()
        .unwrap();
    assert!(chat.monitored);
    admin
        .batch_execute("DELETE FROM chats WHERE id = -100123")
        .await
        .unwrap();
    env.pull().await;
    let chat = chats::get(&env.store.conn().unwrap(), -100123)
        .unwrap()
        .unwrap();
    assert!(!chat.monitored);
}

/// The real daemon: an edit made in Postgres takes effect in the running
/// engine (its "chat settings changed" line) without a restart. Prints the
/// latencies (a measurement, not asserted: scripts/bench-sync.sh reports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_postgres_takes_effect_in_the_running_daemon() {
    use crate::daemon::{export_extent, log_tail, setup, start, stop, wait_done};
    use std::time::{Duration, Instant};
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let s = setup(&super::replay_sync::pg_section(cluster.port));
    let export =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/examples/chat-export.json");
    let (n, end) = export_extent(&export);
    let mut child = start(
        &s,
        &format!("replay:{}?speed=1e9", export.display()),
        "daemon.log",
    );
    wait_done(&s, n, end, &mut child, Duration::from_secs(60));
    let admin = cluster.admin().await;
    wait_for_example_chat(&admin, &s).await;
    let changed = |s: &crate::daemon::Setup| {
        std::fs::read_to_string(s.dir.path().join("daemon.log"))
            .unwrap_or_default()
            .matches("chat settings changed")
            .count()
    };
    let mut latencies = Vec::new();
    for i in 0..10 {
        let before = changed(&s);
        let t0 = Instant::now();
        admin
            .execute(
                "UPDATE chats SET sla_threshold_minutes = $1 WHERE id = -1001987654321",
                &[&(30 + i)],
            )
            .await
            .unwrap();
        while changed(&s) == before {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "edit {i} never took effect: {}",
                log_tail(&s)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    eprintln!(
        "pull → effective: p50 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies.last().unwrap()
    );
    let threshold: Option<i64> =
        buhbot::store::chats::get(&crate::daemon::read_only(&s.db), -1001987654321)
            .unwrap()
            .unwrap()
            .threshold_minutes;
    assert_eq!(threshold, Some(39));
    assert!(stop(child).success(), "{}", log_tail(&s));
}

/// The push keeps the rule too: a local change older than a person's edit
/// in Postgres does not overwrite it (the next pull applies the person's),
/// a newer one does.
#[tokio::test]
async fn the_push_does_not_overwrite_a_later_edit_made_in_postgres() {
    let env = Env::new().await;
    env.seed().await;
    let admin = env.cluster.admin().await;
    admin
        .batch_execute("UPDATE chats SET title = 'из панели' WHERE id = -100123")
        .await
        .unwrap();
    let real_now = chrono::Utc::now().timestamp();
    let edit = |title: &str, at: i64| {
        chats::update(
            &env.store.conn().unwrap(),
            -100123,
            chats::ChatChange {
                title: Some(title.into()),
                ..Default::default()
            },
            "test",
            at,
        )
        .unwrap()
    };
    // Changed here before the person's edit, pushed after it.
    edit("старое локальное", real_now - 120);
    env.push_all().await;
    assert_eq!(pg_title(&admin).await, "из панели");
    let (_, done) = env.pull().await;
    assert_eq!(done.applied, 1);
    assert_eq!(
        chats::get(&env.store.conn().unwrap(), -100123)
            .unwrap()
            .unwrap()
            .title,
        "из панели"
    );
    assert_eq!(env.depth(), 0);
    // Changed here after it: the push wins.
    edit("новое локальное", real_now + 120);
    env.push_all().await;
    assert_eq!(pg_title(&admin).await, "новое локальное");
}

async fn pg_title(admin: &tokio_postgres::Client) -> String {
    admin
        .query_one("SELECT title FROM chats WHERE id = -100123", &[])
        .await
        .unwrap()
        .get(0)
}

/// The configuration's defaults (no file, no environment).
fn defaults() -> buhbot::config::Config {
    buhbot::config::Config::from_figment(&figment::Figment::new(), None).unwrap()
}

/// Local working intervals of `chat` on `date` as the engine built from the
/// store sees them, as "HH:MM-HH:MM".
fn hours(env: &Env, chat: i64, date: &str) -> Vec<String> {
    let engine = buhbot::core::engine::Engine::from_config_and_store(
        std::sync::Arc::new(defaults()),
        &env.store.conn().unwrap(),
    )
    .unwrap();
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    let hm = |s: u32| format!("{:02}:{:02}", s / 3600, s % 3600 / 60);
    engine
        .calendar(chat)
        .local_intervals(date)
        .iter()
        .map(|i| format!("{}-{}", hm(i.start), hm(i.end)))
        .collect()
}

/// Weekly hours and days off edited in Postgres reach the engine's
/// calendars; removing them there removes them here.
#[tokio::test]
async fn schedules_and_holidays_edited_in_postgres_shape_the_calendars() {
    let env = Env::new().await;
    env.seed().await;
    let admin = env.cluster.admin().await;
    // 2026-12-07 is a Monday, 2026-12-12 a Saturday.
    assert_eq!(hours(&env, -100123, "2026-12-07"), ["09:00-18:00"]);
    admin
        .batch_execute(
            "INSERT INTO working_schedules (chat_id, day_of_week, start_time, end_time, timezone)
             VALUES (-100123, 1, '08:00', '12:00', 'Asia/Yekaterinburg'),
                    (-100123, 1, '13:00', '17:00', 'Asia/Yekaterinburg'),
                    (-100123, 2, '10:00', '16:00', 'Asia/Yekaterinburg');
             INSERT INTO global_holidays (date, name) VALUES ('2026-12-08', 'день фирмы');
             INSERT INTO chat_holidays (chat_id, date, kind, description)
             VALUES (-100123, '2026-12-12', 'workday', 'перенос');",
        )
        .await
        .unwrap();
    let (_, done) = env.pull().await;
    assert_eq!(done.applied, 3, "a week, the global days, the chat's days");
    assert_eq!(
        hours(&env, -100123, "2026-12-07"),
        ["08:00-12:00", "13:00-17:00"]
    );
    assert!(
        hours(&env, -100123, "2026-12-08").is_empty(),
        "the firm's day off"
    );
    assert!(
        hours(&env, -100123, "2026-12-09").is_empty(),
        "no Wednesday upstream"
    );
    assert_eq!(
        hours(&env, -100123, "2026-12-12"),
        ["08:00-12:00", "13:00-17:00"],
        "a transferred working day gets Monday's hours"
    );
    // Any other chat: the global day off, the configured week.
    assert!(hours(&env, -100999, "2026-12-08").is_empty());
    assert_eq!(hours(&env, -100999, "2026-12-09"), ["09:00-18:00"]);
    assert_eq!(env.depth(), 0, "nothing pulled is queued back up");
    let (_, done) = env.pull().await;
    assert_eq!(done.applied, 0, "pulled once");
    // Deleted upstream: gone here.
    admin
        .batch_execute(
            "DELETE FROM working_schedules WHERE chat_id = -100123 AND start_time = '13:00';
             DELETE FROM global_holidays;
             UPDATE working_schedules SET is_active = false WHERE day_of_week = 2;",
        )
        .await
        .unwrap();
    env.pull().await;
    assert_eq!(hours(&env, -100123, "2026-12-07"), ["08:00-12:00"]);
    assert!(
        hours(&env, -100123, "2026-12-08").is_empty(),
        "Tuesday is inactive"
    );
    assert_eq!(hours(&env, -100999, "2026-12-08"), ["09:00-18:00"]);
    admin
        .batch_execute("DELETE FROM working_schedules; DELETE FROM chat_holidays;")
        .await
        .unwrap();
    env.pull().await;
    assert_eq!(hours(&env, -100123, "2026-12-07"), ["09:00-18:00"]);
    assert!(hours(&env, -100123, "2026-12-12").is_empty());
    // A refetch in full (the cursor forgotten) finds the same.
    admin
        .batch_execute("INSERT INTO chat_holidays (chat_id, date) VALUES (-100123, '2026-12-07')")
        .await
        .unwrap();
    pull::reset(&env.store.conn().unwrap()).unwrap();
    env.pull().await;
    assert!(hours(&env, -100123, "2026-12-07").is_empty());
}

/// The firm-wide settings row: a field changed in Postgres overrides the
/// configuration; set back to the configuration's value, the override
/// goes. The migration's column defaults alone change nothing.
#[tokio::test]
async fn global_settings_changed_in_postgres_override_the_configuration() {
    let env = Env::new().await;
    env.seed().await;
    let engine = || {
        buhbot::core::engine::Engine::from_config_and_store(
            std::sync::Arc::new(defaults()),
            &env.store.conn().unwrap(),
        )
        .unwrap()
    };
    assert_eq!(engine().policy(-100999).threshold_minutes, 60);
    let admin = env.cluster.admin().await;
    admin
        .batch_execute(
            "UPDATE global_settings SET default_sla_threshold = 45, max_escalations = 3,
                                        global_manager_ids = '{77, junk}'",
        )
        .await
        .unwrap();
    let (batch, done) = env.pull().await;
    assert!(batch.globals.is_some());
    assert_eq!(done.applied, 3);
    let e = engine();
    assert_eq!(e.policy(-100999).threshold_minutes, 45);
    assert_eq!(e.policy(-100123).max_escalations, 3);
    assert_eq!(e.policy(-100123).warning_percent, 80, "unchanged upstream");
    assert!(e.base_config().alerts.managers.is_empty());
    assert_eq!(
        e.effective(&env.store.conn().unwrap())
            .unwrap()
            .config
            .alerts
            .managers,
        [77]
    );
    // Back to the configuration's value: the override goes; an
    // impossible one is refused (the configuration's stays).
    admin
        .batch_execute(
            "UPDATE global_settings SET default_sla_threshold = 60, max_escalations = 99",
        )
        .await
        .unwrap();
    env.pull().await;
    let e = engine();
    assert_eq!(e.policy(-100999).threshold_minutes, 60);
    assert_eq!(e.policy(-100999).max_escalations, 5);
    assert_eq!(env.depth(), 0);
}

fn local_rows(env: &Env, sql: &str) -> Vec<String> {
    let c = env.store.conn().unwrap();
    let mut stmt = c.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Templates and FAQ entries edited in Postgres arrive, change, go; a local
/// template of the same name is adopted, not doubled.
#[tokio::test]
async fn templates_and_faq_edited_in_postgres_arrive_change_and_go() {
    let env = Env::new().await;
    env.seed().await;
    env.store
        .conn()
        .unwrap()
        .execute(
            "INSERT INTO templates (name, body, created_at, updated_at) VALUES ('счёт', 'старый', 0, 0)",
            [],
        )
        .unwrap();
    let admin = env.cluster.admin().await;
    admin
        .batch_execute(
            "INSERT INTO templates (title, content) VALUES ('счёт', 'Счёт выставлен, {client}.'),
                                                          ('акт', 'Акт готов.');
             INSERT INTO faq_items (question, answer, keywords)
             VALUES ('Когда сдавать отчёт?', 'До 25 числа.', '{отчёт,срок}');",
        )
        .await
        .unwrap();
    env.pull().await;
    let templates = "SELECT name || '=' || body FROM templates ORDER BY name";
    assert_eq!(
        local_rows(&env, templates),
        ["акт=Акт готов.", "счёт=Счёт выставлен, {client}."]
    );
    assert_eq!(
        local_rows(&env, "SELECT keywords || '/' || enabled FROM faq_items"),
        ["отчёт, срок/1"]
    );
    admin
        .batch_execute(
            "UPDATE templates SET title = 'акт сверки' WHERE title = 'акт';
             DELETE FROM templates WHERE title = 'счёт';
             UPDATE faq_items SET is_active = false;",
        )
        .await
        .unwrap();
    env.pull().await;
    assert_eq!(local_rows(&env, templates), ["акт сверки=Акт готов."]);
    assert_eq!(
        local_rows(&env, "SELECT keywords || '/' || enabled FROM faq_items"),
        ["отчёт, срок/0"]
    );
    // Deleted while the cursor was not trusted: a full refetch removes it.
    admin.batch_execute("DELETE FROM faq_items").await.unwrap();
    pull::reset(&env.store.conn().unwrap()).unwrap();
    env.pull().await;
    assert!(local_rows(&env, "SELECT question FROM faq_items").is_empty());
    assert_eq!(local_rows(&env, templates), ["акт сверки=Акт готов."]);
}

/// A refetch in full finds the users deleted upstream by their absence,
/// and keeps a user added here that is not pushed yet.
#[tokio::test]
async fn a_full_refetch_removes_users_gone_upstream_and_keeps_unpushed_ones() {
    let env = Env::new().await;
    env.seed().await;
    env.cluster
        .admin()
        .await
        .batch_execute("DELETE FROM users WHERE telegram_id = 1")
        .await
        .unwrap();
    let new = UserRow {
        id: 2,
        name: "Борис".into(),
        username: None,
        role: Role::Manager,
        email: None,
    };
    users::add(&env.store.conn().unwrap(), &new, "test", 5).unwrap();
    pull::reset(&env.store.conn().unwrap()).unwrap();
    let (batch, _) = env.pull().await;
    assert!(batch.all_users.is_some(), "a full refetch");
    let c = env.store.conn().unwrap();
    assert!(users::get(&c, 1).unwrap().is_none());
    assert!(users::get(&c, 2).unwrap().is_some());
}

/// A chat staffed by the configuration shows that staff in Postgres; an
/// unrelated edit there leaves it the configuration's; a person adding an
/// accountant there adds to it.
#[tokio::test]
async fn configured_staff_is_shown_upstream_and_added_to_there() {
    use figment::providers::{Format, Toml};
    let env = Env::new().await;
    let config = buhbot::config::Config::from_figment(
        &figment::Figment::from(Toml::string(
            "[[chats]]\nid = -100123\naccountants = [1]\nmanagers = [9]\n",
        )),
        None,
    )
    .unwrap();
    chats::ensure(&env.store.conn().unwrap(), -100123, "Ромашка", "test", 0).unwrap();
    let p = Pusher::new(
        env.pool.clone(),
        env.store.clone(),
        "test-daemon".into(),
        60,
    )
    .with_staff_of(&config);
    while p.push_once(0).await.unwrap().entries > 0 {}
    let admin = env.cluster.admin().await;
    let row = admin
        .query_one(
            "SELECT accountant_telegram_ids, manager_telegram_ids FROM chats WHERE id = -100123",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<i64>>(0), [1]);
    assert_eq!(row.get::<_, Vec<String>>(1), ["9"]);
    let pull = || async {
        let from = pull::cursor(&env.store.conn().unwrap()).unwrap();
        let batch = pull::read(&env.pool, from, ME).await.unwrap();
        pull::apply(&env.store, &batch, &config, 1).unwrap()
    };
    pull().await;
    admin
        .batch_execute("UPDATE chats SET sla_threshold_minutes = 40 WHERE id = -100123")
        .await
        .unwrap();
    pull().await;
    assert!(
        chats::staff(&env.store.conn().unwrap(), -100123)
            .unwrap()
            .is_empty(),
        "still the configuration's"
    );
    admin
        .batch_execute(
            "UPDATE chats SET accountant_telegram_ids = accountant_telegram_ids || 2::bigint
             WHERE id = -100123",
        )
        .await
        .unwrap();
    pull().await;
    assert_eq!(
        chats::staff(&env.store.conn().unwrap(), -100123).unwrap(),
        vec![
            (1, ChatRole::Accountant),
            (2, ChatRole::Accountant),
            (9, ChatRole::Manager)
        ]
    );
}

/// A row the daemon cannot take (a threshold past its 480 minutes) is
/// reported and skipped as a whole; the rows beside it are applied and the
/// next pull does not stumble on it again.
#[tokio::test]
async fn a_row_the_store_refuses_is_skipped_and_does_not_stop_the_others() {
    let env = Env::new().await;
    env.seed().await;
    env.cluster
        .admin()
        .await
        .batch_execute(
            "UPDATE chats SET sla_threshold_minutes = 600, title = 'не применится' WHERE id = -100123;
             UPDATE users SET full_name = 'Анна Б.' WHERE telegram_id = 1;",
        )
        .await
        .unwrap();
    let (_, done) = env.pull().await;
    assert_eq!((done.applied, done.refused), (1, 1));
    let c = env.store.conn().unwrap();
    assert_eq!(users::get(&c, 1).unwrap().unwrap().name, "Анна Б.");
    let chat = chats::get(&c, -100123).unwrap().unwrap();
    assert_eq!(
        (chat.title.as_str(), chat.threshold_minutes),
        ("ООО Ромашка", None)
    );
    drop(c);
    let (batch, done) = env.pull().await;
    assert!(batch.chats.is_empty() && done == pull::Pulled::default());
}

/// Waits until the example export's configured chat reached Postgres (with
/// its first message, pushed by the daemon of `s`).
pub(super) async fn wait_for_example_chat(
    admin: &tokio_postgres::Client,
    s: &crate::daemon::Setup,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while admin
        .query_opt("SELECT 1 FROM chats WHERE id = -1001987654321", &[])
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            crate::daemon::log_tail(s)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A local FAQ entry (added with `buhbot faq add`, never in Postgres) is
/// neither lost nor doubled by the pull, a full refetch included, and the
/// usage counters counted here survive Postgres' edits of an entry.
#[tokio::test]
async fn local_faq_entries_and_usage_counters_survive_the_pull() {
    use buhbot::store::faq;
    let env = Env::new().await;
    env.seed().await;
    let local = faq::add(
        &env.store.conn().unwrap(),
        "Где реквизиты?",
        "В карточке.",
        &["реквизиты".to_string()],
        0,
    )
    .unwrap();
    let admin = env.cluster.admin().await;
    admin
        .batch_execute(
            "INSERT INTO faq_items (question, answer, keywords)
             VALUES ('Когда сдавать отчёт?', 'До 25 числа.', '{отчёт}');",
        )
        .await
        .unwrap();
    env.pull().await;
    let rows = || faq::list(&env.store.conn().unwrap()).unwrap();
    let pulled = rows().into_iter().find(|r| r.pg_id.is_some()).unwrap();
    let conn = env.store.conn().unwrap();
    for (id, user) in [(local.id, 1), (pulled.id, 1), (pulled.id, 2)] {
        assert!(faq::record_answer(&conn, id, -100, user, 0, 3600).unwrap());
    }
    admin
        .batch_execute("UPDATE faq_items SET answer = 'До 25 числа месяца.'")
        .await
        .unwrap();
    env.pull().await;
    pull::reset(&conn).unwrap();
    env.pull().await;
    let after = rows();
    assert_eq!(after.len(), 2, "{after:?}");
    let by_id = |id| after.iter().find(|r| r.id == id).unwrap();
    assert_eq!(
        (by_id(local.id).usage_count, by_id(local.id).pg_id.clone()),
        (1, None)
    );
    assert_eq!(by_id(pulled.id).usage_count, 2);
    assert_eq!(by_id(pulled.id).answer, "До 25 числа месяца.");
}
