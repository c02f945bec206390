//! The local admin endpoint: HTTP on loopback, for the CLI and for scripts.
//!
//! | method and path               | answer                                   |
//! |-------------------------------|------------------------------------------|
//! | `GET /v1/actors`              | JSON list of [`ActorInfo`]               |
//! | `POST /v1/actors/{name}/call` | the body is the message; the reply bytes |
//! | `GET /v1/dead-letters`        | JSON list of [`DeadLetter`]              |
//! | `POST /v1/dead-letters/{id}/replay` | sends it again; the reply bytes    |
//!
//! Errors are JSON `{"error": KIND, "message": TEXT}` with a status that
//! tells the kind: 404 no such actor, 422 the plugin rejected the message,
//! 500 the instance crashed or its state could not be committed, 503 the
//! actor is stopped, 504 no answer in time. The endpoint only listens on
//! loopback addresses. Every `POST` must carry the header
//! `X-Wasmvisor: 1` (403 otherwise): a web page cannot send that header
//! cross-site without the browser asking first, so a page the operator
//! happens to open cannot call actors on their machine. Token
//! authentication comes later.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use crate::actor::ActorInfo;
use crate::dead_letters::DeadLetter;
use crate::error::{CallError, Error};
use crate::host::Host;

/// The address `wasmvisor run` listens on, and the CLI talks to, by default.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:7475";
/// The largest message the endpoint accepts.
const MAX_BODY_BYTES: usize = 4 << 20;
/// How long the endpoint waits for an actor's reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running admin endpoint; stops when dropped or on [`AdminServer::stop`].
pub struct AdminServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    /// Binds `addr` (which must be a loopback address) and serves `host`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSpec`] for an address that is not loopback, and
    /// [`Error::Host`] when the address cannot be bound.
    pub async fn start(host: Host, addr: SocketAddr) -> Result<AdminServer, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::InvalidSpec {
                what: "admin endpoint".into(),
                reason: format!(
                    "{addr} is not a loopback address; the admin endpoint only listens on loopback"
                ),
            });
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::host(format!("binding the admin endpoint to {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::host("reading the admin endpoint's address", e))?;
        let app = Router::new()
            .route("/v1/actors", get(list_actors))
            .route("/v1/actors/{name}/call", post(call_actor))
            .route("/v1/dead-letters", get(list_dead_letters))
            .route("/v1/dead-letters/{id}/replay", post(replay_dead_letter))
            .layer(axum::middleware::from_fn(require_client_header))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(host);
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
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and waits for the ones in flight.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The header every `POST` must carry.
const CLIENT_HEADER: &str = "x-wasmvisor";

/// Refuses a `POST` without [`CLIENT_HEADER`] (a cross-site request).
async fn require_client_header(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::POST
        && !request.headers().contains_key(CLIENT_HEADER)
    {
        return error_response(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("requests that act on the host need the `{CLIENT_HEADER}: 1` header"),
        );
    }
    next.run(request).await
}

async fn list_actors(State(host): State<Host>) -> axum::Json<Vec<ActorInfo>> {
    axum::Json(host.actors())
}

async fn call_actor(State(host): State<Host>, Path(name): Path<String>, body: Bytes) -> Response {
    let Some(actor) = host.actor(&name) else {
        return api_error(&host.why_unavailable(&name));
    };
    reply_in_time(format!("actor `{name}`"), actor.call(body.to_vec())).await
}

async fn list_dead_letters(State(host): State<Host>) -> Response {
    match host.dead_letters().await {
        Ok(letters) => axum::Json::<Vec<DeadLetter>>(letters).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "state-store",
            error.to_string(),
        ),
    }
}

async fn replay_dead_letter(State(host): State<Host>, Path(id): Path<u64>) -> Response {
    reply_in_time(format!("dead letter {id}"), host.replay_dead_letter(id)).await
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

fn error_response(status: StatusCode, kind: &str, message: String) -> Response {
    let body = ApiError {
        error: kind.to_owned(),
        message,
    };
    (status, axum::Json(body)).into_response()
}

/// Talks to a running host's admin endpoint (what the CLI uses).
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the endpoint at `addr` (`host:port`).
    pub fn new(addr: &str) -> Self {
        AdminClient {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    /// Lists the host's actors.
    ///
    /// # Errors
    ///
    /// A message saying the host cannot be reached, or what it answered.
    pub async fn actors(&self) -> Result<Vec<ActorInfo>, String> {
        let response = self.send(self.http.get(self.url("/v1/actors"))).await?;
        read_json(response).await
    }

    /// Sends `message` to the actor `name` and returns its reply.
    ///
    /// # Errors
    ///
    /// A message saying the host cannot be reached, or the actor's error.
    pub async fn call(&self, name: &str, message: Vec<u8>) -> Result<Vec<u8>, String> {
        let request = self
            .http
            .post(self.url(&format!("/v1/actors/{name}/call")))
            .body(message);
        read_bytes(self.send(request).await?).await
    }

    /// Lists the host's dead letters.
    ///
    /// # Errors
    ///
    /// A message saying the host cannot be reached, or what it answered.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, String> {
        let response = self
            .send(self.http.get(self.url("/v1/dead-letters")))
            .await?;
        read_json(response).await
    }

    /// Replays dead letter `id` and returns the reply.
    ///
    /// # Errors
    ///
    /// A message saying the host cannot be reached, or the call's error.
    pub async fn replay(&self, id: u64) -> Result<Vec<u8>, String> {
        let request = self
            .http
            .post(self.url(&format!("/v1/dead-letters/{id}/replay")));
        read_bytes(self.send(request).await?).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; a failure to reach the host, or an error answer,
    /// becomes a message.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
        let response = request
            .header(CLIENT_HEADER, "1")
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        check(response).await
    }

    fn unreachable(&self, error: reqwest::Error) -> String {
        format!(
            "cannot reach a wasmvisor host at {} ({error}); is `wasmvisor run` running, and is \
             --admin (or WASMVISOR_ADMIN) the address it listens on?",
            self.base
        )
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, String> {
    response
        .json()
        .await
        .map_err(|e| format!("the host sent an answer that cannot be read: {e}"))
}

async fn read_bytes(response: reqwest::Response) -> Result<Vec<u8>, String> {
    response
        .bytes()
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|e| format!("the reply could not be read: {e}"))
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, String> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    match response.json::<ApiError>().await {
        Ok(error) => Err(error.message),
        Err(_) => Err(format!("the host answered {status}")),
    }
}
