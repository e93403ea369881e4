//! `sync::migrate` and `buhbot migrate --postgres` on a real cluster.

use buhbot::sync::migrate::{MIGRATIONS, MigrateError, Migration, migrate};
use buhbot::sync::pg::{Connector, Login, PgError};

use super::cluster::{ADMIN_PASSWORD, Cluster, Options};
use super::{secret, settings, write};

async fn recorded(client: &tokio_postgres::Client) -> Vec<(i32, String, String)> {
    client
        .query(
            "SELECT version, name, checksum FROM buhbot.schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn migrations_are_recorded_once_and_a_rerun_applies_nothing() {
    let cluster = Cluster::start(Options::default());
    let connector = Connector::new(&settings(cluster.port)).unwrap();
    let login = Login::daemon(connector.settings());
    let mut client = connector.connect(&login).await.unwrap();

    let first = migrate(&mut client, &connector, MIGRATIONS, true)
        .await
        .unwrap();
    let expected: Vec<_> = MIGRATIONS.iter().map(|m| (m.version, m.file)).collect();
    assert_eq!(first.applied, expected);
    assert_eq!(first.version, MIGRATIONS.last().unwrap().version);
    let rows = recorded(&client).await;
    let want: Vec<_> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name().to_string(), m.checksum()))
        .collect();
    assert_eq!(rows, want);

    let again = migrate(&mut client, &connector, MIGRATIONS, true)
        .await
        .unwrap();
    assert!(
        again.applied.is_empty(),
        "rerun applied {:?}",
        again.applied
    );
    assert_eq!(again.version, first.version);
    assert_eq!(recorded(&client).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runners_apply_each_migration_once() {
    let cluster = Cluster::start(Options::default());
    let connector = Connector::new(&settings(cluster.port)).unwrap();
    let login = Login::daemon(connector.settings());
    let runs = (0..3).map(|_| {
        let (connector, login) = (connector.clone(), login.clone());
        tokio::spawn(async move {
            let mut client = connector.connect(&login).await.unwrap();
            migrate(&mut client, &connector, MIGRATIONS, true)
                .await
                .unwrap()
        })
    });
    let mut applied = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        applied.extend(run.await.unwrap().applied);
    }
    applied.sort();
    let expected: Vec<_> = MIGRATIONS.iter().map(|m| (m.version, m.file)).collect();
    assert_eq!(
        applied, expected,
        "every migration applied by exactly one runner"
    );
    let client = cluster.admin().await;
    assert_eq!(recorded(&client).await.len(), MIGRATIONS.len());
}

const GOOD: Migration = Migration {
    version: 1,
    file: "0001_good.sql",
    sql: "CREATE TABLE public.good (id int);",
};
const BROKEN: Migration = Migration {
    version: 2,
    file: "0002_broken.sql",
    sql: "CREATE TABLE public.half (id int); INSERT INTO public.good VALUES (1); SELECT 1/0;",
};

#[tokio::test]
async fn a_failing_migration_is_rolled_back_and_named_and_a_changed_one_refused() {
    let cluster = Cluster::start(Options::default());
    let connector = Connector::new(&settings(cluster.port)).unwrap();
    let mut client = connector
        .connect(&Login::daemon(connector.settings()))
        .await
        .unwrap();

    let err = migrate(&mut client, &connector, &[GOOD, BROKEN], false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MigrateError::Failed {
                file: "0002_broken.sql",
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("sql/postgres/0002_broken.sql") && msg.contains("division by zero"),
        "{msg}"
    );
    // 0001 stays applied; nothing of 0002 remains.
    let admin = cluster.admin().await;
    let rows = recorded(&admin).await;
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1]);
    let half = admin
        .query_one("SELECT to_regclass('public.half') IS NULL", &[])
        .await
        .unwrap();
    assert!(half.get::<_, bool>(0), "0002's table was rolled back");
    let good = admin
        .query_one("SELECT count(*) FROM public.good", &[])
        .await
        .unwrap();
    assert_eq!(good.get::<_, i64>(0), 0, "0002's insert was rolled back");

    let edited = Migration {
        sql: "CREATE TABLE public.good (id bigint);",
        ..GOOD
    };
    let err = migrate(&mut client, &connector, &[edited], false)
        .await
        .unwrap_err();
    match &err {
        MigrateError::ChecksumMismatch {
            file,
            recorded,
            expected,
        } => {
            assert_eq!(*file, "0001_good.sql");
            assert_eq!(*recorded, GOOD.checksum());
            assert_eq!(*expected, edited.checksum());
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("0001_good.sql"));
}

