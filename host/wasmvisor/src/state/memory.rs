//! The in-memory state store: fast, and gone when the host stops.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Changes, CommittedState, StateError, StateStore, apply_changes};

/// Keeps every actor's state in memory. Survives actor crashes and restarts,
/// not the host process. Meant for tests and for hosts whose plugins keep no
/// state worth keeping.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    actors: Mutex<HashMap<String, CommittedState>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CommittedState>> {
        // A panic while holding this lock cannot leave a map half-updated
        // (every update is a single insert), so a poisoned lock is still sound.
        self.actors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, actor: &str) -> Result<CommittedState, StateError> {
        Ok(self.lock().get(actor).cloned().unwrap_or_default())
    }

    async fn commit(&self, actor: &str, changes: Changes) -> Result<u64, StateError> {
        let mut actors = self.lock();
        let current = actors.get(actor).map_or(0, |state| state.version);
        if current != changes.base_version {
            return Err(StateError::Conflict {
                actor: actor.to_owned(),
                expected: changes.base_version,
                found: current,
            });
        }
        let state = actors.entry(actor.to_owned()).or_default();
        apply_changes(state, changes, current + 1);
        Ok(current + 1)
    }

    async fn delete(&self, actor: &str) -> Result<(), StateError> {
        let mut actors = self.lock();
        let state = actors.entry(actor.to_owned()).or_default();
        state.entries.clear();
        state.snapshot = None;
        state.version += 1;
        Ok(())
    }

    async fn actors(&self) -> Result<Vec<(String, u64)>, StateError> {
        let actors = self.lock();
        let mut list: Vec<(String, u64)> = actors
            .iter()
            .filter(|(_, state)| !state.entries.is_empty() || state.snapshot.is_some())
            .map(|(actor, state)| (actor.clone(), state.version))
            .collect();
        list.sort();
        Ok(list)
    }
}
