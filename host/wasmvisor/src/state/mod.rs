//! Actor state: the pluggable [`StateStore`] and the per-message view a guest
//! reads and writes through the `state` import.
//!
//! Each actor has a namespace of key/value entries, an optional snapshot (the
//! bytes its `snapshot` export returned) and a version that grows by one on
//! every commit. A message's writes are collected in a [`Changes`] set and
//! committed atomically after the message succeeds; a commit names the version
//! it was based on, and the store refuses it if that is no longer the current
//! version, so a stale writer can never overwrite newer state.
//!
//! ```text
//!   guest set/delete ──> pending writes (visible to the guest at once)
//!   handle -> ok     ──> StateStore::commit(base version, writes, snapshot) ──> reply
//!   handle -> err/trap ─> pending writes dropped
//!   instance start   ──> StateStore::load ──> the committed state, exactly
//! ```
//!
//! Backends: [`MemoryStateStore`] (tests, ephemeral hosts) and, with the
//! `redb` feature, `RedbStateStore` (the durable default, fsync'd on every
//! commit). The contract every backend keeps, and what survives what, is
//! `docs/design/state.md`.

pub mod backup;
pub mod conformance;
mod memory;
#[cfg(feature = "redb")]
mod redb;
pub(crate) mod view;

use std::collections::BTreeMap;

pub use self::memory::MemoryStateStore;
#[cfg(feature = "redb")]
pub use self::redb::{CommitMode, RedbStateStore};

/// The prefix of state-store names reserved for the host's own records
/// (the dead letters); no actor name may start with it.
pub(crate) const RESERVED_PREFIX: &str = "wasmvisor:";

/// The committed state of one actor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommittedState {
    /// Grows by one on every commit; 0 for an actor that never committed.
    pub version: u64,
    /// The key/value entries.
    pub entries: BTreeMap<String, Vec<u8>>,
    /// The last snapshot taken of a guest that exports `snapshot`.
    pub snapshot: Option<Vec<u8>>,
}

/// The effects of one successful message, committed atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The version these changes were made against. The commit is refused
    /// with [`StateError::Conflict`] unless this is still the current version.
    pub base_version: u64,
    /// New values (`Some`) and deletions (`None`), by key.
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    /// A new snapshot to keep, replacing the previous one.
    pub snapshot: Option<Vec<u8>>,
}

impl Changes {
    /// True when committing these changes would change nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.snapshot.is_none()
    }
}

/// An error from a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The actor's state moved on since the changes were made: another
    /// writer committed first. Nothing was written.
    #[error(
        "state of actor `{actor}` is at version {found}, not {expected}: a newer writer committed first"
    )]
    Conflict {
        /// The actor.
        actor: String,
        /// The version the changes were based on.
        expected: u64,
        /// The version found in the store.
        found: u64,
    },
    /// The store file is held by another process (another running host).
    #[error(
        "state store {path} is in use by another process (is another wasmvisor host running on it?)"
    )]
    InUse {
        /// The store file.
        path: String,
    },
    /// The store file exists but is not a sound store: empty, truncated,
    /// overwritten or altered outside the host. Nothing was changed in it;
    /// restore it from a backup, or move it aside to start afresh.
    #[error("state store {path} is damaged: {cause}")]
    Damaged {
        /// The store file.
        path: String,
        /// What is wrong with it.
        cause: String,
    },
    /// The backend failed.
    #[error("state store: {context}: {source}")]
    Backend {
        /// What the store was doing.
        context: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StateError {
    pub(crate) fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StateError::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Where actors' state is kept. Implement this to plug in a backend of your
/// own; every backend must keep this contract, which
/// [`conformance::check`] verifies:
///
/// - **Namespaces:** each actor's entries, snapshot and version are its own;
///   nothing one actor commits is visible to another.
/// - **Versions:** `load` of an actor that never committed returns the empty
///   state with version 0; every successful `commit` or `delete` moves the
///   version on by one.
/// - **Atomic compare-and-set:** `commit` applies all of a [`Changes`] or
///   nothing, and only if `base_version` is still the current version;
///   otherwise it fails with [`StateError::Conflict`] and writes nothing. A
///   stale writer (an instance that was replaced, another host) can never
///   overwrite newer state.
/// - **Durability:** once `commit` has returned `Ok`, the changes survive
///   whatever the backend promises to survive (a durable backend: a crash of
///   the process; the memory backend: restarts of actors only).
///
/// A backend of your own, checked against the contract and handed to a host:
///
/// ```no_run
/// use wasmvisor::state::{Changes, CommittedState, conformance};
/// use wasmvisor::{Host, MemoryStateStore, StateError, StateStore};
///
/// /// A store that logs every commit, over the memory store.
/// struct Logged(MemoryStateStore);
///
/// #[async_trait::async_trait]
/// impl StateStore for Logged {
///     async fn load(&self, actor: &str) -> Result<CommittedState, StateError> {
///         self.0.load(actor).await
///     }
///     async fn commit(&self, actor: &str, changes: Changes) -> Result<u64, StateError> {
///         let version = self.0.commit(actor, changes).await?;
///         println!("{actor} is at version {version}");
///         Ok(version)
///     }
///     async fn delete(&self, actor: &str) -> Result<(), StateError> {
///         self.0.delete(actor).await
///     }
///     async fn actors(&self) -> Result<Vec<(String, u64)>, StateError> {
///         self.0.actors().await
///     }
/// }
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// conformance::check(&Logged(MemoryStateStore::new())).await?;
/// let host = Host::builder().state_store(Logged(MemoryStateStore::new())).build()?;
/// # drop(host); Ok(()) }
/// ```
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Reads the committed state of `actor`.
    async fn load(&self, actor: &str) -> Result<CommittedState, StateError>;

    /// Atomically applies `changes` to `actor`'s state, if the state is still
    /// at `changes.base_version`, and returns the new version.
    async fn commit(&self, actor: &str, changes: Changes) -> Result<u64, StateError>;

    /// Deletes `actor`'s entries and snapshot. The version still moves on,
    /// so a writer based on the deleted state is refused.
    async fn delete(&self, actor: &str) -> Result<(), StateError>;

    /// The actors that have entries or a snapshot, with their versions, in
    /// name order.
    async fn actors(&self) -> Result<Vec<(String, u64)>, StateError>;
}

/// Applies `changes` to `state` in memory (shared by the backends and the
/// per-message view).
pub(crate) fn apply_changes(state: &mut CommittedState, changes: Changes, new_version: u64) {
    for (key, value) in changes.writes {
        match value {
            Some(value) => {
                state.entries.insert(key, value);
            }
            None => {
                state.entries.remove(&key);
            }
        }
    }
    if let Some(snapshot) = changes.snapshot {
        state.snapshot = Some(snapshot);
    }
    state.version = new_version;
}
