//! A throwaway PostgreSQL 15 cluster per test: initdb into a temp dir,
//! a free port on 127.0.0.1, fsync off, stopped on drop (also when the
//! test panics). Never the machine's own cluster or port 5432.
//!
//! Per test rather than one per binary: a cluster starts in about a
//! second, and tests that change roles, TLS or authentication cannot
//! disturb each other.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser's password when a cluster requires passwords.
pub const ADMIN_PASSWORD: &str = "adm1n-S3cret-pw";

/// A test CA and a server certificate it signed (for localhost and
/// 127.0.0.1), in PEM.
pub struct TestCa {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl TestCa {
    pub fn generate(common_name: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).unwrap();
        TestCa {
            ca_pem: ca_cert.pem(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        }
    }
}

#[derive(Default)]
pub struct Options<'a> {
    /// Serve TLS with this CA's server certificate (ssl=on).
    pub tls: Option<&'a TestCa>,
    /// TCP logins need a password (scram-sha-256); the superuser
    /// `postgres` gets [`ADMIN_PASSWORD`]. Otherwise trust.
    pub passwords: bool,
}

pub struct Cluster {
    pub port: u16,
    dir: tempfile::TempDir,
    data: PathBuf,
    /// pg_ctl's -o for this server (its port included), for a restart.
    server_opts: String,
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root
/// (initdb and the server refuse to run as root).
fn pg_tool(tool: &str, args: &[&OsStr]) -> Command {
    let path = Path::new(BIN).join(tool);
    assert!(
        path.is_file(),
        "{} is missing: the PostgreSQL tests need the Debian package postgresql-15 \
         (scripts/test.sh installs it)",
        path.display()
    );
    if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path).args(args);
        cmd
    } else {
        let mut cmd = Command::new(path);
        cmd.args(args);
        cmd
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Hands `path` to the postgres user (when we are root).
fn give_to_postgres(path: &Path) {
    if unsafe { libc::geteuid() } == 0 {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(path);
                c
            },
            "chown",
        );
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Cluster {
    pub fn start(opts: Options<'_>) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("buhbot-pg-")
            .tempdir()
            .unwrap();
        give_to_postgres(dir.path());
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, ADMIN_PASSWORD).unwrap();
        give_to_postgres(&pwfile);
        let mut args: Vec<&OsStr> = vec![
            "-D".as_ref(),
            data.as_os_str(),
            "-U".as_ref(),
            "postgres".as_ref(),
            "--no-sync".as_ref(),
            "--auth-local=trust".as_ref(),
        ];
        let pwarg = format!("--pwfile={}", pwfile.display());
        if opts.passwords {
            args.push("--auth-host=scram-sha-256".as_ref());
            args.push(pwarg.as_ref());
        } else {
            args.push("--auth-host=trust".as_ref());
        }
        run(pg_tool("initdb", &args), "initdb");

        let mut server_opts = format!(
            "-c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            dir.path().display()
        );
        if let Some(ca) = opts.tls {
            let (crt, key) = (data.join("server.crt"), data.join("server.key"));
            std::fs::write(&crt, &ca.server_cert_pem).unwrap();
            std::fs::write(&key, &ca.server_key_pem).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            give_to_postgres(&crt);
            give_to_postgres(&key);
            server_opts.push_str(" -c ssl=on");
        }
        let log = dir.path().join("log");
        // A port another test grabbed between free_port and the bind:
        // try again on another one.
        for attempt in 0.. {
            let port = free_port();
            let o = format!("-p {port} {server_opts}");
            let out = pg_tool(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-o".as_ref(),
                    o.as_ref(),
                    "start".as_ref(),
                ],
            )
            .output()
            .expect("pg_ctl start");
            if out.status.success() {
                return Cluster {
                    port,
                    dir,
                    data,
                    server_opts: o,
                };
            }
            assert!(
                attempt < 3,
                "pg_ctl start failed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        unreachable!()
    }

    /// A superuser connection without TLS over the Unix socket (trust),
    /// to inspect or prepare the database.
    pub async fn admin(&self) -> tokio_postgres::Client {
        let mut c = tokio_postgres::Config::new();
        c.host_path(self.dir.path())
            .port(self.port)
            .user("postgres")
            .dbname("postgres");
        let (client, conn) = c.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    /// Stops the server (fast: open connections are cut), as an outage.
    pub fn stop(&self) {
        run(
            pg_tool(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    self.data.as_os_str(),
                    "-m".as_ref(),
                    "fast".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            ),
            "pg_ctl stop",
        );
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&self) {
        let log = self.dir.path().join("log");
        run(
            pg_tool(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    self.data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-o".as_ref(),
                    self.server_opts.as_ref(),
                    "start".as_ref(),
                ],
            ),
            "pg_ctl start",
        );
    }

    /// The temp dir (for config files, CA files, password files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_tool(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
        .output();
    }
}
