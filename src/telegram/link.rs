//! The live connection as the rest of the daemon sees it: the current
//! grammers [`Client`] (rebuilt on every reconnect, so nobody may keep one)
//! and the connection state that drives `READY=1`, `STATUS=` and the
//! `buhbot_telegram_connected` gauge.

use std::sync::RwLock;

use chrono::{DateTime, Utc};
use grammers_client::Client;
use tokio::sync::watch;

use crate::metrics::catalogue as m;

/// Who the bot is, as Telegram told us at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub id: i64,
    /// Without the `@`.
    pub username: Option<String>,
    /// As set in @BotFather.
    pub name: String,
    /// Privacy mode on: in groups the bot sees only commands and replies
    /// to it, unless it is an administrator there.
    pub privacy_mode: bool,
}

/// Connected or not, and since when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    pub connected: bool,
    /// When the current state began; `None` before the first attempt.
    pub since: Option<DateTime<Utc>>,
    /// Whether a connection ever succeeded in this process.
    pub ever_connected: bool,
    pub me: Option<Me>,
}

/// Shared by the update loop (which owns the connection), the outbound
/// transport and the status line.
pub struct Link {
    client: RwLock<Option<Client>>,
    state: watch::Sender<LinkState>,
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

impl Link {
    pub fn new() -> Link {
        ::metrics::gauge!(m::TELEGRAM_CONNECTED).set(0.0);
        Link {
            client: RwLock::new(None),
            state: watch::channel(LinkState::default()).0,
        }
    }

    /// The client of the current connection, if connected.
    pub fn client(&self) -> Option<Client> {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<LinkState> {
        self.state.subscribe()
    }

    /// A connection succeeded; `client` is `None` in offline tests.
    pub fn connected(&self, client: Option<Client>, me: Me, now: DateTime<Utc>) {
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = client;
        ::metrics::gauge!(m::TELEGRAM_CONNECTED).set(1.0);
        self.state.send_modify(|s| {
            s.connected = true;
            s.since = Some(now);
            s.ever_connected = true;
            s.me = Some(me);
        });
    }

    /// The connection was lost (or the attempt failed). Keeps the first
    /// moment of an outage: repeated failures do not reset "since".
    pub fn disconnected(&self, now: DateTime<Utc>) {
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = None;
        ::metrics::gauge!(m::TELEGRAM_CONNECTED).set(0.0);
        self.state.send_if_modified(|s| {
            if s.connected || s.since.is_none() {
                s.connected = false;
                s.since = Some(now);
                true
            } else {
                false
            }
        });
    }

    /// For `STATUS=`: empty when connected.
    pub fn status(&self) -> String {
        let s = self.state();
        match (s.connected, s.since) {
            (true, _) => String::new(),
            (false, None) => "connecting to Telegram".to_string(),
            (false, Some(t)) => format!(
                "Telegram DISCONNECTED since {}",
                t.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_keeps_its_first_moment() {
        let link = Link::new();
        assert_eq!(link.status(), "connecting to Telegram");
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        link.disconnected(t0);
        link.disconnected(t0 + chrono::Duration::seconds(60));
        assert_eq!(link.state().since, Some(t0));
        assert!(link.status().contains("2023-11-14 22:13:20 UTC"));
        let me = Me {
            id: 42,
            username: Some("buh_bot".into()),
            name: "Бухбот".into(),
            privacy_mode: false,
        };
        link.connected(None, me.clone(), t0 + chrono::Duration::seconds(90));
        assert!(link.state().connected && link.state().ever_connected);
        assert_eq!(link.status(), "");
        let t1 = t0 + chrono::Duration::seconds(120);
        link.disconnected(t1);
        assert_eq!(link.state().since, Some(t1));
        assert_eq!(link.state().me, Some(me));
    }
}
