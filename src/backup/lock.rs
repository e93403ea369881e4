//! The daemon's single-instance lock on its database.
//!
//! An advisory `flock` on `<db>.lock` rather than on the database itself:
//! SQLite uses POSIX locks on the database file and closing any descriptor of
//! that file would drop them, so we keep our own file. `flock` is released by
//! the kernel when the process dies, so a crashed daemon never leaves a stale
//! lock behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is locked by another process (is the buhbot daemon running?)", path.display())]
    Held { path: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An exclusive lock on a database, held until dropped.
#[derive(Debug)]
pub struct DbLock {
    // Closing the descriptor (on drop) releases the flock.
    _file: File,
    path: PathBuf,
}

impl DbLock {
    /// Takes the lock on `<db_path>.lock` without waiting; creates the file
    /// (mode 0600) if needed. Fails with [`LockError::Held`] when another
    /// process, or another `DbLock` in this process, holds it.
    pub fn acquire(db_path: &Path) -> Result<DbLock, LockError> {
        let path = lock_path(db_path);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err)?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            return Err(if err.kind() == io::ErrorKind::WouldBlock {
                LockError::Held { path }
            } else {
                io_err(err)
            });
        }
        Ok(DbLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<db_path>.lock`.
pub fn lock_path(db_path: &Path) -> PathBuf {
    let mut s = db_path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_until_first_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let first = DbLock::acquire(&db).unwrap();
        assert!(matches!(DbLock::acquire(&db), Err(LockError::Held { .. })));
        drop(first);
        let again = DbLock::acquire(&db).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(again.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
