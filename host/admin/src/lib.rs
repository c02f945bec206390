//! The admin API of a wasmvisor host: its local HTTP endpoint (for the CLI,
//! scripts, Prometheus and the dashboard), and a typed client of it.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use wasmvisor_admin::{AdminClient, AdminServer};
//!
//! let host = wasmvisor::Host::new()?;
//! let server = AdminServer::start(host, "127.0.0.1:0".parse()?, "secret").await?;
//! let client = AdminClient::new(&server.addr().to_string(), Some("secret".into()));
//! println!("{:?}", client.actors().await?);
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! | method and path                   | answer                                        |
//! |-----------------------------------|-----------------------------------------------|
//! | `GET /v1/tree`                    | the supervision tree, as JSON                 |
//! | `GET /v1/actors`                  | JSON list of `ActorInfo`                      |
//! | `GET /v1/actors/{name}`           | one actor and its supervisor ([`ActorDetail`])|
//! | `POST /v1/actors/{name}/call`     | the body is the message; the reply bytes      |
//! | `POST /v1/actors/{name}/cast`     | the body is the message; 202 once queued      |
//! | `POST /v1/actors/{name}/restart`  | stops it (by its shutdown spec) and starts it |
//! | `POST /v1/actors/{name}/stop`     | stops it; it stays down until `start`         |
//! | `POST /v1/actors/{name}/start`    | starts a stopped actor                        |
//! | `POST /v1/actors/{name}/run`      | a one-off run of its `wasi:cli` program ([`RunRequest`]); how it ended, as JSON |
//! | `GET /v1/actors/{name}/state`     | its state, exported as JSON                   |
//! | `GET /v1/dead-letters`            | JSON list of `DeadLetter`                     |
//! | `POST /v1/dead-letters/{id}/replay` | sends it again; the reply bytes             |
//! | `GET /v1/events[?since=N]`        | lifecycle events, as server-sent events       |
//! | `GET /v1/events/recent`           | the events the host kept, as JSON             |
//! | `GET /metrics`                    | Prometheus metrics (`Host::metrics`)          |
//! | `GET /ui/`                        | the dashboard's page (no token needed)        |
//!
//! Every request must carry the host's token as `Authorization: Bearer
//! TOKEN` (401 otherwise; see [`credentials`]); a web page cannot add that
//! header cross-site without the browser asking first. Only the dashboard's
//! files are served without it: they hold nothing of the host, and the page
//! sends the token with each of its requests. The endpoint only
//! listens on loopback addresses. Bodies are limited to [`MAX_BODY_BYTES`]
//! (413 beyond). Each actor has its own share of the concurrency, at most
//! [`MAX_REQUESTS_PER_ACTOR`] requests at once addressed to it, and the
//! other requests share [`MAX_CONCURRENT_REQUESTS`] (503 beyond either, at
//! once rather than queued): a slow actor turns its own callers away, not
//! others'. Connections are capped and timed ([`ConnectionLimits`]).
//!
//! Every error answer is JSON, [`ErrorBody`]: `{"error": CODE, "message":
//! TEXT}`, with a stable [`ErrorCode`] and a status that tells the kind: 400
//! a malformed request, 401 no token, 404 no such actor or route, 405 a
//! wrong method, 409 the actor is not in a state for that action, 413 a body
//! over the limit, 422 the plugin rejected the message, 429 its mailbox is
//! full, 500 the instance crashed or its state could not be committed, 503
//! the actor is stopped (or the endpoint is busy), 504 no answer in time.
//!
//! Features: `server` ([`AdminServer`] and the dashboard; axum) and
//! `client` ([`AdminClient`]; reqwest), both on by default.

pub mod api;
#[cfg(feature = "client")]
mod client;
pub mod credentials;
#[cfg(feature = "server")]
mod server;

pub use self::api::{
    Action, ActorDetail, ActorStarted, ChildNode, ErrorBody, ErrorCode, RunRequest, SupervisorNode,
    Upgraded,
};
#[cfg(feature = "client")]
pub use self::client::{AdminClient, ClientError, EventStream};
#[cfg(feature = "server")]
pub use self::server::{
    AdminServer, ConnectionLimits, FD_RESERVE, ServerError, router_without_socket, sign_in_url,
};

/// The address `wasmvisor run` listens on, and the CLI talks to, by default.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:7475";
/// The largest request body the endpoint accepts.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// How many requests not addressed to one actor (listings, metrics, dead
/// letters, event streams) are served at once; more are turned away with
/// 503.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// How many requests addressed to one actor (`/v1/actors/NAME/...`) are
/// served at once, per actor; more are turned away with 503, and other
/// actors' requests are not held up.
pub const MAX_REQUESTS_PER_ACTOR: usize = 32;
