//! A real SMTP server for the e-mail tests: Debian's aiosmtpd storing every
//! message in a Maildir. Missing aiosmtpd is a test failure, not a skip, so
//! CI cannot go green without exercising SMTP.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's interpreter: the first `python3` on PATH may be another one
/// that cannot import Debian's python3-aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// A port nothing listens on right now (the OS picked it as free).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// A running aiosmtpd; killed when dropped, even if the test panics.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_on(port: u16) -> SmtpServer {
        SmtpServer::spawn(port, true)
    }

    /// A server that answers every message with `500`: its Maildir lacks
    /// the subdirectories (Python's Maildir creates them only for a
    /// directory it makes itself), so storing fails.
    pub fn start_rejecting() -> SmtpServer {
        SmtpServer::spawn(free_port(), false)
    }

    fn spawn(port: u16, working_maildir: bool) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        std::fs::create_dir(&maildir).unwrap();
        if working_maildir {
            for sub in ["tmp", "new", "cur"] {
                std::fs::create_dir(maildir.join(sub)).unwrap();
            }
        }
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {PYTHON} -m aiosmtpd: {e} (install python3-aiosmtpd)")
            });
        let mut server = SmtpServer { child, port, dir };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{PYTHON} -m aiosmtpd exited with {status} (is python3-aiosmtpd installed?):\n{}",
                    self.log()
                );
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within {STARTUP_LIMIT:?}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn new_dir(&self) -> PathBuf {
        self.dir.path().join("mail").join("new")
    }

    /// Raw messages delivered so far, waiting up to `limit` for `count` of
    /// them: the server writes the file after answering the client.
    pub fn wait_messages(&self, count: usize, limit: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + limit;
        loop {
            let files = read_files(&self.new_dir());
            if files.len() >= count || Instant::now() >= deadline {
                return files;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
