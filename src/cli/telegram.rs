//! `buhbot telegram check`: the sysadmin's first test after installing.
//! Connects with the configured credentials and the session stored in the
//! database, prints who the bot is and which chats it knows, disconnects.
//!
//! Safe while the daemon runs: the session is the daemon's own (same
//! auth key; MTProto allows several connections per key, each with its own
//! session id), every session write is a small write-through transaction,
//! and the update state is never saved here, so the daemon's position in
//! the update stream is untouched.
//!
//! Exit codes (sysexits): 78 a credential is missing (configuration), 69
//! Telegram cannot be reached in time, 77 Telegram refused the token or
//! the api_id/api_hash, 1 anything else.

use std::time::Duration;

use clap::{Args, Subcommand};
use grammers_client::InvocationError;

use crate::config::Config;
use crate::store::{Store, chats};
use crate::telegram::client::{TelegramError, connect};
use crate::telegram::link::Me;
use crate::telegram::session::{cached_peer_count, cached_peer_ref};

/// EX_UNAVAILABLE: Telegram could not be reached (network, timeout, 5xx).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// EX_NOPERM: Telegram refused the bot token or the api_id/api_hash.
pub const EXIT_NOPERM: u8 = 77;

#[derive(Debug, Args)]
pub struct TelegramArgs {
    #[command(subcommand)]
    pub cmd: TelegramCmd,
}

#[derive(Debug, Subcommand)]
pub enum TelegramCmd {
    /// Connect with the configured credentials, print the bot's identity
    /// and the chats it knows, and disconnect (exit 69: Telegram
    /// unreachable, 77: credentials refused, 78: credentials missing)
    Check {
        /// Give up after this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
}

/// Why the check failed, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot reach Telegram within {seconds} s: {reason}")]
    Unreachable { seconds: u64, reason: String },
    #[error("Telegram refused the {what}: {reason}")]
    Refused { what: &'static str, reason: String },
    #[error("telegram check failed: {0}")]
    Other(String),
}

impl CheckError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Unreachable { .. } => EXIT_UNAVAILABLE,
            CheckError::Refused { .. } => EXIT_NOPERM,
            CheckError::Other(_) => 1,
        }
    }

    /// Sorts a failed connect or sign-in. RPC errors name no secret (the
    /// token is never echoed), so their text is safe to print.
    fn classify(e: &TelegramError, seconds: u64) -> CheckError {
        let unreachable = |reason: String| CheckError::Unreachable { seconds, reason };
        match e {
            TelegramError::Invocation(InvocationError::Rpc(rpc)) => {
                let name = rpc.name.as_str();
                if rpc.code == 420 || rpc.code >= 500 || rpc.code < 0 {
                    unreachable(rpc.to_string())
                } else if name.starts_with("API_ID") || name.starts_with("API_HASH") {
                    CheckError::Refused {
                        what: "api_id/api_hash",
                        reason: name.to_string(),
                    }
                } else if matches!(rpc.code, 400 | 401) || name.starts_with("ACCESS_TOKEN") {
                    CheckError::Refused {
                        what: "bot token",
                        reason: name.to_string(),
                    }
                } else {
                    CheckError::Other(rpc.to_string())
                }
            }
            TelegramError::Invocation(InvocationError::Session(s)) => {
                CheckError::Other(format!("session: {s}"))
            }
            TelegramError::Invocation(other) => unreachable(other.to_string()),
            TelegramError::Updates(reason) => unreachable(reason.clone()),
            other => CheckError::Other(other.to_string()),
        }
    }
}

pub fn run(config: &Config, args: &TelegramArgs) -> anyhow::Result<()> {
    match &args.cmd {
        TelegramCmd::Check { timeout } => check(config, *timeout),
    }
}

