//! The admin endpoint (the `server` feature): HTTP on loopback, for the
//! CLI, scripts, Prometheus and the dashboard. The routes are listed in the
//! crate docs; `routes` serves the JSON API, `events` the event stream,
//! `dashboard` the page, and `errors` turns every refusal into a JSON body
//! with a stable code.

mod connections;
mod dashboard;
mod errors;
mod events;
mod routes;
mod shares;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::{oneshot, watch};
use wasmvisor::Host;

use self::errors::error_response;
use self::shares::ActorShares;
use crate::api::ErrorCode;
use crate::{MAX_BODY_BYTES, MAX_CONCURRENT_REQUESTS};

/// The largest component an upgrade takes: the largest plugin file the host
/// reads.
const UPGRADE_MAX_BYTES: usize = wasmvisor::Plugin::MAX_FILE_BYTES as usize;

pub use self::connections::{ConnectionLimits, FD_RESERVE};
pub use self::dashboard::sign_in_url;

/// Why the admin endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address is not a loopback address: the endpoint only listens on
    /// loopback.
    #[error("{0} is not a loopback address; the admin endpoint only listens on loopback")]
    NotLoopback(SocketAddr),
    /// The token is empty.
    #[error("the admin token is empty")]
    EmptyToken,
    /// The address cannot be bound (in use?).
    #[error("binding the admin endpoint to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) host: Host,
    token: Arc<str>,
    /// Becomes true when the endpoint stops: event streams end then.
    pub(crate) stopping: watch::Receiver<bool>,
}

impl AppState {
    /// Whether `presented` is the host's token (compared in constant time).
    fn token_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(presented.as_bytes().ct_eq(self.token.as_bytes()))
    }
}

