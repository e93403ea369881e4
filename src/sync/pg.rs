//! Connections to the firm's Postgres: rustls against the configured CA
//! file, a pool of at most [`MAX_POOL_SIZE`] connections, errors that say
//! which server and what failed (never the password).
//!
//! Statements and poolers: Supabase's pooler (Supavisor, port 6543) and
//! pgbouncer in `pool_mode = transaction` hand each transaction to any
//! server connection, so a named prepared statement made in one
//! transaction may not exist in the next. Code on these connections
//! therefore uses `query_typed` (one unnamed statement, parse+bind+execute
//! in one round trip), `simple_query`/`batch_execute`, or statements it
//! prepares inside the transaction that uses them — never
//! `prepare_cached` or a `Statement` kept across transactions.
//!
//! Pool: deadpool-postgres (async, no background task of its own, bounded
//! by `max_size`; `RecyclingMethod::Fast` only checks the socket, so a
//! recycled connection sends nothing a pooler could mind). Its statement
//! cache is never used, for the reason above.
//!
//! [`MAX_POOL_SIZE`]: crate::config::postgres::MAX_POOL_SIZE

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PostgresSettings, Secret, SslMode};

/// Something went wrong reaching or using Postgres. Every variant names
/// the server; none carries the password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot read the PostgreSQL CA file {path}: {source}")]
    CaRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("[postgres] sslmode {sslmode} needs ca_file")]
    NoCaFile { sslmode: &'static str },
    #[error("the PostgreSQL CA file {path} holds no PEM certificate")]
    CaEmpty { path: PathBuf },
    #[error("the PostgreSQL CA file {path}: certificate refused by rustls: {reason}")]
    CaInvalid { path: PathBuf, reason: String },
    #[error(
        "PostgreSQL {host}:{port}: the server's TLS certificate is not trusted: it does not chain \
         to the CA in {ca_file} or is not valid for {host} ({reason})"
    )]
    Untrusted {
        host: String,
        port: u16,
        ca_file: String,
        reason: String,
    },
    #[error("PostgreSQL {host}:{port}: no answer within {}s", timeout.as_secs())]
    Timeout {
        host: String,
        port: u16,
        timeout: Duration,
    },
    #[error("PostgreSQL {host}:{port} as {user}: connecting failed: {source}")]
    Connect {
        host: String,
        port: u16,
        user: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL {host}:{port}: {what}: {}", describe(source))]
    Query {
        host: String,
        port: u16,
        what: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL {host}:{port}: the connection pool: {reason}")]
    Pool {
        host: String,
        port: u16,
        reason: String,
    },
}

/// A server error's message with its detail and hint (tokio-postgres'
/// own Display says only "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" (detail: {d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!(" (hint: {h})"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// Who connects: the daemon's role from the settings, or another (the
/// schema owner for `buhbot migrate --postgres`).
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Option<Secret>,
}

impl Login {
    pub fn daemon(settings: &PostgresSettings) -> Login {
        Login {
            user: settings.user.clone(),
            password: settings.password.clone(),
        }
    }
}

/// What connecting needs, built once from the settings.
#[derive(Clone)]
pub struct Connector {
    settings: PostgresSettings,
    tls: Option<MakeRustlsConnect>,
}

impl Connector {
    /// Loads the CA file (TLS modes); connects to nothing yet.
    pub fn new(settings: &PostgresSettings) -> Result<Connector, PgError> {
        let tls = match (settings.sslmode, &settings.ca_file) {
            (SslMode::Disable, _) => None,
            (_, Some(ca)) => Some(MakeRustlsConnect::new(client_config(ca)?)),
            // Validation refuses this; settings built in code may not.
            (mode, None) => {
                return Err(PgError::NoCaFile {
                    sslmode: mode.as_str(),
                });
            }
        };
        Ok(Connector {
            settings: settings.clone(),
            tls,
        })
    }

    pub fn settings(&self) -> &PostgresSettings {
        &self.settings
    }

    fn pg_config(&self, login: &Login) -> tokio_postgres::Config {
        let s = &self.settings;
        let mut c = tokio_postgres::Config::new();
        c.host(&s.host)
            .port(s.port)
            .dbname(&s.dbname)
            .user(&login.user)
            .application_name("buhbot")
            .connect_timeout(s.connect_timeout)
            .ssl_mode(if self.tls.is_some() {
                tokio_postgres::config::SslMode::Require
            } else {
                tokio_postgres::config::SslMode::Disable
            });
        if let Some(p) = &login.password {
            c.password(p.expose());
        }
        c
    }

    /// Classifies a failed connect: an untrusted certificate gets its own
    /// error naming the CA file.
    pub fn connect_error(&self, user: &str, source: tokio_postgres::Error) -> PgError {
        let s = &self.settings;
        if let Some(reason) = certificate_problem(&source) {
            return PgError::Untrusted {
                host: s.host.clone(),
                port: s.port,
                ca_file: s
                    .ca_file
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                reason,
            };
        }
        PgError::Connect {
            host: s.host.clone(),
            port: s.port,
            user: user.to_string(),
            source,
        }
    }

    pub fn query_error(&self, what: impl Into<String>, source: tokio_postgres::Error) -> PgError {
        PgError::Query {
            host: self.settings.host.clone(),
            port: self.settings.port,
            what: what.into(),
            source,
        }
    }

