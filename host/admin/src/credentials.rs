//! Where a running host leaves what the CLI needs to reach it: the admin
//! token and the admin address, beside the host's other files (for
//! `wasmvisor run DIR`: in `DIR`).
//!
//! - `wasmvisor-admin.token`: a random token (256 bits, hex), created on
//!   the host's first start and kept across restarts; readable by its owner
//!   only. Every admin request must carry it as `Authorization: Bearer
//!   TOKEN`.
//! - `wasmvisor-admin.addr`: the address the endpoint listens on, written
//!   at every start (the port may be picked by the system).
//!
//! Anyone who can read the token file can act on the host (call, stop,
//! replay...): keep the directory's permissions in mind. The address file
//! is removed when the host stops, and the CLI sends a directory's token
//! only to the address recorded there (or one given explicitly), never to
//! the default port.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a host's token or address file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file exists but cannot be read (or is empty).
    #[error("{}: cannot read the admin token: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be written.
    #[error("{}: cannot write the admin {what}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// `token` or `address`.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The system has no randomness to make a token from.
    #[error("cannot generate an admin token: {0}")]
    Random(getrandom::Error),
}

/// The token file's name.
pub const TOKEN_FILE: &str = "wasmvisor-admin.token";
/// The address file's name.
pub const ADDR_FILE: &str = "wasmvisor-admin.addr";

/// The admin token in `dir`, created (owner-only) if there is none yet.
///
/// # Errors
///
/// [`CredentialsError`], naming the file, when it cannot be read or created.
pub fn load_or_create_token(dir: &Path) -> Result<String, CredentialsError> {
    let path = dir.join(TOKEN_FILE);
    match read_token(&path) {
        Ok(token) => return Ok(token),
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
            return Err(CredentialsError::Read { path, source });
        }
        Err(_) => {}
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(CredentialsError::Random)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, token.as_bytes()).map_err(|source| CredentialsError::Write {
        path,
        what: "token",
        source,
    })?;
    Ok(token)
}

/// Reads the token in `path` (surrounding whitespace removed).
fn read_token(path: &Path) -> std::io::Result<String> {
    let token = std::fs::read_to_string(path)?.trim().to_owned();
    if token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is empty; delete it and a new token is made at the next start",
        ));
    }
    Ok(token)
}

/// Records the endpoint's address in `dir`.
///
/// # Errors
///
/// [`CredentialsError::Write`], naming the file.
pub fn write_addr(dir: &Path, addr: std::net::SocketAddr) -> Result<(), CredentialsError> {
    let path = dir.join(ADDR_FILE);
    write_owner_only(&path, format!("{addr}\n").as_bytes()).map_err(|source| {
        CredentialsError::Write {
            path,
            what: "address",
            source,
        }
    })
}

/// Forgets the endpoint's address (the host is stopping).
pub fn remove_addr(dir: &Path) {
    // Already gone is fine.
    let _ = std::fs::remove_file(dir.join(ADDR_FILE));
}

/// What the CLI found in a host's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The address, if the host wrote one.
    pub addr: Option<String>,
    /// The token, if there is one.
    pub token: Option<String>,
}

/// Reads the address and token a host left in `dir` (either may be
/// missing: the host never ran there).
pub fn read_credentials(dir: &Path) -> Credentials {
    let addr = std::fs::read_to_string(dir.join(ADDR_FILE))
        .ok()
        .map(|addr| addr.trim().to_owned())
        .filter(|addr| !addr.is_empty());
    Credentials {
        addr,
        token: read_token(&dir.join(TOKEN_FILE)).ok(),
    }
}

/// Writes `contents` to `path`, made (or made again, if it exists)
/// readable and writable by its owner only: for a host's files that others
/// must not read (its address, state exports).
///
/// # Errors
///
/// The file cannot be written.
pub fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates `path` readable and writable by its owner only, with `contents`.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_private_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_token(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_token(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(load_or_create_token(other.path()).unwrap(), first);
        // Over an older address file that others could read.
        std::fs::write(dir.path().join(ADDR_FILE), "old\n").unwrap();
        write_addr(dir.path(), "127.0.0.1:4000".parse().unwrap()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ADDR_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            read_credentials(dir.path()),
            Credentials {
                addr: Some("127.0.0.1:4000".into()),
                token: Some(first)
            }
        );
    }
}
