//! Postgres backups on a real cluster: `pg_dump -Fc` by the daemon's job
//! and `buhbot backup create-postgres`, `buhbot backup restore-postgres`
//! into an empty database (round trip: every table's rows, checksums,
//! policies and grants equal), refusal of a non-empty target, pruning,
//! failures that leave nothing, the scheduler's first dump.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buhbot::backup::postgres::{self, DumpSettings, PgBackupError};
use buhbot::config::Config;
use buhbot::core::clock::Clock;
use buhbot::core::engine::Engine;
use buhbot::core::shared::Shared;
use buhbot::daemon::jobs::{JobName, planned_jobs, run_jobs, run_postgres_backup};
use buhbot::store::{Store, state};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::cluster::{ADMIN_PASSWORD, Cluster, Options};
use super::replay_sync::migrated;
use super::write;

const DAEMON_PASSWORD: &str = "d43mon-B4ckup-pw";

/// A superuser connection to `db` over the cluster's Unix socket.
async fn connect(cluster: &Cluster, db: &str) -> tokio_postgres::Client {
    let mut c = tokio_postgres::Config::new();
    c.host_path(cluster.dir())
        .port(cluster.port)
        .user("postgres")
        .dbname(db);
    let (client, conn) = c.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// The pgTAP suite's fixture (three chats with a request, alert,
/// delivery, message, schedule, holiday and survey answer each; staff,
/// a template, an FAQ item, a global holiday), committed, plus sync
/// bookkeeping: a daemon's position, an edit and a deletion (a row in
/// `buhbot.deletions`).
async fn load_rows(client: &tokio_postgres::Client) {
    let fixtures = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/postgres/tests/fixtures/fixtures.sql"),
    )
    .unwrap();
    client.batch_execute(&fixtures).await.unwrap();
    client
        .batch_execute(
            "SELECT test_fixtures.load();
             INSERT INTO buhbot.sync_positions (daemon_id, pushed_seq, pulled_version)
                 VALUES ('host1', 42, 7);
             UPDATE public.chats SET title = 'ООО Ромашка (архив)' WHERE id = -1001;
             DELETE FROM public.faq_items;",
        )
        .await
        .unwrap();
}

/// Per table of `public` and `buhbot`: (name, rows, md5 of the rows in
/// text form, in order).
async fn table_checksums(client: &tokio_postgres::Client) -> Vec<(String, i64, String)> {
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
             WHERE schemaname IN ('public', 'buhbot') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))
                     FROM {table} t"
                ),
                &[],
            )
            .await
            .unwrap();
        out.push((table, row.get(0), row.get(1)));
    }
    out
}

/// What else the dump must carry: the row-version sequence's position,
/// the policies, the grants, the triggers.
async fn schema_fingerprint(client: &tokio_postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT last_value::text FROM buhbot.row_version_seq",
        "SELECT string_agg(tablename || '/' || policyname || '/' || array_to_string(roles, ',')
             || '/' || coalesce(qual, '') || '/' || coalesce(with_check, ''), ';'
             ORDER BY tablename, policyname) FROM pg_policies WHERE schemaname = 'public'",
        "SELECT string_agg(g, ';' ORDER BY g) FROM (SELECT table_schema || '.' || table_name
             || ':' || grantee || ':' || privilege_type AS g FROM information_schema.table_privileges
             WHERE table_schema IN ('public', 'buhbot')) p",
        "SELECT string_agg(c.relname || '/' || t.tgname, ';' ORDER BY c.relname, t.tgname)
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'buhbot')",
    ] {
        out.push(client.query_one(sql, &[]).await.unwrap().get(0));
    }
    out
}

