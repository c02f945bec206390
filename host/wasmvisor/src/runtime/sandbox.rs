//! The sandbox of one instance: the WASI context a plugin sees, with
//! nothing but what its [`Capabilities`] grant.
//!
//! By default: no directories, no environment, no arguments, no sockets;
//! clocks and random always work, and stdout and stderr go to the host's
//! log (see `guest_io`). A refused connection is logged once per instance.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx};

use super::guest_io::GuestOutput;
use super::imports::http::HttpEgress;
use crate::spec::Capabilities;

/// The WASI context of an instance of `actor`, writing to `stdout` and
/// `stderr`, with what `capabilities` grant.
///
/// # Errors
///
/// A granted directory that cannot be opened, named.
pub(crate) fn wasi_ctx(
    actor: &Arc<str>,
    capabilities: &Capabilities,
    stdout: GuestOutput,
    stderr: GuestOutput,
) -> Result<WasiCtx, String> {
    let mut builder = WasiCtx::builder();
    builder
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for dir in &capabilities.dirs {
        let perms = if dir.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&dir.host, &dir.guest, perms)
            .map_err(|e| format!("cannot grant directory {}: {e:#}", dir.host.display()))?;
    }
    for (key, value) in &capabilities.env {
        builder.env(key, value);
    }
    // TCP goes through the check even with nothing granted, so that a
    // refused attempt is logged.
    {
        let allowed: Arc<[SocketAddr]> = capabilities.connect.clone().into();
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
    Ok(builder.build())
}

/// The `wasi:http` hooks enforcing `capabilities`' HTTP grants for `actor`.
///
/// # Errors
///
/// A grant that does not parse (refused earlier by validation).
pub(crate) fn http_egress(
    actor: &Arc<str>,
    capabilities: &Capabilities,
) -> Result<HttpEgress, String> {
    Ok(HttpEgress::new(actor.clone(), capabilities.http_grants()?))
}
