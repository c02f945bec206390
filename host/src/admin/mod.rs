//! The local admin endpoint: HTTP on loopback, for the CLI, scripts and
//! Prometheus.
//!
//! | method and path                   | answer                                        |
//! |-----------------------------------|-----------------------------------------------|
//! | `GET /v1/tree`                    | the supervision tree, as JSON                 |
//! | `GET /v1/actors`                  | JSON list of [`ActorInfo`]                    |
//! | `GET /v1/actors/{name}`           | one actor and its supervisor ([`ActorDetail`])|
//! | `POST /v1/actors/{name}/call`     | the body is the message; the reply bytes      |
//! | `POST /v1/actors/{name}/cast`     | the body is the message; 202 once queued      |
//! | `POST /v1/actors/{name}/restart`  | stops it (by its shutdown spec) and starts it |
//! | `POST /v1/actors/{name}/stop`     | stops it; it stays down until `start`         |
//! | `POST /v1/actors/{name}/start`    | starts a stopped actor                        |
//! | `GET /v1/actors/{name}/state`     | its state, exported as JSON                   |
//! | `GET /v1/dead-letters`            | JSON list of [`DeadLetter`]                   |
//! | `POST /v1/dead-letters/{id}/replay` | sends it again; the reply bytes             |
//! | `GET /v1/events[?since=N]`        | lifecycle events, as server-sent events       |
//! | `GET /v1/events/recent`           | the events the host kept, as JSON             |
//! | `GET /metrics`                    | Prometheus metrics (see `metrics`)            |
//! | `GET /ui/`                        | the [`dashboard`]'s page (no token needed)    |
//!
//! Every request must carry the host's token as `Authorization: Bearer
//! TOKEN` (401 otherwise; see [`credentials`]); a web page cannot add that
//! header cross-site without the browser asking first. Only the dashboard's
//! files are served without it: they hold nothing of the host, and the page
//! sends the token with each of its requests. The endpoint only
//! listens on loopback addresses. Bodies are limited to [`MAX_BODY_BYTES`]
//! (413 beyond), and at most [`MAX_CONCURRENT_REQUESTS`] requests are
//! served at once (503 beyond, at once rather than queued).
//!
//! Errors are JSON `{"error": KIND, "message": TEXT}` with a status that
//! tells the kind: 404 no such actor, 409 the actor is not in a state for
//! that action, 422 the plugin rejected the message, 429 its mailbox is
//! full, 500 the instance crashed or its state could not be committed, 503
//! the actor is stopped, 504 no answer in time.

pub mod client;
pub mod credentials;
pub mod dashboard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{self, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{oneshot, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};

use crate::actor::ActorInfo;
use crate::dead_letters::DeadLetter;
use crate::error::{CallError, Error};
use crate::events::{Position, RecordedEvent};
use crate::host::Host;
use crate::supervisor::{ChildError, RestartBudget, SupervisorRef};

pub use self::client::{AdminClient, EventStream};

/// The address `wasmvisor run` listens on, and the CLI talks to, by default.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:7475";
/// The largest request body the endpoint accepts.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// How many requests are served at once; more are turned away with 503.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// How long the endpoint waits for an actor's reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    host: Host,
    token: Arc<str>,
    /// Becomes true when the endpoint stops: event streams end then.
    stopping: watch::Receiver<bool>,
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
    /// requests that carry `token`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSpec`] for an address that is not loopback or an
    /// empty token, and [`Error::Host`] when the address cannot be bound.
    pub async fn start(host: Host, addr: SocketAddr, token: &str) -> Result<AdminServer, Error> {
        let invalid = |reason: String| Error::InvalidSpec {
            what: "admin endpoint".into(),
            reason,
        };
        if !addr.ip().is_loopback() {
            return Err(invalid(format!(
                "{addr} is not a loopback address; the admin endpoint only listens on loopback"
            )));
        }
        if token.trim().is_empty() {
            return Err(invalid("the admin token is empty".into()));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::host(format!("binding the admin endpoint to {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::host("reading the admin endpoint's address", e))?;
        let (stopping, stopping_rx) = watch::channel(false);
        let app = router(host, token, stopping_rx);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!("admin endpoint failed: {error}");
            }
        });
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
pub(crate) fn router(host: Host, token: &str, stopping: watch::Receiver<bool>) -> Router {
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
    Router::new()
        .route("/v1/tree", get(tree))
        .route("/v1/actors", get(list_actors))
        .route("/v1/actors/{name}", get(actor_detail))
        .route("/v1/actors/{name}/call", post(call_actor))
        .route("/v1/actors/{name}/cast", post(cast_actor))
        .route("/v1/actors/{name}/restart", post(restart_actor))
        .route("/v1/actors/{name}/stop", post(stop_actor))
        .route("/v1/actors/{name}/start", post(start_actor))
        .route("/v1/actors/{name}/state", get(actor_state))
        .route("/v1/dead-letters", get(list_dead_letters))
        .route("/v1/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/v1/events", get(events))
        .route("/v1/events/recent", get(recent_events))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .merge(dashboard)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    |_: tower::BoxError| async {
                        error_response(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "busy",
                            format!(
                                "the admin endpoint is serving {MAX_CONCURRENT_REQUESTS} \
                                 requests already; try again"
                            ),
                        )
                    },
                ))
                .load_shed()
                .concurrency_limit(MAX_CONCURRENT_REQUESTS),
        )
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
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !state.token_matches(presented) {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this request needs the host's admin token as `Authorization: Bearer TOKEN`; \
             `wasmvisor run DIR` keeps it in DIR/wasmvisor-admin.token"
                .into(),
        );
    }
    next.run(request).await
}