/// A running admin endpoint; stops when dropped or on [`AdminServer::stop`].
pub struct AdminServer {
    addr: SocketAddr,
    stopping: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` (which must be a loopback address) and serves `host` to
    /// requests that carry `token`, within the default [`ConnectionLimits`].
    ///
    /// # Errors
    ///
    /// [`ServerError::NotLoopback`] for an address that is not loopback,
    /// [`ServerError::EmptyToken`], and [`ServerError::Bind`] when the
    /// address cannot be bound.
    pub async fn start(
        host: Host,
        addr: SocketAddr,
        token: &str,
    ) -> Result<AdminServer, ServerError> {
        Self::start_with(host, addr, token, ConnectionLimits::default()).await
    }

    /// As [`AdminServer::start`], within `limits`.
    ///
    /// # Errors
    ///
    /// As [`AdminServer::start`].
    pub async fn start_with(
        host: Host,
        addr: SocketAddr,
        token: &str,
        limits: ConnectionLimits,
    ) -> Result<AdminServer, ServerError> {
        if !addr.ip().is_loopback() {
            return Err(ServerError::NotLoopback(addr));
        }
        if token.trim().is_empty() {
            return Err(ServerError::EmptyToken);
        }
        let bind = |source| ServerError::Bind { addr, source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let descriptors = connections::descriptor_limit();
        let cap = connections::effective_cap(limits.connections(), descriptors);
        if cap < limits.connections() {
            tracing::warn!(
                "admin endpoint: at most {cap} connections, not {}: the process may open {} files \
                 (ulimit -n) and {FD_RESERVE} are kept for the host's own",
                limits.connections(),
                descriptors.unwrap_or_default()
            );
        }
        let (stopping, stopping_rx) = watch::channel(false);
        let app = router(host, token, stopping_rx);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(connections::serve(listener, app, limits, cap, stopped));
        tracing::info!("admin endpoint listening on http://{addr}");
        Ok(AdminServer {
            addr,
            stopping,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and waits for the ones in flight (an event
    /// stream ends with the host).
    pub async fn stop(mut self) {
        self.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The endpoint's routes and layers, serving `host` to requests that carry
/// `token`; event streams end when `stopping` becomes true.
fn router(host: Host, token: &str, stopping: watch::Receiver<bool>) -> Router {
    let state = AppState {
        host,
        token: Arc::from(token.trim()),
        stopping,
    };
    // The dashboard's files hold nothing of the host; its requests for
    // data carry the token.
    let dashboard = Router::new()
        .route("/ui", get(dashboard::to_index))
        .route("/ui/", get(dashboard::index))
        .route("/ui/app.js", get(dashboard::app_js))
        .route("/ui/app.css", get(dashboard::app_css));
    // A request addressed to one actor takes a place in its share; the
    // others share one pool (see `shares`).
    let one_actor = Router::new()
        .route("/v1/actors/{name}", get(routes::actor_detail))
        .route("/v1/actors/{name}/call", post(routes::call_actor))
        .route("/v1/actors/{name}/cast", post(routes::cast_actor))
        .route("/v1/actors/{name}/restart", post(routes::restart_actor))
        .route("/v1/actors/{name}/stop", post(routes::stop_actor))
        .route("/v1/actors/{name}/start", post(routes::start_actor))
        .route("/v1/actors/{name}/kill", post(routes::kill_actor))
        .route("/v1/actors/{name}/run", post(routes::run_actor))
        // A component may be far larger than any other body.
        .route(
            "/v1/actors/{name}/upgrade",
            post(routes::upgrade_actor).layer(DefaultBodyLimit::max(UPGRADE_MAX_BYTES)),
        )
        .route("/v1/actors/{name}/state", get(routes::actor_state))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(ActorShares::default()),
            shares::in_actor_share,
        ));
    // One semaphore for all these routes: a plain concurrency limit layer
    // would make one per route.
    let pool = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS));
    let shared = Router::new()
        .route("/v1/tree", get(routes::tree))
        .route("/v1/actors", get(routes::list_actors))
        .route("/v1/dead-letters", get(routes::list_dead_letters))
        .route(
            "/v1/dead-letters/{id}/replay",
            post(routes::replay_dead_letter),
        )
        .route("/v1/events", get(events::events))
        .route("/v1/events/recent", get(routes::recent_events))
        .route("/metrics", get(routes::metrics))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        error_response(
                            StatusCode::SERVICE_UNAVAILABLE,
                            ErrorCode::Busy,
                            format!(
                                "the admin endpoint is serving {MAX_CONCURRENT_REQUESTS} \
                                 requests already; try again"
                            ),
                        )
                    },
                ))
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                    pool,
                )),
        );
    one_actor
        .merge(shared)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .merge(dashboard)
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Every refusal a JSON body, the framework's own too (405, 413, a
        // path that does not parse...).
        .layer(axum::middleware::map_response(errors::json_errors))
        // Outermost, so that every answer has them (503 "busy" too).
        .layer(axum::middleware::map_response(dashboard::security_headers))
        .with_state(state)
}

/// Refuses a request without the host's token.
async fn require_token(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match unauthorized(&state, request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// A path no route serves: for those with the token, a 404; which paths
/// exist is not for others to probe.
async fn no_route(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    match unauthorized(&state, &headers) {
        Some(refusal) => refusal,
        None => errors::no_route(&uri),
    }
}

/// The refusal of a request whose headers do not carry the host's token.
fn unauthorized(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Response> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    (!state.token_matches(presented)).then(|| {
        error_response(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "this request needs the host's admin token as `Authorization: Bearer TOKEN`; \
             `wasmvisor run DIR` keeps it in DIR/wasmvisor-admin.token"
                .into(),
        )
    })
}

/// The endpoint's request handling (its routes, token check, limits and
/// headers), serving `host` to requests that carry `token`, without a
/// socket: for the fuzz targets and tests, with `tower::ServiceExt::oneshot`.
/// Not a stable API.
#[doc(hidden)]
pub fn router_without_socket(host: Host, token: &str) -> Router {
    let (stopping, stopped) = watch::channel(false);
    // Event streams run until the sender goes: keep it for the process.
    std::mem::forget(stopping);
    router(host, token, stopped)
}
