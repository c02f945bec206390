//! `wasmvisor:plugin/state`: the guest's key/value state.
//!
//! Reads see the committed state plus this message's pending writes; writes
//! go into the pending set of the instance's [`StateView`], which the actor
//! commits after the message succeeds (see `actor::transaction`). Keys,
//! values and the actor's total are bounded by its limits, and a write past
//! one is refused inside the guest, never a trap.

use wasmtime::component::{HasData, Linker};

use crate::runtime::bindings::state;
use crate::state::view::StateView;

/// The state limits of one actor, in bytes (see
/// [`Limits`](crate::Limits)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateLimits {
    pub(crate) max_key_bytes: u64,
    pub(crate) max_value_bytes: u64,
    pub(crate) max_state_bytes: u64,
}

/// What the `state` import works on: one instance's view of its state.
pub(crate) struct StateCtxView<'a> {
    pub(crate) view: &'a mut StateView,
    pub(crate) limits: StateLimits,
}

/// A store's data that serves the `state` import.
pub(crate) trait StateImportView: Send {
    /// The view the guest's calls read and write.
    fn state(&mut self) -> StateCtxView<'_>;
}

struct HasState;

impl HasData for HasState {
    type Data<'a> = StateCtxView<'a>;
}

/// Adds the `state` interface to `linker`.
pub(crate) fn add_to_linker<T: StateImportView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    state::add_to_linker::<T, HasState>(linker, T::state)
}

impl state::Host for StateCtxView<'_> {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.view.get(&key).map(<[u8]>::to_vec)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), state::StateError> {
        let limits = self.limits;
        if key.is_empty() || key.len() as u64 > limits.max_key_bytes {
            return Err(state::StateError::InvalidKey(limits.max_key_bytes));
        }
        if value.len() as u64 > limits.max_value_bytes {
            return Err(state::StateError::ValueTooLarge(limits.max_value_bytes));
        }
        if self.view.bytes_after_set(&key, value.len()) > limits.max_state_bytes {
            return Err(state::StateError::QuotaExceeded(limits.max_state_bytes));
        }
        self.view.set(key, value);
        Ok(())
    }

    fn delete(&mut self, key: String) {
        self.view.delete(key);
    }

    fn list_keys(&mut self, prefix: String) -> Vec<String> {
        self.view.keys_with_prefix(&prefix)
    }
}