fn check(config: &Config, seconds: u64) -> anyhow::Result<()> {
    // Missing credentials are configuration errors (exit 78).
    let creds = config.telegram_credentials()?;
    let store = super::shell::open_store(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let me = runtime.block_on(async {
        let attempt = async {
            // `connect` asked Telegram who the bot is (get_me).
            let conn = connect(store.clone(), &creds)
                .await
                .map_err(|e| CheckError::classify(&e, seconds))?;
            let me = conn.me.clone();
            conn.close();
            Ok::<_, CheckError>(me)
        };
        match tokio::time::timeout(Duration::from_secs(seconds), attempt).await {
            Ok(r) => r,
            Err(_) => Err(CheckError::Unreachable {
                seconds,
                reason: "no answer (is outgoing TCP to Telegram's data centers allowed?)".into(),
            }),
        }
    });
    // Stop grammers' I/O tasks before printing; nothing may outlive this.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let me = me?;
    report(&store, &me)
}

fn report(store: &Store, me: &Me) -> anyhow::Result<()> {
    println!(
        "Telegram: OK, signed in as {} (id {}, name {:?})",
        me.username
            .as_deref()
            .map_or_else(|| "a bot without username".to_string(), |u| format!("@{u}")),
        me.id,
        me.name
    );
    if me.privacy_mode {
        println!(
            "privacy mode: ON: in groups the bot sees only commands and replies to it, \
             so it cannot track requests; turn it off in @BotFather (/setprivacy → Disable) \
             or make the bot an administrator of each client chat"
        );
    } else {
        println!("privacy mode: off (the bot sees every message of its groups)");
    }
    let conn = store.conn()?;
    let peers = cached_peer_count(&conn)?;
    println!("session: {peers} peer(s) cached (users, groups and channels the bot has seen)");
    let rows = chats::list(&conn)?;
    if rows.is_empty() {
        println!("chats: none registered yet (add the bot to a client chat)");
        return Ok(());
    }
    println!("chats: {} registered", rows.len());
    println!("{:<16} {:<5} {:<5} {:<6} TITLE", "ID", "MON", "SLA", "PEER");
    let on = |b: bool| if b { "on" } else { "off" };
    for row in rows {
        // Whether the bot can send there: the session knows its access
        // hash (basic groups need none).
        let peer = cached_peer_ref(&conn, row.id)?.is_some();
        let title = match row.migrated_to {
            Some(new) => format!("{} (upgraded to {new})", row.title),
            None => row.title.clone(),
        };
        println!(
            "{:<16} {:<5} {:<5} {:<6} {}",
            row.id,
            on(row.monitored),
            on(row.sla_enabled),
            if peer { "yes" } else { "no" },
            title
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use grammers_client::sender::RpcError;

    use super::*;

    fn rpc(code: i32, name: &str) -> TelegramError {
        TelegramError::Invocation(InvocationError::Rpc(RpcError {
            code,
            name: name.into(),
            value: None,
            caused_by: None,
        }))
    }

    #[test]
    fn failures_are_sorted_by_what_the_sysadmin_must_fix() {
        let code = |e: TelegramError| CheckError::classify(&e, 30).exit_code();
        assert_eq!(code(rpc(401, "ACCESS_TOKEN_EXPIRED")), EXIT_NOPERM);
        assert_eq!(code(rpc(400, "ACCESS_TOKEN_INVALID")), EXIT_NOPERM);
        assert_eq!(code(rpc(400, "API_ID_INVALID")), EXIT_NOPERM);
        assert_eq!(code(rpc(500, "INTERNAL")), EXIT_UNAVAILABLE);
        assert_eq!(code(rpc(420, "FLOOD_WAIT")), EXIT_UNAVAILABLE);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = CheckError::classify(&TelegramError::Invocation(InvocationError::Io(io)), 30);
        assert_eq!(e.exit_code(), EXIT_UNAVAILABLE);
        assert!(
            e.to_string()
                .starts_with("cannot reach Telegram within 30 s: "),
            "{e}"
        );
        let e = CheckError::classify(&rpc(400, "API_ID_INVALID"), 30);
        assert_eq!(
            e.to_string(),
            "Telegram refused the api_id/api_hash: API_ID_INVALID"
        );
        let e = CheckError::classify(&rpc(401, "ACCESS_TOKEN_INVALID"), 30);
        assert_eq!(
            e.to_string(),
            "Telegram refused the bot token: ACCESS_TOKEN_INVALID"
        );
    }
}
