//! Through pgbouncer in `pool_mode = transaction` (what Supabase's pooler
//! on port 6543 does): the migrations and the pool's transactions of
//! unnamed statements work while clients interleave on few server
//! connections.

use std::path::Path;
use std::process::{Child, Command};

use buhbot::sync::migrate::{MIGRATIONS, migrate};
use buhbot::sync::pg::{Connector, Login};
use tokio_postgres::types::Type;

use super::cluster::{Cluster, Options};
use super::settings;

const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// pgbouncer on a free loopback port in front of `cluster`, with fewer
/// server connections than clients. Killed on drop.
pub(super) struct Pgbouncer {
    pub(super) port: u16,
    child: Child,
}

impl Pgbouncer {
    pub(super) fn start(cluster: &Cluster) -> Pgbouncer {
        assert!(
            Path::new(PGBOUNCER).is_file(),
            "{PGBOUNCER} is missing: the pooler test needs the Debian package pgbouncer \
             (scripts/test.sh installs it)"
        );
        let dir = cluster.dir();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\npostgres = host=127.0.0.1 port={0} dbname=postgres user=postgres\n\
                 daemon = host=127.0.0.1 port={0} dbname=postgres user=buhbot_daemon\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = any\npool_mode = transaction\ndefault_pool_size = 2\n\
                 max_client_conn = 20\nlogfile = {1}\n",
                cluster.port,
                dir.join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        // pgbouncer refuses to run as root: run it as postgres directly
        // (not through runuser), so that the child we kill is pgbouncer.
        let mut cmd = Command::new(PGBOUNCER);
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::process::CommandExt;
            let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
            assert!(!pw.is_null(), "no user postgres (package postgresql-15)");
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.arg(&ini).spawn().expect("pgbouncer starts");
        // Ready once it accepts connections (bounded wait, no timing asserted).
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Pgbouncer { port, child };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "pgbouncer did not listen: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_and_pooled_statements_work_through_a_transaction_pooler() {
    let cluster = Cluster::start(Options::default());
    let bouncer = Pgbouncer::start(&cluster);
    let mut s = settings(bouncer.port);
    s.pool_size = 4;
    let connector = Connector::new(&s).unwrap();
    let login = Login::daemon(connector.settings());

    let mut client = connector.connect(&login).await.unwrap();
    let report = migrate(&mut client, &connector, MIGRATIONS, true)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), MIGRATIONS.len());

    // More pooled clients than pgbouncer has server connections, each
    // running parameterised statements in transactions.
    let pool = connector.pool().unwrap();
    let tasks: Vec<_> = (0..4i64)
        .map(|n| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                for i in 0..20i64 {
                    let id = n * 1000 + i;
                    let tx = conn.transaction().await.unwrap();
                    tx.query_typed(
                        "INSERT INTO public.chats (id) VALUES ($1)",
                        &[(&id, Type::INT8)],
                    )
                    .await
                    .unwrap();
                    let row = tx
                        .query_typed(
                            "SELECT count(*) FROM public.chats WHERE id = $1",
                            &[(&id, Type::INT8)],
                        )
                        .await
                        .unwrap();
                    assert_eq!(row[0].get::<_, i64>(0), 1);
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let admin = cluster.admin().await;
    let n = admin
        .query_one("SELECT count(*) FROM public.chats", &[])
        .await
        .unwrap();
    assert_eq!(n.get::<_, i64>(0), 80);
}
