//! Capabilities: what a plugin may reach beyond its own memory (the grants;
//! `runtime::sandbox` applies them to an instance's WASI context).
//!
//! Nothing is granted by default: no files, no environment variables, no
//! network. Clocks and random numbers are always available. Each grant is
//! explicit and narrow:
//!
//! - a **directory**, mapped to a path inside the guest, read-only or
//!   read-write;
//! - an **environment variable**, with its value;
//! - an outbound TCP **connection** to one `IP:port`. Name lookups stay off
//!   (list IP addresses), and listening and UDP are never allowed;
//! - outbound **HTTP** requests (`wasi:http`) to one `host` or `host:port`
//!   (see `runtime::imports::http`, which enforces it).
//!
//! A guest that tries what it was not granted gets an error inside the guest
//! (no such file, permission denied, connection refused, HTTP request
//! denied), never access; a refused connection or request is logged once
//! per instance.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::uri::Authority;

/// Checks an outbound HTTP grant (`host` or `host:port`) and says how to
/// write it when it is wrong.
#[cfg(feature = "dir")]
pub(crate) fn check_http_grant(grant: &str) -> Result<(), String> {
    HttpGrant::parse(grant).map(drop)
}

/// What one plugin may reach. Empty (nothing) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub(crate) dirs: Vec<DirGrant>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) connect: Vec<SocketAddr>,
    pub(crate) http: Vec<String>,
}

/// A host directory visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirGrant {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
    pub(crate) read_only: bool,
}

impl Capabilities {
    /// Nothing granted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants the host directory `host` as `guest` inside the plugin,
    /// read-only or read-write.
    pub fn dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.dirs.push(DirGrant {
            host: host.into(),
            guest: guest.into(),
            read_only,
        });
        self
    }

    /// Sets an environment variable the plugin can read.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Allows outbound TCP connections to `addr`.
    pub fn connect(mut self, addr: SocketAddr) -> Self {
        self.connect.push(addr);
        self
    }

    /// Allows outbound HTTP and HTTPS requests (`wasi:http`) to `authority`:
    /// `host:port` for exactly that port, or a bare `host` for the default
    /// ports (80 for `http`, 443 for `https`). Names are allowed here (the
    /// host resolves them for granted requests only).
    pub fn http(mut self, authority: impl Into<String>) -> Self {
        self.http.push(authority.into());
        self
    }

    /// Checks the grants that can be wrong before anything starts.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.http_grants().map(drop)
    }

    pub(crate) fn http_grants(&self) -> Result<Arc<[HttpGrant]>, String> {
        self.http.iter().map(|g| HttpGrant::parse(g)).collect()
    }
}

/// One granted authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpGrant {
    /// Lower case; IPv6 addresses in brackets, as in URIs.
    host: String,
    /// `None`: the scheme's default port.
    port: Option<u16>,
}

impl HttpGrant {
    /// Parses `host` or `host:port`.
    pub(crate) fn parse(grant: &str) -> Result<HttpGrant, String> {
        let fail = |why: &str| {
            format!(
                "http grant `{grant}` {why}; write `host` or `host:port`, like `api.example.com` or `127.0.0.1:8080`"
            )
        };
        if grant.contains(['@', '/']) {
            return Err(fail("is more than a host"));
        }
        let authority: Authority = grant.parse().map_err(|_| fail("is not a host"))?;
        if authority.host().is_empty() {
            return Err(fail("has no host"));
        }
        let has_port = authority.as_str().len() > authority.host().len();
        if has_port && authority.port_u16().is_none() {
            return Err(fail("has a port that is not a number"));
        }
        Ok(HttpGrant {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
        })
    }

    pub(crate) fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.port.unwrap_or(default_port) == port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_grants_are_refused_with_the_fix() {
        for bad in ["", "user@host", "http://host/path", "host:notaport"] {
            let error = HttpGrant::parse(bad).unwrap_err();
            assert!(error.contains("host:port"), "{bad}: {error}");
        }
    }
}
