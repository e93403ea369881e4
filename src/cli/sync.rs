//! `buhbot sync`: where the sync with Postgres stands (the push and the
//! pull), a push now (for scripts), and the dead letters.

use anyhow::Context;

use crate::config::{Config, ConfigError, PostgresSettings, Problem};
use crate::store::{Store, outbox, state};
use crate::sync::pg::{Connector, Login};
use crate::sync::pull;
use crate::sync::push::Pusher;
use crate::sync::standby;
use crate::sync::worker::daemon_id;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub command: SyncCmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum SyncCmd {
    /// Show this host's role (active or standby), the local queue, the last push and pull,
    /// Postgres' position and the dead letters
    Status {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Push everything queued now and exit (0 when the queue is empty)
    Once,
    /// Queue every local row for the push again and make the next pull read every row (after
    /// Postgres was restored from a dump or replaced by an empty database)
    Resync,
    /// List the changes Postgres refused for good; retry or drop one
    DeadLetters {
        /// Queue this dead letter again (the row as it is now)
        #[arg(long, value_name = "ID", conflicts_with = "drop")]
        retry: Option<i64>,
        /// Forget this dead letter
        #[arg(long, value_name = "ID")]
        drop: Option<i64>,
    },
}

fn settings(config: &Config) -> anyhow::Result<&PostgresSettings> {
    config.postgres.as_ref().ok_or_else(|| {
        ConfigError::Invalid(vec![Problem {
            key: "postgres".into(),
            origin: config.file.as_ref().map(|f| f.display().to_string()),
            message: "missing: the sync needs a [postgres] section".into(),
        }])
        .into()
    })
}

fn age(now: i64, at: Option<i64>) -> String {
    at.map_or_else(|| "never".into(), |t| format!("{}s ago", (now - t).max(0)))
}

pub fn run(config: &Config, args: &SyncArgs) -> anyhow::Result<()> {
    let (store, _) = Store::open_migrated(&config.store.path)?;
    let now = chrono::Utc::now().timestamp();
    match &args.command {
        SyncCmd::Status { json } => status(config, &store, now, *json),
        SyncCmd::Once => once(config, store, now),
        SyncCmd::Resync => resync(config, &store),
        SyncCmd::DeadLetters { retry, drop } => dead_letters(&store, *retry, *drop),
    }
}

/// The last successful pull: when (the pull cursor's `transport_state`
/// row is written by every successful pull, applied or not) and the row
/// version it reached (`None`: a cursor the next pull will not trust).
struct LastPull {
    at: i64,
    version: Option<i64>,
}

/// `None`: never pulled, or the cursor was reset (the next pull fetches
/// every row).
fn last_pull(conn: &rusqlite::Connection) -> anyhow::Result<Option<LastPull>> {
    let at = state::written_at(conn, state::PULL_CURSOR)?;
    let version = pull::cursor(conn)?.map(|c| c.version);
    Ok(at.map(|at| LastPull { at, version }))
}

fn status(config: &Config, store: &Store, now: i64, json: bool) -> anyhow::Result<()> {
    let stats = outbox::stats(&*store.conn()?)?;
    let pulled = last_pull(&*store.conn()?)?;
    // Postgres' side, when it answers: the position it has from us.
    let remote = match &config.postgres {
        None => Err("not configured".to_string()),
        Some(pg) => runtime()?.block_on(async {
            let id = daemon_id(store, now).map_err(|e| e.to_string())?;
            let pusher = pusher(pg, store.clone(), id, config).map_err(|e| e.to_string())?;
            pusher.position().await.map_err(|e| e.to_string())
        }),
    };
    let lag = stats.oldest_at.map_or(0, |t| (now - t).max(0));
    let role = role(config);
    if json {
        let v = serde_json::json!({
            "configured": config.postgres.is_some(),
            "queue": stats,
            "role": role.as_ref().map_or("active", |r| r.role),
            "standby": role.as_ref().map(|r| serde_json::json!({
                "lock": r.lock,
                "holder": r.holder,
                "error": r.error,
            })),
            "lag_rows": stats.depth,
            "lag_seconds": lag,
            "postgres": match &remote {
                Ok(pos) => serde_json::json!({"connected": true, "position": pos}),
                Err(e) => serde_json::json!({"connected": false, "error": e}),
            },
            // null: never pulled.
            "last_pull": pulled.as_ref().map(|p| serde_json::json!({
                "at": p.at,
                "age_seconds": (now - p.at).max(0),
                "version": p.version,
            })),
        });
        println!("{v:#}");
        return Ok(());
    }
    match &config.postgres {
        None => println!("sync: not configured (no [postgres] section): nothing is queued"),
        Some(pg) => println!("sync: {}", pg.target()),
    }
    match &role {
        None => println!("role: active (no standby configured)"),
        Some(r) => {
            let holder = match (&r.holder, &r.error) {
                (_, Some(e)) => format!("holder unknown: {e}"),
                (Some(h), None) => format!("held by {} (pid {})", h.application_name, h.pid),
                (None, None) => "held by nobody".to_string(),
            };
            println!("role: {} (lock {:?} {holder})", r.role, r.lock);
        }
    }
    match &remote {
        Ok(pos) => println!("postgres: connected, has this daemon's changes up to #{pos}"),
        Err(e) => println!("postgres: not reachable: {e}"),
    }
    match stats.oldest_at {
        None => println!("queue: empty"),
        Some(_) => println!(
            "queue: {} change(s) to push, oldest {} (lag {lag}s)",
            stats.depth,
            age(now, stats.oldest_at)
        ),
    }
    println!("last push: {}", age(now, stats.last_push_at));
    if let Some(e) = &stats.last_push_error {
        println!("last error: {e}");
    }
    match &pulled {
        None => println!("last pull: never"),
        Some(p) => match p.version {
            Some(v) => println!(
                "last pull: {}, has Postgres' edits up to #{v}",
                age(now, Some(p.at))
            ),
            None => println!(
                "last pull: {}, cursor unreadable (the next pull fetches every row)",
                age(now, Some(p.at))
            ),
        },
    }
    println!("dead letters: {}", stats.dead_letters);
    Ok(())
}

/// This host's part with `[postgres] standby = true` (`None`: no standby
/// configured, the daemon is always active): active when the lock's
/// holder is the daemon of this configuration's store, else standby.
struct Role {
    role: &'static str,
    lock: String,
    holder: Option<standby::Holder>,
    error: Option<String>,
}

fn role(config: &Config) -> Option<Role> {
    let pg = config.postgres.as_ref()?;
    let lock = pg.standby_lock.clone()?;
    let looked_up = runtime().map_err(|e| e.to_string()).and_then(|rt| {
        rt.block_on(async {
            let connector = Connector::new(pg).map_err(|e| e.to_string())?;
            let client = connector
                .connect(&Login::daemon(pg))
                .await
                .map_err(|e| e.to_string())?;
            standby::holder(&client, &connector, &lock)
                .await
                .map_err(|e| e.to_string())
        })
    });
    let me = standby::holder_label(&standby::host_name(), &config.store.path);
    let (holder, error) = match looked_up {
        Ok(h) => (h, None),
        Err(e) => (None, Some(e)),
    };
    let active = holder.as_ref().is_some_and(|h| h.application_name == me);
    Some(Role {
        role: if active { "active" } else { "standby" },
        lock,
        holder,
        error,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn pusher(
    pg: &PostgresSettings,
    store: Store,
    id: String,
    config: &Config,
) -> anyhow::Result<Pusher> {
    let pool = Connector::new(pg)?.pool()?;
    Ok(Pusher::new(pool, store, id, i64::from(config.sla.threshold_minutes)).with_staff_of(config))
}

fn once(config: &Config, store: Store, now: i64) -> anyhow::Result<()> {
    let pg = settings(config)?;
    if !outbox::enabled(&*store.conn()?)? {
        // The daemon turns recording on at start; a store it never ran on
        // with [postgres] gets a full backfill from here.
        outbox::set_enabled(&*store.conn()?, true)?;
    }
    let id = daemon_id(&store, now)?;
    let pusher = pusher(pg, store, id, config)?;
    let (entries, dead) = runtime()?.block_on(async {
        pusher.reconcile().await?;
        let (mut entries, mut dead) = (0, 0);
        loop {
            let p = pusher.push_once(now).await?;
            if p.entries == 0 {
                break;
            }
            entries += p.entries;
            dead += p.dead_letters;
        }
        anyhow::Ok((entries, dead))
    })?;
    println!(
        "pushed {entries} change(s) to {}; {dead} dead letter(s)",
        pg.target()
    );
    Ok(())
}

/// Safe while the daemon runs: it pushes the queue within
/// `push_interval_seconds`, its ids above what Postgres has.
fn resync(config: &Config, store: &Store) -> anyhow::Result<()> {
    let pg = settings(config)?;
    let mut conn = store.conn()?;
    let tx = crate::store::write_tx(&mut conn)?;
    let n = outbox::requeue_all(&tx)?;
    state::forget(&tx, state::PULL_CURSOR)?;
    tx.commit()?;
    println!(
        "queued {n} row(s) for the push to {}; the next pull reads every row",
        pg.target()
    );
    Ok(())
}

fn dead_letters(store: &Store, retry: Option<i64>, drop: Option<i64>) -> anyhow::Result<()> {
    let conn = store.conn()?;
    if let Some(id) = retry {
        anyhow::ensure!(
            outbox::retry_dead_letter(&conn, id)?,
            "no dead letter #{id}"
        );
        println!("dead letter #{id} queued again");
        return Ok(());
    }
    if let Some(id) = drop {
        anyhow::ensure!(outbox::drop_dead_letter(&conn, id)?, "no dead letter #{id}");
        println!("dead letter #{id} dropped");
        return Ok(());
    }
    let letters = outbox::dead_letters(&conn)?;
    if letters.is_empty() {
        println!("no dead letters");
    }
    for d in letters {
        let at = chrono::DateTime::from_timestamp(d.failed_at, 0).map_or_else(String::new, |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        });
        println!(
            "#{} {} {} {} ({} attempts, {at}): {}",
            d.id, d.op, d.entity, d.key, d.attempts, d.error
        );
    }
    Ok(())
}
