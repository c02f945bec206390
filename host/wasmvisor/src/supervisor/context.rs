//! What a supervisor needs from its host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::actor::ActorContext;
use crate::registry::Registry;

/// What a supervisor needs from its host.
#[derive(Clone)]
pub(crate) struct SupervisorContext {
    pub(crate) actor: ActorContext,
    pub(crate) registry: Arc<Registry>,
    pub(crate) next_instance: Arc<AtomicU64>,
}

impl SupervisorContext {
    pub(crate) fn new_instance_id(&self) -> u64 {
        self.next_instance.fetch_add(1, Ordering::Relaxed)
    }
}
