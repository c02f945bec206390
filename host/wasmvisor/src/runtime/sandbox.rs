//! The sandbox of one instance: the WASI context a plugin sees, with
//! nothing but what its [`Capabilities`] grant.
//!
//! By default: no directories, no environment, no arguments but the
//! program's name (the actor's), an empty stdin, no sockets; clocks and
//! random always work, and stdout and stderr go to the host's log (see
//! `guest_io`; [`Stdio`] says otherwise). A refused connection is logged
//! once per instance.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx};

use super::guest_io::{GuestOutput, Kept, Sink, Stream};
use super::imports::http::HttpEgress;
use crate::spec::{Capabilities, Output, Stdin, Stdio};

const MAX_STDIN_BYTES: u64 = Stdio::MAX_STDIN_BYTES;

/// An instance's standard streams, made from its [`Stdio`].
pub(crate) struct Streams {
    pub(crate) stdin: Vec<u8>,
    pub(crate) stdout: GuestOutput,
    pub(crate) stderr: GuestOutput,
    /// The output kept in memory (stdout's, stderr's), where it is.
    pub(crate) kept: (Option<Arc<Kept>>, Option<Arc<Kept>>),
}

/// The streams of an instance of `actor`, as `stdio` says: stdin read (a
/// file whole), output files opened for appending.
///
/// # Errors
///
/// A file that cannot be read or opened, or an input file over
/// [`MAX_STDIN_BYTES`], named.
pub(crate) fn streams(actor: &Arc<str>, stdio: &Stdio) -> Result<Streams, String> {
    let stdin = match &stdio.stdin {
        Stdin::Empty => Vec::new(),
        Stdin::Bytes(bytes) => bytes.to_vec(),
        Stdin::File(path) => read_stdin_file(path)?,
    };
    let output =
        |stream: Stream, setting: &Output| -> Result<(GuestOutput, Option<Arc<Kept>>), String> {
            let (sink, kept) = match setting {
                Output::Log => (Sink::Log, None),
                Output::File(path) => {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| {
                            format!("cannot open {} for its {stream:?}: {e}", path.display())
                        })?;
                    (Sink::File(std::sync::Mutex::new(file)), None)
                }
                Output::Keep { max_bytes } => {
                    let kept = Kept::new(*max_bytes);
                    (Sink::Keep(kept.clone()), Some(kept))
                }
            };
            Ok((GuestOutput::to(actor.clone(), stream, sink), kept))
        };
    let (stdout, kept_stdout) = output(Stream::Stdout, &stdio.stdout)?;
    let (stderr, kept_stderr) = output(Stream::Stderr, &stdio.stderr)?;
    Ok(Streams {
        stdin,
        stdout,
        stderr,
        kept: (kept_stdout, kept_stderr),
    })
}

fn read_stdin_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open {} for its stdin: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_STDIN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {} for its stdin: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_STDIN_BYTES {
        return Err(format!(
            "{} is over {} MiB, the most a stdin file may hold",
            path.display(),
            MAX_STDIN_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// The WASI context of an instance of `actor`, with `args` after its name
/// and `streams` as its stdio, and what `capabilities` grant.
///
/// # Errors
///
/// A granted directory that cannot be opened, named.
pub(crate) fn wasi_ctx(
    actor: &Arc<str>,
    capabilities: &Capabilities,
    args: &[String],
    streams: &Streams,
) -> Result<WasiCtx, String> {
    let mut builder = WasiCtx::builder();
    builder
        .arg(&**actor)
        .args(args)
        .stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(
            streams.stdin.clone(),
        ))
        .stdout(streams.stdout.clone())
        .stderr(streams.stderr.clone())
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
