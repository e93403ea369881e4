//! Talking to systemd (`Type=notify`, `WatchdogSec=`): READY/STATUS/STOPPING
//! and the watchdog.
//!
//! The datagrams are sent with std's `UnixDatagram` rather than
//! `sd_notify::notify`, which only reads `$NOTIFY_SOCKET`: tests can then aim
//! a [`Notifier`] at their own socket without touching the process
//! environment, and abstract sockets (`@name`) work too. sd-notify still
//! provides the message vocabulary ([`NotifyState`]) and
//! `sd_notify::watchdog_enabled` (`$WATCHDOG_USEC`/`$WATCHDOG_PID`).
//!
//! The watchdog is progress-gated: see [`run_watchdog`].

mod watchdog;

use std::ffi::OsStr;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

pub use watchdog::{Heartbeat, HeartbeatRegistry, WatchdogWorker, run_watchdog};

/// Why a notification did not reach the service manager.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("creating the notification socket: {0}")]
    Socket(#[source] io::Error),
    #[error("sending {message:?} to the service manager: {source}")]
    Send {
        message: String,
        #[source]
        source: io::Error,
    },
    #[error("the service manager took {sent} of {len} bytes of {message:?}")]
    Truncated {
        message: String,
        sent: usize,
        len: usize,
    },
}

/// A handle on the service manager's notification socket. Cheap to clone;
/// when not run under systemd (no `$NOTIFY_SOCKET`) every call is a no-op.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    sink: Option<Arc<Sink>>,
    watchdog: Option<Duration>,
}

#[derive(Debug)]
struct Sink {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier::default()
    }

    /// Reads `$NOTIFY_SOCKET` and, through `sd_notify::watchdog_enabled`,
    /// `$WATCHDOG_USEC`/`$WATCHDOG_PID`. The variables are left in place (a
    /// reload path or a test may read them again). Problems are logged and
    /// give a disabled notifier: a daemon that cannot notify still works, and
    /// systemd will say so when READY never arrives.
    pub fn from_env() -> Notifier {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier::disabled();
        };
        let watchdog = sd_notify::watchdog_enabled();
        match parse_notify_socket(&value).and_then(Sink::new) {
            Ok(sink) => Notifier {
                sink: Some(Arc::new(sink)),
                watchdog,
            },
            Err(e) => {
                tracing::warn!(socket = ?value, "not notifying systemd: {e}");
                Notifier::disabled()
            }
        }
    }

    /// A notifier sending to the socket at `path`, with the given watchdog
    /// timeout (systemd's `WATCHDOG_USEC`, not the ping interval).
    pub fn with_socket(
        path: impl AsRef<Path>,
        watchdog_timeout: Option<Duration>,
    ) -> Result<Notifier, NotifyError> {
        let addr = SocketAddr::from_pathname(path).map_err(NotifyError::Socket)?;
        Ok(Notifier {
            sink: Some(Arc::new(Sink::new(addr).map_err(NotifyError::Socket)?)),
            watchdog: watchdog_timeout,
        })
    }

    /// Whether notifications go anywhere.
    pub fn is_enabled(&self) -> bool {
        self.sink.is_some()
    }

    /// How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3)
    /// recommends. `None` when there is no watchdog (or nobody to ping).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.sink.as_ref()?;
        self.watchdog.filter(|t| !t.is_zero()).map(|t| t / 2)
    }

    /// Startup finished: `READY=1` plus a status line for `systemctl status`.
    pub fn ready(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Ready, NotifyState::Status(&one_line(status))])
    }

    /// Free-form status line for `systemctl status`.
    pub fn status(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Status(&one_line(status))])
    }

    /// Shutdown began.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Stopping])
    }

    /// A configuration reload began; follow with [`Notifier::reloaded`].
    /// `MONOTONIC_USEC` is required by `Type=notify-reload` (systemd ≥ 253)
    /// and ignored by older managers, so it is always sent.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        let now = NotifyState::monotonic_usec_now().map_err(NotifyError::Socket)?;
        self.send(&[NotifyState::Reloading, now])
    }

    /// The reload finished (`READY=1` again).
    pub fn reloaded(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Ready])
    }

    /// `WATCHDOG=1`. Usually sent by [`run_watchdog`], not directly.
    pub fn watchdog_ping(&self) -> Result<(), NotifyError> {
        self.send(&[NotifyState::Watchdog])
    }

    fn send(&self, states: &[NotifyState<'_>]) -> Result<(), NotifyError> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        let message = states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        match sink.socket.send_to_addr(message.as_bytes(), &sink.addr) {
            Ok(sent) if sent == message.len() => Ok(()),
            Ok(sent) => Err(NotifyError::Truncated {
                len: message.len(),
                message,
                sent,
            }),
            Err(source) => Err(NotifyError::Send { message, source }),
        }
    }
}

impl Sink {
    fn new(addr: SocketAddr) -> io::Result<Sink> {
        let socket = UnixDatagram::unbound()?;
        // Never block a runtime thread on the manager: if its queue is full
        // the send fails (and is logged) instead.
        socket.set_nonblocking(true)?;
        Ok(Sink { socket, addr })
    }
}

/// `$NOTIFY_SOCKET` is a filesystem path or `@name` for an abstract socket
/// (sd_notify(3)); `vsock:` addresses are not supported.
fn parse_notify_socket(value: &OsStr) -> io::Result<SocketAddr> {
    let bytes = value.as_encoded_bytes();
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(Path::new(value)),
        Some(b'@') => abstract_addr(&bytes[1..]),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "only filesystem and abstract unix sockets are supported",
        )),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

/// The protocol is newline-separated `KEY=VALUE`; a newline in a status would
/// start a new (bogus) assignment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests;
