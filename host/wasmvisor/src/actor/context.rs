//! What an actor's task needs from its host.

use std::sync::Arc;

use crate::dead_letters::DeadLetters;
use crate::events::EventBus;
use crate::front::HttpFront;
use crate::metrics::Metrics;
use crate::runtime::{Engines, InstanceCount, Peers};
use crate::state::StateStore;

/// Everything an actor task needs from its host.
#[derive(Clone)]
pub(crate) struct ActorContext {
    pub(crate) engines: Engines,
    pub(crate) state_store: Arc<dyn StateStore>,
    pub(crate) events: EventBus,
    pub(crate) metrics: Arc<Metrics>,
    /// The other actors of the host, for the `actors` import.
    pub(crate) peers: Arc<dyn Peers>,
    /// Where poison messages go.
    pub(crate) dead_letters: Arc<DeadLetters>,
    /// How many instances exist.
    pub(crate) instances: InstanceCount,
    /// The listeners `wasi:http` actors are served on.
    pub(crate) front: Arc<HttpFront>,
}
