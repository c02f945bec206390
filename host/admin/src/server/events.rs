//! `GET /v1/events`: the host's lifecycle events as server-sent events.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{self, Sse};
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use wasmvisor::events::{Position, RecordedEvent};

use super::AppState;
use super::errors::error_response;
use crate::api::ErrorCode;

/// The query of `GET /v1/events`.
#[derive(serde::Deserialize)]
pub(crate) struct EventsQuery {
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
pub(crate) async fn events(
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
            ErrorCode::BadRequest,
            format!("`{text}` is not an event position: give SEQ or BOOT-SEQ (an event id)"),
        );
    }
    let since = since.flatten();
    let boot = state.host.boot_id();
    let replay = state.host.replay_events(since);
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
