//! Each actor's share of the endpoint's concurrency: a request addressed to
//! one actor (`/v1/actors/NAME/...`) takes a place in that actor's share,
//! at most [`MAX_REQUESTS_PER_ACTOR`], and none in the pool the other
//! requests share. So a slow or spinning actor turns its own callers away
//! (503 at once, naming it) and nobody else's.
//!
//! ```text
//!   /v1/actors/spinner/call ──> spinner's share (32) ── full: 503 "actor `spinner` ..."
//!   /v1/actors/counter/call ──> counter's share (32)
//!   /v1/tree, /metrics, ... ──> the shared pool (64)  ── full: 503 "the admin endpoint ..."
//! ```
//!
//! Every request is bounded as well by the connection cap (`connections`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::errors::error_response;
use crate::MAX_REQUESTS_PER_ACTOR;
use crate::api::ErrorCode;

/// How many requests each actor has in flight through the endpoint. An
/// actor with none has no entry, so names that were only asked about once
/// take no room.
#[derive(Default)]
pub(crate) struct ActorShares {
    in_flight: Mutex<HashMap<String, usize>>,
}

/// A place in one actor's share, given back when dropped.
struct Place {
    shares: Arc<ActorShares>,
    actor: String,
}

impl ActorShares {
    /// Takes a place in `actor`'s share, if one is free.
    fn take(self: &Arc<Self>, actor: &str) -> Option<Place> {
        let mut in_flight = lock(&self.in_flight);
        let count = in_flight.entry(actor.to_owned()).or_default();
        if *count >= MAX_REQUESTS_PER_ACTOR {
            return None;
        }
        *count += 1;
        Some(Place {
            shares: Arc::clone(self),
            actor: actor.to_owned(),
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.shares.in_flight);
        if let Some(count) = in_flight.get_mut(&self.actor) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.actor);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counts are changed in one step each: a poisoned map is consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serves a request addressed to the actor `name` in that actor's share,
/// or refuses it at once when the share is full.
pub(super) async fn in_actor_share(
    State(shares): State<Arc<ActorShares>>,
    Path(name): Path<String>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match shares.take(&name) {
        Some(place) => {
            let response = next.run(request).await;
            drop(place);
            response
        }
        None => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Busy,
            format!(
                "actor `{name}` has {MAX_REQUESTS_PER_ACTOR} requests of the admin endpoint in \
                 flight already; try again (other actors are not held up)"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::MAX_REQUESTS_PER_ACTOR;
    use crate::server::shares::{ActorShares, lock};

    #[test]
    fn a_share_is_per_actor_and_given_back() {
        let shares = Arc::new(ActorShares::default());
        let spinner: Vec<_> = (0..MAX_REQUESTS_PER_ACTOR)
            .map(|_| shares.take("spinner").unwrap())
            .collect();
        assert!(shares.take("spinner").is_none(), "full");
        assert!(shares.take("counter").is_some(), "another actor's share");
        drop(spinner);
        assert!(shares.take("spinner").is_some());
        assert!(
            lock(&shares.in_flight).is_empty(),
            "no entry for an idle actor"
        );
    }
}