/// One supervisor of the tree, with its children.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SupervisorNode {
    /// The supervisor's name.
    pub name: String,
    /// `running`, `stopped`, or `gave-up: REASON`.
    pub status: String,
    /// `one-for-one`, `one-for-all` or `rest-for-one`.
    pub strategy: String,
    /// Its restart intensity, and how much of it recent restarts used.
    pub restart_budget: RestartBudget,
    /// Its children, in start order.
    pub children: Vec<ChildNode>,
}

/// One child in the tree: an actor, or a nested supervisor with its own
/// children.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildNode {
    /// The child as listed by its supervisor.
    #[serde(flatten)]
    pub info: ActorInfo,
    /// For a running nested supervisor: its subtree.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub supervisor: Option<SupervisorNode>,
}

/// One actor and the supervisor it belongs to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ActorDetail {
    /// The actor.
    #[serde(flatten)]
    pub info: ActorInfo,
    /// The name of its supervisor.
    pub supervisor: String,
}

fn node(supervisor: &SupervisorRef) -> SupervisorNode {
    let children = supervisor
        .which_children()
        .into_iter()
        .map(|info| ChildNode {
            supervisor: supervisor
                .child_supervisor(&info.name)
                .map(|sub| node(&sub)),
            info,
        })
        .collect();
    SupervisorNode {
        name: supervisor.name().to_owned(),
        status: supervisor.status().to_string(),
        strategy: supervisor.strategy().to_string(),
        restart_budget: supervisor.restart_budget(),
        children,
    }
}

/// The supervisor (at any depth) that has a child named `name`.
fn supervisor_of(host: &Host, name: &str) -> Option<(SupervisorRef, ActorInfo)> {
    fn search(supervisor: &SupervisorRef, name: &str) -> Option<(SupervisorRef, ActorInfo)> {
        for info in supervisor.which_children() {
            if info.name == name {
                return Some((supervisor.clone(), info));
            }
            if let Some(found) = supervisor
                .child_supervisor(&info.name)
                .and_then(|sub| search(&sub, name))
            {
                return Some(found);
            }
        }
        None
    }
    host.supervisors()
        .iter()
        .find_map(|supervisor| search(supervisor, name))
}

async fn tree(State(state): State<AppState>) -> axum::Json<Vec<SupervisorNode>> {
    axum::Json(state.host.supervisors().iter().map(node).collect())
}

async fn list_actors(State(state): State<AppState>) -> axum::Json<Vec<ActorInfo>> {
    axum::Json(state.host.actors())
}

async fn actor_detail(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match supervisor_of(&state.host, &name) {
        Some((supervisor, info)) => axum::Json(ActorDetail {
            info,
            supervisor: supervisor.name().to_owned(),
        })
        .into_response(),
        None => api_error(&CallError::NotFound(name)),
    }
}

async fn call_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = state.host.actor(&name) else {
        return api_error(&state.host.why_unavailable(&name));
    };
    reply_in_time(format!("actor `{name}`"), actor.call(body.to_vec())).await
}

async fn cast_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = state.host.actor(&name) else {
        return api_error(&state.host.why_unavailable(&name));
    };
    // Queued or refused at once: a full mailbox is an answer, not a wait.
    match actor.try_cast(body.to_vec()) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(error) => api_error(&error),
    }
}

/// Runs a management call on the supervisor of `name`.
async fn manage<F, Fut, T>(state: &AppState, name: &str, action: F) -> Response
where
    F: FnOnce(SupervisorRef, String) -> Fut,
    Fut: std::future::Future<Output = Result<T, ChildError>>,
{
    let Some((supervisor, _)) = supervisor_of(&state.host, name) else {
        return api_error(&CallError::NotFound(name.to_owned()));
    };
    match action(supervisor, name.to_owned()).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => child_error(&error),
    }
}

async fn restart_actor(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    manage(&state, &name, |supervisor, name| async move {
        supervisor.terminate_child(&name).await?;
        supervisor.restart_child(&name).await
    })
    .await
}

async fn stop_actor(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    manage(&state, &name, |supervisor, name| async move {
        supervisor.terminate_child(&name).await
    })
    .await
}

async fn start_actor(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    manage(&state, &name, |supervisor, name| async move {
        supervisor.restart_child(&name).await
    })
    .await
}

async fn actor_state(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.host.export_state(&name).await {
        Ok(export) => axum::Json(export).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "state-store",
            error.to_string(),
        ),
    }
}