/// `[store]`, `[backup]` (into `dir/backups`) and `[postgres]` for the
/// daemon's role on `port`, plus `extra` `[backup]` keys.
fn config_file(dir: &Path, port: u16, password_file: Option<&Path>, extra: &str) -> PathBuf {
    let password = password_file
        .map(|p| format!("password_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    write(
        dir,
        "buhbot.toml",
        &format!(
            "[calendar]\ntimezone = \"Europe/Moscow\"\n\
             [store]\npath = \"{db}\"\n\
             [backup]\ndir = \"{backups}\"\n{extra}\n\
             [postgres]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"buhbot_daemon\"\n\
             sslmode = \"disable\"\n{password}",
            db = dir.join("buhbot.db").display(),
            backups = dir.join("backups").display(),
        ),
    )
}

/// Runs buhbot; (exit code, stdout + stderr). No password may ever show.
fn run(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    super::run_cli(config, args, &[DAEMON_PASSWORD, ADMIN_PASSWORD])
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Names in `dir`, sorted (hidden scratch directories included).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The operator's round trip, with passwords: migrate, rows in every
/// table, `backup create-postgres` as the daemon's role, a fresh empty
/// database, `backup restore-postgres` into it; then every table's count
/// and checksum, the sequence, policies, grants and triggers are equal,
/// the daemon's role reads the restored rows, and a second restore into
/// the now non-empty database is refused (exit 73) without a change.
#[test]
fn dump_and_restore_round_trip_equal_rows_checksums_and_grants() {
    let cluster = Cluster::start(Options {
        passwords: true,
        ..Options::default()
    });
    let dir = cluster.dir();
    let daemon_pw = write(dir, "daemon_pw", &format!("{DAEMON_PASSWORD}\n"));
    let admin_pw = write(dir, "admin_pw", ADMIN_PASSWORD);
    let admin_arg = admin_pw.to_str().unwrap();
    let config = config_file(dir, cluster.port, Some(&daemon_pw), "");
    let (code, text) = run(
        &config,
        &[
            "migrate",
            "--postgres",
            "--supabase-stub",
            "--admin-password-file",
            admin_arg,
            "--set-daemon-password",
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source_tables, source_schema) = rt.block_on(async {
        let source = connect(&cluster, "postgres").await;
        load_rows(&source).await;
        source
            .batch_execute("CREATE DATABASE restored")
            .await
            .unwrap();
        (
            table_checksums(&source).await,
            schema_fingerprint(&source).await,
        )
    });
    let rows = |name: &str| {
        source_tables
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .1
    };
    for (table, n) in [
        ("public.users", 6),
        ("public.chats", 3),
        ("public.client_requests", 3),
        ("public.sla_alerts", 3),
        ("public.alert_deliveries", 3),
        ("public.chat_messages", 3),
        ("public.working_schedules", 6),
        ("public.faq_items", 0),
        ("buhbot.deletions", 1),
        ("buhbot.sync_positions", 1),
        (
            "buhbot.schema_migrations",
            buhbot::sync::migrate::MIGRATIONS.len() as _,
        ),
    ] {
        assert_eq!(rows(table), n, "{table} in the source");
    }

    let started = Instant::now();
    let (code, text) = run(&config, &["backup", "create-postgres"]);
    let dump_took = started.elapsed();
    assert_eq!(code, Some(0), "{text}");
    let dumps = postgres::list_dumps(&dir.join("backups")).unwrap();
    assert_eq!(dumps.len(), 1, "{text}");
    let dump = &dumps[0].path;
    assert!(text.contains(&dump.display().to_string()), "{text}");
    assert_eq!(mode(dump), 0o600, "the dump holds the firm's data");
    assert_eq!(
        names(&dir.join("backups")),
        vec![dump.file_name().unwrap().to_string_lossy().into_owned()],
        "no scratch left"
    );
    let (code, text) = run(&config, &["backup", "list"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&dump.display().to_string()), "{text}");

    let dump_arg = dump.to_str().unwrap();
    let restore = |db: &str| {
        run(
            &config,
            &[
                "backup",
                "restore-postgres",
                dump_arg,
                "--dbname",
                db,
                "--admin-password-file",
                admin_arg,
                "--supabase-stub",
            ],
        )
    };
    let started = Instant::now();
    let (code, text) = restore("restored");
    let restore_took = started.elapsed();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("public.chats: 3"), "{text}");
    assert!(
        text.contains(&format!(
            "schema version {}",
            buhbot::sync::migrate::MIGRATIONS.len()
        )),
        "{text}"
    );
    eprintln!(
        "measured: dump {} bytes in {dump_took:?}, restore in {restore_took:?}",
        dumps[0].size_bytes
    );

    rt.block_on(async {
        let restored = connect(&cluster, "restored").await;
        assert_eq!(table_checksums(&restored).await, source_tables);
        assert_eq!(schema_fingerprint(&restored).await, source_schema);
        // The daemon logs in to the restored database and sees its rows
        // through the restored grants and policies.
        let mut c = tokio_postgres::Config::new();
        c.host("127.0.0.1")
            .port(cluster.port)
            .user("buhbot_daemon")
            .password(DAEMON_PASSWORD)
            .dbname("restored");
        let (daemon, conn) = c.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let n: i64 = daemon
            .query_one("SELECT count(*) FROM public.client_requests", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 3);
    });

    let (code, text) = restore("restored");
    assert_eq!(code, Some(73), "{text}");
    assert!(
        text.contains("is not empty") && text.contains("buhbot.schema_migrations"),
        "{text}"
    );
    let (code, text) = restore("postgres");
    assert_eq!(code, Some(73), "{text}");
    rt.block_on(async {
        let restored = connect(&cluster, "restored").await;
        assert_eq!(table_checksums(&restored).await, source_tables, "untouched");
    });
}

fn dump_settings(port: u16, dir: &Path, keep: usize) -> DumpSettings {
    let mut connection = super::settings(port);
    connection.user = "buhbot_daemon".into();
    DumpSettings {
        dir: dir.to_path_buf(),
        keep,
        pg_dump: None,
        login: buhbot::sync::pg::Login::daemon(&connection),
        connection,
        row_security: true,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

/// Five dumps with keep = 3 leave exactly the newest three; the SQLite
/// archive and a stray file in the same directory are never touched.
#[tokio::test]
async fn pruning_keeps_exactly_the_newest_dumps_and_nothing_else() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let archive = dir.join("buhbot-20200101T000000Z.tar.gz");
    let stray = dir.join("buhbot-pg-notes.txt");
    std::fs::write(&archive, b"an archive").unwrap();
    std::fs::write(&stray, b"notes").unwrap();
    let settings = dump_settings(cluster.port, &dir, 3);
    let mut made = Vec::new();
    for i in 0..5 {
        let now = at("2026-03-01T04:00:00Z") + chrono::Duration::days(i);
        let info = postgres::dump(&settings, now).await.unwrap();
        assert!(info.size_bytes > 0);
        made.push(info.path);
    }
    let left: Vec<PathBuf> = postgres::list_dumps(&dir)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    let newest: Vec<PathBuf> = made.iter().rev().take(3).cloned().collect();
    assert_eq!(left, newest);
    assert!(archive.exists() && stray.exists());
    assert_eq!(names(&dir).len(), 5, "{:?}", names(&dir));

    // Same second twice: refused, the first kept.
    let again = postgres::dump(&settings, at("2026-03-05T04:00:00Z")).await;
    assert!(
        matches!(
            again,
            Err(PgBackupError::Fs(
                buhbot::backup::BackupError::Exists { .. }
            ))
        ),
        "{again:?}"
    );
    assert_eq!(postgres::list_dumps(&dir).unwrap().len(), 3);
}

/// A `Shared` over `config` with a fresh store.
fn shared(dir: &Path, config: &Path) -> Arc<Shared> {
    let config = Config::load(Some(config)).unwrap();
    let (store, _) = Store::open_migrated(&dir.join("buhbot.db")).unwrap();
    Arc::new(Shared::new(
        store,
        Clock::System,
        Engine::new(Arc::new(config)),
        vec![],
        true,
    ))
}

/// The job against a port nobody listens on: an error naming the target
/// and pg_dump's reason, the failure counted, no file and no scratch left;
/// then against the cluster: the success counted with the dump's size.
#[test]
fn the_job_counts_failures_leaves_nothing_and_then_succeeds() {
    use ::metrics::with_local_recorder;
    let cluster = Cluster::start(Options::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(migrated(&cluster));
    let root = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (recorder, metrics) = buhbot::metrics::recorder_for_tests().unwrap();

    let config = config_file(root.path(), closed, None, "");
    let world = shared(root.path(), &config);
    let err = with_local_recorder(&recorder, || rt.block_on(run_postgres_backup(&world)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("buhbot_daemon@127.0.0.1:{closed}/postgres"))
            && err.contains("pg_dump")
            && err.contains("refused"),
        "{err}"
    );
    let backups = root.path().join("backups");
    assert_eq!(names(&backups), Vec::<String>::new(), "nothing left");
    let text = metrics.render();
    assert!(
        text.contains("buhbot_postgres_backups_total{outcome=\"failure\"} 1\n")
            && text.contains("buhbot_postgres_backups_total{outcome=\"success\"} 0\n"),
        "{text}"
    );

    // postgres_port: the dump's own port (a session pooler's, say).
    let config = config_file(
        root.path(),
        closed,
        None,
        &format!("postgres_port = {}\npostgres_keep = 2", cluster.port),
    );
    let world = shared(root.path(), &config);
    let info = with_local_recorder(&recorder, || rt.block_on(run_postgres_backup(&world))).unwrap();
    let text = metrics.render();
    assert!(
        text.contains("buhbot_postgres_backups_total{outcome=\"success\"} 1\n")
            && text.contains(&format!(
                "buhbot_last_postgres_backup_size_bytes {}\n",
                info.size_bytes
            ))
            && text.contains(&format!(
                "buhbot_last_postgres_backup_timestamp_seconds {}\n",
                info.created_at.timestamp()
            )),
        "{text}"
    );
    assert_eq!(names(&backups).len(), 1, "{:?}", names(&backups));
}

/// No pg_dump: a clear error (the exit code says "unavailable").
#[tokio::test]
async fn a_missing_pg_dump_says_to_install_postgresql_client() {
    let root = tempfile::tempdir().unwrap();
    let mut settings = dump_settings(5432, root.path(), 3);
    settings.pg_dump = Some(root.path().join("no-such-pg_dump"));
    let err = postgres::dump(&settings, Utc::now()).await.unwrap_err();
    assert_eq!(err.exit_code(), 69);
    assert!(
        err.to_string().contains("pg_dump not found")
            && err.to_string().contains("install postgresql-client"),
        "{err}"
    );
    assert!(postgres::list_dumps(root.path()).unwrap().is_empty());
}

/// The daemon's scheduler takes a first dump at start (the job never ran)
/// and records it in `job_runs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_takes_a_first_postgres_dump_at_start() {
    let cluster = Cluster::start(Options::default());
    migrated(&cluster).await;
    let root = tempfile::tempdir().unwrap();
    let config = config_file(
        root.path(),
        cluster.port,
        None,
        "enabled = false\npostgres_enabled = true",
    );
    let world = shared(root.path(), &config);
    assert_eq!(
        planned_jobs(&world.engine().config)
            .iter()
            .map(|p| (p.job, p.expr.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (JobName::Reconcile, "0 */5 * * * *"),
            (JobName::Retention, "0 30 4 * * *"),
            (JobName::PostgresBackup, "0 0 4 * * *"),
            (JobName::Digest, "0 0 9 * * Mon"),
        ],
        "of the backups only the Postgres one, daily at 04:00"
    );
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_jobs(world.clone(), cancel.clone()));
    let runs = || state::job_runs(&world.store.conn().unwrap(), "postgres_backup").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while runs().is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("stops on cancel")
        .unwrap()
        .unwrap();
    let (_, ok) = runs().expect("the first dump ran at start");
    assert!(ok.is_some(), "the dump failed");
    assert_eq!(
        postgres::list_dumps(&root.path().join("backups"))
            .unwrap()
            .len(),
        1
    );
}

/// Which jobs a configuration schedules: the Postgres backup needs
/// `[postgres]`; `enabled = false` turns both backups off unless
/// `postgres_enabled` says otherwise.
#[test]
fn the_postgres_backup_is_planned_only_with_postgres_and_enabled() {
    let root = tempfile::tempdir().unwrap();
    let jobs = |toml: &str| {
        let path = write(root.path(), "plan.toml", toml);
        planned_jobs(&Config::load(Some(&path)).unwrap())
            .into_iter()
            .map(|p| p.job)
            .filter(|j| matches!(j, JobName::Backup | JobName::PostgresBackup))
            .collect::<Vec<_>>()
    };
    let pg = "[postgres]\nhost = \"127.0.0.1\"\nsslmode = \"disable\"\n";
    assert_eq!(jobs(""), vec![JobName::Backup], "no [postgres]");
    assert_eq!(jobs(pg), vec![JobName::Backup, JobName::PostgresBackup]);
    assert_eq!(jobs(&format!("[backup]\nenabled = false\n{pg}")), vec![]);
    assert_eq!(
        jobs(&format!("[backup]\npostgres_enabled = false\n{pg}")),
        vec![JobName::Backup]
    );
    assert_eq!(
        jobs(&format!(
            "[backup]\nenabled = false\npostgres_enabled = true\n{pg}"
        )),
        vec![JobName::PostgresBackup]
    );
}

/// Every bad `[backup] postgres_*` key is reported with its key and file,
/// exit 78; check-config describes a good one.
#[test]
fn postgres_backup_keys_are_validated_by_name_and_file() {
    let root = tempfile::tempdir().unwrap();
    let pg = "[postgres]\nhost = \"127.0.0.1\"\nsslmode = \"disable\"\n";
    let bad = write(
        root.path(),
        "bad.toml",
        &format!(
            "[backup]\npostgres_keep = 0\npostgres_schedule = \"every day\"\n\
             pg_dump = \"/nonexistent/pg_dump\"\npostgres_password_file = \"/etc/pw\"\n\
             postgres_port = 0\n{pg}"
        ),
    );
    let (code, text) = run(&bad, &["check-config"]);
    assert_eq!(code, Some(78), "{text}");
    let file = bad.display().to_string();
    for key in [
        "backup.postgres_keep",
        "backup.postgres_schedule",
        "backup.pg_dump",
        "backup.postgres_password_file",
        "backup.postgres_port",
    ] {
        assert!(text.contains(&format!("{file}: {key}: ")), "{key}: {text}");
    }
    assert!(text.contains("install postgresql-client"), "{text}");

    let good = write(
        root.path(),
        "good.toml",
        &format!("[backup]\npostgres_user = \"postgres\"\npostgres_keep = 7\n{pg}"),
    );
    let (code, text) = run(&good, &["check-config"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("postgres backups: schedule \"0 0 4 * * *\", keep 7, as postgres@127.0.0.1:5432/postgres"),
        "{text}"
    );

    // The commands need [postgres]: a configuration error.
    let none = write(root.path(), "none.toml", "");
    let (code, text) = run(&none, &["backup", "create-postgres"]);
    assert_eq!(code, Some(78), "{text}");
    assert!(text.contains("postgres: missing"), "{text}");
}

/// A file that is not a dump: exit 65; no file: exit 66; the target
/// server down: exit 69.
#[test]
fn restore_exit_codes_for_bad_input_and_an_unreachable_server() {
    let root = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config_file(root.path(), closed, None, "");
    let junk = write(root.path(), "junk.dump", "not a dump\n");
    let (code, text) = run(
        &config,
        &["backup", "restore-postgres", junk.to_str().unwrap()],
    );
    assert_eq!(code, Some(65), "{text}");
    assert!(text.contains("is not a pg_dump archive"), "{text}");
    let missing = root.path().join("missing.dump");
    let (code, text) = run(
        &config,
        &["backup", "restore-postgres", missing.to_str().unwrap()],
    );
    assert_eq!(code, Some(66), "{text}");

    // A real (empty-schema) dump, restored towards a closed port.
    let cluster = Cluster::start(Options::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info = rt.block_on(async {
        migrated(&cluster).await;
        postgres::dump(&dump_settings(cluster.port, root.path(), 3), Utc::now())
            .await
            .unwrap()
    });
    let (code, text) = run(
        &config,
        &["backup", "restore-postgres", info.path.to_str().unwrap()],
    );
    assert_eq!(code, Some(69), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{closed}")), "{text}");
}

/// With TLS, pg_dump checks the server against `ca_file` as the daemon
/// does (verify-full, also for `sslmode = "require"`): the right CA
/// dumps, another CA fails and leaves no file.
#[tokio::test]
async fn a_dump_over_tls_verifies_the_server_against_the_ca_file() {
    use super::cluster::TestCa;
    use buhbot::config::SslMode;
    let ca = TestCa::generate("buhbot backup CA");
    let other = TestCa::generate("another CA");
    let cluster = Cluster::start(Options {
        tls: Some(&ca),
        ..Options::default()
    });
    migrated(&cluster).await;
    let root = tempfile::tempdir().unwrap();
    let good = write(root.path(), "ca.pem", &ca.ca_pem);
    let bad = write(root.path(), "other.pem", &other.ca_pem);
    let dir = root.path().join("backups");
    let mut settings = dump_settings(cluster.port, &dir, 3);
    settings.connection.sslmode = SslMode::Require;
    settings.connection.ca_file = Some(good);
    postgres::dump(&settings, at("2026-03-01T04:00:00Z"))
        .await
        .unwrap();

    settings.connection.ca_file = Some(bad);
    let err = postgres::dump(&settings, at("2026-03-02T04:00:00Z"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate verify failed"), "{err}");
    assert_eq!(postgres::list_dumps(&dir).unwrap().len(), 1);
}
