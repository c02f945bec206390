//! Accepting connections, within limits: how many are open at once, how
//! long a client may take to send a request's head (and so how long an idle
//! connection stays open), and how long it may pause inside a body.
//!
//! Each open connection is a file descriptor of the host's process, the
//! same kind it needs to read plugins, manifests and its state store. So the
//! connections are capped below the process's descriptor limit, with
//! [`FD_RESERVE`] kept back for the host's own files: a flood of idle
//! connections then waits in the kernel's accept queue, and the host goes
//! on reading its plugin directory. A connection that sends no request head
//! in time is closed, which frees its place for the next.
//!
//! ```text
//!   accept (a place free?) ──> HTTP/1 connection ──> request head within header_timeout
//!        │ no: wait, the client waits in the kernel's queue       │ no: closed
//!        └ descriptors exhausted anyway: log once, back off       └─> routes (body pauses < body_timeout)
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tower::ServiceExt;

/// File descriptors kept back, below the process's limit, for the host's
/// own files (plugins, manifests, the state store, the compile cache, the
/// directory watcher, guests' preopened directories).
pub const FD_RESERVE: u64 = 256;

/// The limits on the admin endpoint's connections. The defaults suit a
/// host on one machine; `wasmvisor run` has a flag for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    max_connections: usize,
    header_timeout: Duration,
    body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

impl ConnectionLimits {
    /// The most connections open at once (default 512, at least 1). More
    /// wait to be accepted; the cap is lowered further when the process may
    /// not open that many files beside [`FD_RESERVE`].
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a client has to send a whole request head, from when the
    /// connection opens or its last answer was sent (default 10 s): this is
    /// also how long an idle kept-alive connection stays open.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// The longest pause allowed between two pieces of a request body
    /// (default 30 s); the request is then refused.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The configured cap on open connections.
    pub fn connections(&self) -> usize {
        self.max_connections
    }

    /// The configured time for a request head.
    pub fn header_time(&self) -> Duration {
        self.header_timeout
    }

    /// The configured pause allowed inside a body.
    pub fn body_time(&self) -> Duration {
        self.body_timeout
    }
}

/// The cap on connections the endpoint applies: the configured one, lowered
/// to what the descriptor limit leaves beside the reserve.
pub(super) fn effective_cap(configured: usize, descriptor_limit: Option<u64>) -> usize {
    match descriptor_limit {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
            configured.min(room).max(1)
        }
        None => configured,
    }
}

/// The process's soft limit on open files, where the platform has one.
pub(super) fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Serves `app` on `listener` within `limits` until `stopped`, then waits
/// for the requests in flight (an event stream ends with the host).
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    cap: usize,
    mut stopped: oneshot::Receiver<()>,
) {
    let places = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    let mut exhausted_said = false;
    loop {
        let place = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            _ = &mut stopped => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors despite the cap (the host's own
                    // files took more than the reserve): say so once, give
                    // the host a moment to close some, and go on.
                    if !exhausted_said {
                        tracing::error!("admin endpoint: accepting a connection: {error}");
                        exhausted_said = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        exhausted_said = false;
        let service = TowerToHyperService::new(app.clone().map_request(
            |request: axum::http::Request<hyper::body::Incoming>| {
                request.map(axum::body::Body::new)
            },
        ));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that went away or timed out is no error of the host's.
            let _ = connection.await;
            drop(place);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_to_the_hosts_own_files() {
        assert_eq!(effective_cap(512, None), 512);
        assert_eq!(effective_cap(512, Some(20_000)), 512);
        assert_eq!(effective_cap(512, Some(512)), 256);
        assert_eq!(effective_cap(512, Some(100)), 1, "at least one");
    }
}