async fn list_dead_letters(State(state): State<AppState>) -> Response {
    match state.host.dead_letters().await {
        Ok(letters) => axum::Json::<Vec<DeadLetter>>(letters).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "state-store",
            error.to_string(),
        ),
    }
}

async fn replay_dead_letter(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    reply_in_time(
        format!("dead letter {id}"),
        state.host.replay_dead_letter(id),
    )
    .await
}

/// The query of `GET /v1/events`.
#[derive(serde::Deserialize)]
struct EventsQuery {
    /// Replay the kept events after this position (`SEQ`, or an event id:
    /// `BOOT-SEQ`) first.
    since: Option<String>,
}

/// Lifecycle events, one JSON [`RecordedEvent`] per server-sent event (its
/// `event:` is the kind, its `id:` `BOOT-SEQ`: the host's run and the
/// event's number), until the endpoint stops. From now on; with
/// `?since=POSITION` or a `Last-Event-ID` header (which wins: a browser
/// sends it when it reconnects), the kept events after that position first.
/// A position from another run of the host replays every kept event. A
/// client too slow to keep up, or asking for events no longer kept, is told
/// how many it missed.
async fn events(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    enum Item {
        Event(Result<Arc<RecordedEvent>, BroadcastStreamRecvError>),
        Stopping,
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok());
    let given = last_event_id.or(query.since.as_deref());
    let since = given.map(Position::parse);
    if let (Some(text), Some(None)) = (given, since) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("`{text}` is not an event position: give SEQ or BOOT-SEQ (an event id)"),
        );
    }
    let since = since.flatten();
    let bus = state.host.events();
    let boot = bus.boot();
    let replay = bus.replay(since);
    let missed = (replay.missed > 0).then_some(Item::Event(Err(BroadcastStreamRecvError::Lagged(
        replay.missed,
    ))));
    let kept = replay
        .kept
        .into_iter()
        .map(|recorded| Item::Event(Ok(recorded)));
    let events = tokio_stream::iter(missed.into_iter().chain(kept))
        .chain(BroadcastStream::new(replay.live).map(Item::Event));
    let stopping = WatchStream::new(state.stopping.clone())
        .filter(|stopping| *stopping)
        .map(|_| Item::Stopping);
    let stream = events
        .merge(stopping)
        .take_while(|item| !matches!(item, Item::Stopping))
        .map(move |item| {
            Ok::<_, std::convert::Infallible>(match item {
                Item::Event(Ok(recorded)) => {
                    let data = serde_json::to_string(&*recorded).unwrap_or_default();
                    sse::Event::default()
                        .event(recorded.event.kind())
                        .id(Position::id(boot, recorded.seq))
                        .data(data)
                }
                Item::Event(Err(BroadcastStreamRecvError::Lagged(missed))) => sse::Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
                Item::Stopping => sse::Event::default(),
            })
        });
    Sse::new(stream)
        .keep_alive(sse::KeepAlive::default())
        .into_response()
}

/// The kept lifecycle events, oldest first.
async fn recent_events(State(state): State<AppState>) -> axum::Json<Vec<RecordedEvent>> {
    axum::Json(state.host.recent_events())
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.host.metrics(),
    )
        .into_response()
}

/// Answers with the reply bytes, the typed error, or 504 after
/// [`CALL_TIMEOUT`].
async fn reply_in_time(
    what: String,
    call: impl std::future::Future<Output = Result<Vec<u8>, CallError>>,
) -> Response {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(reply)) => (StatusCode::OK, reply).into_response(),
        Ok(Err(error)) => api_error(&error),
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("{what} got no answer within {} s", CALL_TIMEOUT.as_secs()),
        ),
    }
}

/// The JSON body of an error answer.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ApiError {
    pub(crate) error: String,
    pub(crate) message: String,
}

fn api_error(error: &CallError) -> Response {
    let (status, kind) = match error {
        CallError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
        CallError::MailboxFull { .. } => (StatusCode::TOO_MANY_REQUESTS, "mailbox-full"),
        CallError::Rejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
        CallError::Crashed { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "crashed"),
        CallError::DeadLettered { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "dead-lettered"),
        CallError::StateCommit { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "state-commit"),
        CallError::Stopped { .. } => (StatusCode::SERVICE_UNAVAILABLE, "stopped"),
    };
    error_response(status, kind, error.to_string())
}

fn child_error(error: &ChildError) -> Response {
    let status = match error {
        ChildError::NotFound(_) => StatusCode::NOT_FOUND,
        ChildError::SupervisorDown(_) => StatusCode::SERVICE_UNAVAILABLE,
        ChildError::StartFailed { .. } | ChildError::UpgradeFailed { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::CONFLICT,
    };
    error_response(status, "management", error.to_string())
}

fn error_response(status: StatusCode, kind: &str, message: String) -> Response {
    let body = ApiError {
        error: kind.to_owned(),
        message,
    };
    (status, axum::Json(body)).into_response()
}
