//! Capabilities: what a plugin may reach beyond its own memory.
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
//!   (see [`http`]).
//!
//! A guest that tries what it was not granted gets an error inside the guest
//! (no such file, permission denied, connection refused, HTTP request
//! denied), never access; a refused connection or request is logged once
//! per instance.

mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

pub(crate) use self::http::HttpEgress;
use self::http::HttpGrant;

/// Checks an outbound HTTP grant (`host` or `host:port`) and says how to
/// write it when it is wrong.
pub(crate) fn check_http_grant(grant: &str) -> Result<(), String> {
    HttpGrant::parse(grant).map(drop)
}

/// What one plugin may reach. Empty (nothing) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    connect: Vec<SocketAddr>,
    http: Vec<String>,
}

/// A host directory visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DirGrant {
    host: PathBuf,
    guest: String,
    read_only: bool,
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

    fn http_grants(&self) -> Result<Arc<[HttpGrant]>, String> {
        self.http.iter().map(|g| HttpGrant::parse(g)).collect()
    }

    /// The `wasi:http` hooks enforcing the HTTP grants for `actor`.
    pub(crate) fn http_egress(&self, actor: &Arc<str>) -> Result<HttpEgress, String> {
        Ok(HttpEgress::new(actor.clone(), self.http_grants()?))
    }

    /// Applies the grants to a WASI context being built for `actor`.
    pub(crate) fn apply(
        &self,
        builder: &mut WasiCtxBuilder,
        actor: &Arc<str>,
    ) -> Result<(), String> {
        for dir in &self.dirs {
            let perms = if dir.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|e| format!("cannot grant directory {}: {e:#}", dir.host.display()))?;
        }
        for (key, value) in &self.env {
            builder.env(key, value);
        }
        // TCP goes through the check even with nothing granted, so that a
        // refused attempt is logged.
        {
            let allowed: Arc<[SocketAddr]> = self.connect.clone().into();
            let warned = Arc::new(AtomicBool::new(false));
            let actor = actor.clone();
            builder.allow_tcp(true);
            builder.socket_addr_check(move |addr, usage| {
                let permitted = match usage {
                    SocketAddrUse::TcpConnect => allowed.contains(&addr),
                    // The implicit bind of an outgoing connection.
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    _ => false,
                };
                if !permitted && !warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        actor = &*actor,
                        "refused {usage:?} to {addr}: not granted (logged once)"
                    );
                }
                Box::pin(async move { permitted })
            });
        }
        Ok(())
    }
}
