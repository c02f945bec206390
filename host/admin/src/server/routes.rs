//! The JSON API's handlers: the tree and the actors, calls and casts, the
//! actions on an actor, its state, the dead letters, the kept events and
//! the metrics.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use wasmvisor::events::RecordedEvent;
use wasmvisor::{ActorInfo, CallError, DeadLetter, Host, Stdin, SupervisorRef, SupervisorStatus};

use super::AppState;
use super::errors::{call_error, child_error, error_response};
use crate::api::{
    Action, ActorDetail, ActorStarted, ChildNode, ErrorCode, RunRequest, SupervisorNode, Upgraded,
};

/// How long the endpoint waits for an actor's reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

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
        status: supervisor.status(),
        strategy: supervisor.strategy(),
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

pub(crate) async fn tree(State(state): State<AppState>) -> Json<Vec<SupervisorNode>> {
    Json(state.host.supervisors().iter().map(node).collect())
}

pub(crate) async fn list_actors(State(state): State<AppState>) -> Json<Vec<ActorInfo>> {
    Json(state.host.actors())
}

pub(crate) async fn actor_detail(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Response {
    match supervisor_of(&state.host, &name) {
        Some((supervisor, info)) => Json(ActorDetail {
            info,
            supervisor: supervisor.name().to_owned(),
        })
        .into_response(),
        None => call_error(&CallError::NotFound(name)),
    }
}

pub(crate) async fn call_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = state.host.actor(&name) else {
        return call_error(&state.host.why_unavailable(&name));
    };
    reply_in_time(format!("actor `{name}`"), actor.call(body.to_vec())).await
}

pub(crate) async fn cast_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(actor) = state.host.actor(&name) else {
        return call_error(&state.host.why_unavailable(&name));
    };
    // Queued or refused at once: a full mailbox is an answer, not a wait.
    match actor.try_cast(body.to_vec()) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(error) => call_error(&error),
    }
}

/// `POST /v1/actors/NAME/restart`.
pub(crate) async fn restart_actor(state: State<AppState>, name: Path<String>) -> Response {
    act(state, name, Action::Restart).await
}

/// `POST /v1/actors/NAME/stop`.
pub(crate) async fn stop_actor(state: State<AppState>, name: Path<String>) -> Response {
    act(state, name, Action::Stop).await
}

/// `POST /v1/actors/NAME/start`.
pub(crate) async fn start_actor(state: State<AppState>, name: Path<String>) -> Response {
    act(state, name, Action::Start).await
}

/// `POST /v1/actors/NAME/upgrade`: the body is the new version's component.
/// It is compiled and checked first: one that does not load is refused
/// before anything changes; then the actor's supervisor upgrades it (see
/// `SupervisorRef::upgrade_child`).
pub(crate) async fn upgrade_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    component: Bytes,
) -> Response {
    let Some((supervisor, _)) = supervisor_of(&state.host, &name) else {
        return call_error(&CallError::NotFound(name));
    };
    let label = format!("the new version of `{name}` (uploaded)");
    let plugin = match state.host.load_plugin(label, component.to_vec()).await {
        Ok(plugin) => plugin,
        Err(error) => {
            return error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidPlugin,
                error.to_string(),
            );
        }
    };
    let version = plugin.version().to_owned();
    match supervisor.upgrade_child(&name, plugin).await {
        Ok(()) => {
            let probation = state
                .host
                .actor(&name)
                .and_then(|actor| actor.info().probation);
            Json(Upgraded {
                actor: name,
                version,
                probation,
            })
            .into_response()
        }
        Err(error) => child_error(&error),
    }
}