    /// One connection outside the pool (migrations, checks). Its driver
    /// task runs on the current runtime and ends when the client drops.
    pub async fn connect(&self, login: &Login) -> Result<Client, PgError> {
        self.open(login, None).await
    }

    /// A session that listens on `channel`: every notification calls
    /// `wake`. Hold the client; it is closed (`is_closed`) once the
    /// connection is lost. Through a transaction-mode pooler notifications
    /// do not arrive (the session is not ours): the pull interval still
    /// holds there.
    pub async fn listen(
        &self,
        login: &Login,
        channel: &str,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Client, PgError> {
        let client = self.open(login, Some(wake)).await?;
        // The channel is ours (a constant), not user input.
        client
            .batch_execute(&format!("LISTEN {channel}"))
            .await
            .map_err(|e| self.query_error("listening for changes", e))?;
        Ok(client)
    }

    /// Connects, with notifications going to `wake` when given.
    async fn open(
        &self,
        login: &Login,
        wake: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Result<Client, PgError> {
        let config = self.pg_config(login);
        let timeout = self.settings.connect_timeout + Duration::from_secs(1);
        let connecting = async {
            match &self.tls {
                Some(tls) => {
                    let (client, conn) = config.connect(tls.clone()).await?;
                    spawn_driver(conn, wake);
                    Ok(client)
                }
                None => {
                    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
                    spawn_driver(conn, wake);
                    Ok(client)
                }
            }
        };
        // connect_timeout bounds each address; this bounds the TLS and
        // authentication exchange too.
        match tokio::time::timeout(timeout, connecting).await {
            Ok(result) => result.map_err(|e| self.connect_error(&login.user, e)),
            Err(_) => Err(PgError::Timeout {
                host: self.settings.host.clone(),
                port: self.settings.port,
                timeout,
            }),
        }
    }

    /// The daemon's pool: at most `pool_size` connections, opened lazily.
    pub fn pool(&self) -> Result<PgPool, PgError> {
        let config = self.pg_config(&Login::daemon(&self.settings));
        let mc = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &self.tls {
            Some(tls) => Manager::from_config(config, tls.clone(), mc),
            None => Manager::from_config(config, tokio_postgres::NoTls, mc),
        };
        let timeout = self.settings.connect_timeout + Duration::from_secs(1);
        let pool = Pool::builder(manager)
            .max_size(self.settings.pool_size as usize)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(timeout))
            .wait_timeout(Some(timeout))
            .build()
            .map_err(|e| PgError::Pool {
                host: self.settings.host.clone(),
                port: self.settings.port,
                reason: e.to_string(),
            })?;
        Ok(PgPool {
            pool,
            connector: Arc::new(self.clone()),
        })
    }
}

fn spawn_driver<S, T>(
    conn: tokio_postgres::Connection<S, T>,
    wake: Option<Arc<dyn Fn() + Send + Sync>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match wake {
        Some(wake) => tokio::spawn(drive_notifying(conn, wake)),
        None => tokio::spawn(drive(conn)),
    };
}

async fn drive<S, T>(conn: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "PostgreSQL connection closed");
    }
}

/// Drives a listening connection: each notification calls `wake`.
async fn drive_notifying<S, T>(
    mut conn: tokio_postgres::Connection<S, T>,
    wake: Arc<dyn Fn() + Send + Sync>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            None => break,
            Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => wake(),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(error = %e, "PostgreSQL listening connection closed");
                break;
            }
        }
    }
}

/// The daemon's connections to Postgres.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool,
    connector: Arc<Connector>,
}

impl PgPool {
    /// A connection from the pool (a new one if none is idle and fewer
    /// than `pool_size` exist; else waits for one).
    pub async fn get(&self) -> Result<deadpool_postgres::Object, PgError> {
        use deadpool_postgres::PoolError;
        let s = self.connector.settings();
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(source) => self.connector.connect_error(&s.user, source),
            PoolError::Timeout(_) => PgError::Timeout {
                host: s.host.clone(),
                port: s.port,
                timeout: s.connect_timeout + Duration::from_secs(1),
            },
            other => PgError::Pool {
                host: s.host.clone(),
                port: s.port,
                reason: other.to_string(),
            },
        })
    }

    pub fn max_size(&self) -> usize {
        self.pool.status().max_size
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

/// A rustls client configuration trusting exactly the certificates of
/// `ca_file` (not the system's roots: Supabase's CA is its own).
fn client_config(ca_file: &Path) -> Result<rustls::ClientConfig, PgError> {
    let pem = std::fs::read(ca_file).map_err(|source| PgError::CaRead {
        path: ca_file.to_path_buf(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| PgError::CaInvalid {
            path: ca_file.to_path_buf(),
            reason: e.to_string(),
        })?;
        roots.add(cert).map_err(|e| PgError::CaInvalid {
            path: ca_file.to_path_buf(),
            reason: e.to_string(),
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(PgError::CaEmpty {
            path: ca_file.to_path_buf(),
        });
    }
    // ring explicitly: the process may hold no default provider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::CaInvalid {
            path: ca_file.to_path_buf(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// rustls' verdict on the server's certificate, if that is why the
/// connect failed. The rustls error sits inside an `io::Error`, whose
/// `source()` skips it, so both are looked into.
fn certificate_problem(e: &tokio_postgres::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(cert)) = tls {
            return Some(format!("{cert:?}"));
        }
        next = err.source();
    }
    None
}
