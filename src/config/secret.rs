//! Secrets (SMTP password, bot token) and where they are read from. The
//! value never reaches Debug/Display output, so settings can be logged whole.

use std::fmt;
use std::path::{Path, PathBuf};

/// A string that prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; call only where it is handed to the protocol.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reading a secret failed. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret file {path} is empty")]
    Empty { path: PathBuf },
    #[error("credential name {name:?} must be a plain file name")]
    BadName { name: String },
}

/// Reads a secret file, dropping one trailing newline (editors and
/// `echo` add it; it is never part of a password).
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    // read_to_string's io::Error for invalid UTF-8 does not quote the bytes.
    let mut value = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        return Err(SecretError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret(value))
}

/// Looks a credential up the way a systemd service should: first
/// `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`; empty = not set),
/// then the explicitly configured file, else `None`.
pub fn credential(name: &str, explicit_file: Option<&Path>) -> Result<Option<Secret>, SecretError> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    credential_in(dir.as_deref(), name, explicit_file)
}

/// [`credential`] with the credentials directory passed in, so tests need
/// not touch the process environment (shared by parallel test threads).
pub fn credential_in(
    credentials_dir: Option<&Path>,
    name: &str,
    explicit_file: Option<&Path>,
) -> Result<Option<Secret>, SecretError> {
    // A name with separators could escape the credentials directory.
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(SecretError::BadName {
            name: name.to_string(),
        });
    }
    if let Some(dir) = credentials_dir {
        let path = dir.join(name);
        if path.is_file() {
            // The package installs empty placeholders for optional secrets,
            // because systemd 252 cannot load a credential that is absent:
            // an empty credential means "not set", and the explicit file
            // (if any) is consulted instead.
            match read_secret_file(&path) {
                Ok(secret) => return Ok(Some(secret)),
                Err(SecretError::Empty { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    explicit_file.map(read_secret_file).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn an_empty_systemd_credential_means_not_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("smtp_password"), "").unwrap();
        assert!(
            credential_in(Some(dir.path()), "smtp_password", None)
                .unwrap()
                .is_none()
        );
        let explicit = dir.path().join("pw");
        std::fs::write(&explicit, "s3cret\n").unwrap();
        let got = credential_in(Some(dir.path()), "smtp_password", Some(&explicit)).unwrap();
        assert_eq!(got.unwrap().expose(), "s3cret");
    }

    #[test]
    fn trims_exactly_one_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pa ss\n\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose(), "pa ss\n");
        std::fs::write(&path, "x\r\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap().expose(), "x");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            read_secret_file(&path),
            Err(SecretError::Empty { .. })
        ));
    }
}