/// `POST /v1/actors/NAME/run`: a one-off run of the actor's `wasi:cli`
/// program with the request's arguments and stdin, answered with how it
/// ended (a crash is an outcome, 200) once it has.
pub(crate) async fn run_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let request: RunRequest = if body.is_empty() {
        RunRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    format!(
                        "the body is not a run request ({{\"args\": [...], \"stdin\": \"...\"}}): {error}"
                    ),
                );
            }
        }
    };
    let stdin = match request.stdin {
        Some(text) => Stdin::Bytes(text.into_bytes().into()),
        None => Stdin::Empty,
    };
    match state.host.run_actor_once(&name, request.args, stdin).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(error @ wasmvisor::Error::NoSuchActor(_)) => error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            error.to_string(),
        ),
        Err(error @ wasmvisor::Error::InvalidSpec { .. }) => error_response(
            StatusCode::CONFLICT,
            ErrorCode::WrongWorld,
            error.to_string(),
        ),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            error.to_string(),
        ),
    }
}

/// `POST /v1/actors/NAME/kill`: NAME is an actor or a supervisor, at any
/// depth.
pub(crate) async fn kill_actor(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Response {
    kill(&state.host, &name).await
}

/// Kills the actor or supervisor `name`.
async fn kill(host: &Host, name: &str) -> Response {
    let killed = if let Some(actor) = host.actor(name) {
        actor.kill().await.is_some()
    } else if let Some(supervisor) = supervisor_named(host, name) {
        supervisor.kill().await == SupervisorStatus::Killed
    } else {
        return call_error(&CallError::NotFound(name.to_owned()));
    };
    if killed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error_response(
            StatusCode::CONFLICT,
            ErrorCode::Management,
            format!("`{name}` is not running: nothing to kill"),
        )
    }
}

/// The running supervisor `name`: a top-level one, or a nested one at any
/// depth.
fn supervisor_named(host: &Host, name: &str) -> Option<SupervisorRef> {
    host.supervisors()
        .into_iter()
        .find(|supervisor| supervisor.name() == name)
        .or_else(|| supervisor_of(host, name)?.0.child_supervisor(name))
}

/// Asks the supervisor of `name` (at any depth) to act on it.
async fn act(State(state): State<AppState>, Path(name): Path<String>, action: Action) -> Response {
    let Some((supervisor, _)) = supervisor_of(&state.host, &name) else {
        return call_error(&CallError::NotFound(name));
    };
    let started = match action {
        Action::Restart => supervisor.restart_running(&name).await,
        Action::Start => supervisor.restart_child(&name).await,
        Action::Stop => {
            return match supervisor.terminate_child(&name).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(error) => child_error(&error),
            };
        }
        // Not the supervisor's call: the actor's own, or a supervisor's.
        Action::Kill => return kill(&state.host, &name).await,
    };
    match started {
        Ok(started) => Json(ActorStarted {
            actor: name,
            instance: started.instance(),
        })
        .into_response(),
        Err(error) => child_error(&error),
    }
}

pub(crate) async fn actor_state(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Response {
    match state.host.export_state(&name).await {
        // Neither an actor nor any state kept for one: nothing to export.
        Ok(export)
            if export.version == 0
                && export.entries.is_empty()
                && state.host.actor(&name).is_none() =>
        {
            error_response(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no actor named `{name}`, and no state kept for one"),
            )
        }
        Ok(export) => Json(export).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::StateStore,
            error.to_string(),
        ),
    }
}

pub(crate) async fn list_dead_letters(State(state): State<AppState>) -> Response {
    match state.host.dead_letters().await {
        Ok(letters) => Json::<Vec<DeadLetter>>(letters).into_response(),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::StateStore,
            error.to_string(),
        ),
    }
}

pub(crate) async fn replay_dead_letter(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Response {
    reply_in_time(
        format!("dead letter {id}"),
        state.host.replay_dead_letter(id),
    )
    .await
}

/// The kept lifecycle events, oldest first.
pub(crate) async fn recent_events(State(state): State<AppState>) -> Json<Vec<RecordedEvent>> {
    Json(state.host.recent_events())
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
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
        Ok(Err(error)) => call_error(&error),
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Timeout,
            format!("{what} got no answer within {} s", CALL_TIMEOUT.as_secs()),
        ),
    }
}