/// The command as an operator runs it: passwords from files, the stub,
/// the daemon's password set; then the daemon's role can read but not
/// change the schema, and no password is ever printed.
#[tokio::test]
async fn buhbot_migrate_postgres_as_owner_then_the_daemon_role_connects() {
    const DAEMON_PASSWORD: &str = "d43mon-S3cret-pw";
    let cluster = Cluster::start(Options {
        passwords: true,
        ..Options::default()
    });
    let dir = cluster.dir();
    let daemon_pw = write(dir, "daemon_pw", &format!("{DAEMON_PASSWORD}\n"));
    let admin_pw = write(dir, "admin_pw", ADMIN_PASSWORD);
    let config = write(
        dir,
        "buhbot.toml",
        &format!(
            "[store]\npath = \"{}\"\n[postgres]\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"disable\"\npassword_file = \"{}\"\n",
            dir.join("buhbot.db").display(),
            cluster.port,
            daemon_pw.display()
        ),
    );
    let run = |extra: &[&str]| {
        let args = [&["migrate", "--postgres"][..], extra].concat();
        super::run_cli(&config, &args, &[DAEMON_PASSWORD, ADMIN_PASSWORD])
    };
    let admin_arg = admin_pw.to_str().unwrap();

    let (code, text) = run(&["--admin-password-file", "/nonexistent/pw"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("/nonexistent/pw"), "{text}");
    let wrong = write(dir, "wrong_pw", "not-the-password");
    let (code, text) = run(&["--admin-password-file", wrong.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", cluster.port)) && text.contains("postgres"),
        "{text}"
    );

    let (code, text) = run(&[
        "--supabase-stub",
        "--admin-password-file",
        admin_arg,
        "--set-daemon-password",
    ]);
    assert_eq!(code, Some(0), "{text}");
    for m in MIGRATIONS {
        assert!(text.contains(&format!("applied {}", m.file)), "{text}");
    }
    assert!(
        text.contains("set the password of role buhbot_daemon"),
        "{text}"
    );
    let (code, text) = run(&["--admin-password-file", admin_arg]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("applied ")),
        "a rerun applied something: {text}"
    );
    assert!(text.contains("(applied 0)"), "{text}");

    let admin = cluster.admin().await;
    let roles = admin
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(roles.get::<_, i64>(0), 3, "the Supabase stub's roles exist");

    let mut daemon = settings(cluster.port);
    daemon.user = "buhbot_daemon".into();
    daemon.password = secret("wrong");
    let connector = Connector::new(&daemon).unwrap();
    let err = connector
        .connect(&Login::daemon(&daemon))
        .await
        .unwrap_err();
    assert!(matches!(err, PgError::Connect { .. }), "{err:?}");

    daemon.password = secret(DAEMON_PASSWORD);
    let pool = Connector::new(&daemon).unwrap().pool().unwrap();
    assert_eq!(pool.max_size(), 2);
    let client = pool.get().await.unwrap();
    client
        .query_typed("SELECT count(*) FROM public.chats", &[])
        .await
        .expect("the daemon reads its tables");
    let ddl = client
        .batch_execute("CREATE TABLE public.intruder (id int)")
        .await
        .unwrap_err();
    assert_eq!(
        ddl.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{ddl}"
    );
}
