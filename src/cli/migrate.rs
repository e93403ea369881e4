//! `buhbot migrate`: the SQLite store's migrations, or with `--postgres`
//! the Postgres schema's (as its owner; the daemon's role cannot run DDL).

use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Config, ConfigError, Problem, read_secret_file};
use crate::sync::migrate::{MIGRATIONS, migrate, seed_admin, set_role_password};
use crate::sync::pg::{Connector, Login};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Migrate the Postgres database of [postgres] instead of the SQLite
    /// store (connects as --admin-user: migrations need the schema's owner)
    #[arg(long)]
    pub postgres: bool,
    /// First create Supabase's roles (anon, authenticated, service_role) and
    /// an auth schema; only for a server that is not Supabase
    #[arg(long, requires = "postgres")]
    pub supabase_stub: bool,
    /// The role that owns the schema and runs the migrations
    #[arg(
        long,
        value_name = "NAME",
        default_value = "postgres",
        requires = "postgres"
    )]
    pub admin_user: String,
    /// A file holding --admin-user's password [default: none, for trust or
    /// peer authentication]
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub admin_password_file: Option<PathBuf>,
    /// Afterwards set the password of the daemon's role ([postgres] user)
    /// to the one the daemon reads (credential postgres_password or
    /// [postgres] password_file)
    #[arg(long, requires = "postgres")]
    pub set_daemon_password: bool,
    /// Make the user with this e-mail an admin of the admin panel (added
    /// if absent; a Supabase auth user with that e-mail keeps its id)
    #[arg(long, value_name = "EMAIL", requires = "postgres")]
    pub seed_admin: Option<String>,
}

pub fn run(config: &Config, args: &MigrateArgs) -> anyhow::Result<()> {
    if args.postgres {
        return postgres(config, args);
    }
    let (_, report) = crate::store::Store::open_migrated(&config.store.path)?;
    println!(
        "{}: schema version {} (was {}; applied {})",
        config.store.path.display(),
        report.to,
        report.from,
        report.applied.len()
    );
    Ok(())
}

fn postgres(config: &Config, args: &MigrateArgs) -> anyhow::Result<()> {
    let origin = config.file.as_ref().map(|f| f.display().to_string());
    let settings = config.postgres.as_ref().ok_or_else(|| {
        ConfigError::Invalid(vec![Problem {
            key: "postgres".into(),
            origin: origin.clone(),
            message: "missing: --postgres needs a [postgres] section".into(),
        }])
    })?;
    if args.set_daemon_password && settings.password.is_none() {
        return Err(ConfigError::Invalid(vec![Problem {
            key: "postgres.password_file".into(),
            origin,
            message: "--set-daemon-password: no password for the daemon: put it in the systemd \
                      credential `postgres_password` or name a file here"
                .into(),
        }])
        .into());
    }
    let admin_password = args
        .admin_password_file
        .as_deref()
        .map(read_secret_file)
        .transpose()?;
    let login = Login {
        user: args.admin_user.clone(),
        password: admin_password,
    };
    let connector = Connector::new(settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut client = connector.connect(&login).await?;
        let report = migrate(&mut client, &connector, MIGRATIONS, args.supabase_stub).await?;
        if report.stub_applied {
            println!("applied supabase-stub.sql");
        }
        for (_, file) in &report.applied {
            println!("applied {file}");
        }
        println!(
            "{}:{}/{}: schema version {} (applied {})",
            settings.host,
            settings.port,
            settings.dbname,
            report.version,
            report.applied.len()
        );
        if args.set_daemon_password
            && let Some(password) = &settings.password
        {
            set_role_password(&client, &connector, &settings.user, password).await?;
            println!("set the password of role {}", settings.user);
        }
        if let Some(email) = &args.seed_admin {
            let id = seed_admin(&client, &connector, email).await?;
            println!("admin {email}: user {id}");
        }
        anyhow::Ok(())
    })
}
