//! Which running host a command talks to: the address and token that
//! `wasmvisor run DIR` keeps in `DIR`, or given on the command line.

use std::path::PathBuf;

use wasmvisor_admin::credentials::read_credentials;
use wasmvisor_admin::{AdminClient, DEFAULT_ADMIN_ADDR};

/// Which running host a command talks to.
#[derive(clap::Args)]
pub(crate) struct Target {
    /// The host's directory (`wasmvisor run DIR`): the CLI reads the admin
    /// address and token the host keeps there.
    #[arg(long, env = "WASMVISOR_DIR", default_value = ".")]
    pub(crate) dir: PathBuf,
    /// The admin endpoint's address. Default: the one the host wrote in
    /// DIR, else 127.0.0.1:7475.
    #[arg(long, env = "WASMVISOR_ADMIN")]
    admin: Option<String>,
    /// The admin token. Default: the one in DIR.
    #[arg(long, env = "WASMVISOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Target {
    /// The host's address, and the token to send it.
    pub(crate) fn address_and_token(&self) -> (String, Option<String>) {
        let found = read_credentials(&self.dir);
        // DIR's token goes only where DIR's host is (its address file, or an
        // address given explicitly), never to whatever listens on the
        // default port after that host stopped.
        let (addr, dir_token) = match (&self.admin, found.addr) {
            (Some(addr), _) => (addr.clone(), found.token),
            (None, Some(addr)) => (addr, found.token),
            (None, None) => (DEFAULT_ADMIN_ADDR.to_owned(), None),
        };
        (addr, self.token.clone().or(dir_token))
    }

    pub(crate) fn client(&self) -> AdminClient {
        let (addr, token) = self.address_and_token();
        AdminClient::new(&addr, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmvisor_admin::credentials::{load_or_create_token, write_addr};

    fn target(dir: &std::path::Path, admin: Option<&str>) -> Target {
        Target {
            dir: dir.to_path_buf(),
            admin: admin.map(str::to_owned),
            token: None,
        }
    }

    #[test]
    fn a_directorys_token_goes_only_where_its_host_is() {
        let dir = tempfile::tempdir().unwrap();
        let token = load_or_create_token(dir.path()).unwrap();
        // The host stopped (no address file): the default port gets no token,
        // whatever listens there now.
        assert_eq!(
            target(dir.path(), None).address_and_token(),
            (DEFAULT_ADMIN_ADDR.to_owned(), None)
        );
        // The address it recorded, or one given on purpose, gets it.
        write_addr(dir.path(), "127.0.0.1:7999".parse().unwrap()).unwrap();
        assert_eq!(
            target(dir.path(), None).address_and_token(),
            ("127.0.0.1:7999".to_owned(), Some(token.clone()))
        );
        assert_eq!(
            target(dir.path(), Some("127.0.0.1:7000")).address_and_token(),
            ("127.0.0.1:7000".to_owned(), Some(token))
        );
    }
}
