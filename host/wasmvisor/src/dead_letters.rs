//! Dead letters: messages that kept crashing their actor.
//!
//! By default a message that crashes its actor is answered with
//! [`CallError::Crashed`](crate::CallError::Crashed) and dropped. A child
//! can opt into *redelivery* ([`ChildSpec::redelivery`](crate::ChildSpec::redelivery)):
//! the message is then handed to the next instance, first, up to a number
//! of attempts. A message that crashes the actor on every attempt is a
//! *poison message*: it is put here, with every crash reason, its caller
//! gets [`CallError::DeadLettered`](crate::CallError::DeadLettered), an
//! event says so, and the actor goes on with its other messages. This is
//! what keeps one "query of death" from crash-looping an actor into its
//! restart limit.
//!
//! The letters live in the host's state store, under the reserved namespace
//! [`NAMESPACE`], one entry per letter (its id, zero-padded so that the keys
//! sort by age; the value is the letter as JSON). So they survive a restart
//! of the host exactly as actors' state does (with a durable store), and
//! show up in `wasmvisor state` listings and backups. The newest
//! [`CAPACITY`] are kept. A caller is told a message was dead-lettered only
//! once the letter is committed.
//!
//! A replay leaves the letter in place until the replay has an answer, so a
//! host that dies half-way through a replay still has the letter; one that
//! dies after the actor handled it but before the letter was removed will
//! offer it for replay again (replays are at least once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::CrashReason;
use crate::state::{Changes, StateError, StateStore};

/// How many dead letters are kept; the oldest go first.
pub const CAPACITY: usize = 1000;

/// The state-store namespace the dead letters are kept in. Actor names may
/// not start with `wasmvisor:` (the state store's reserved prefix), so no
/// actor can collide with it.
pub(crate) const NAMESPACE: &str = "wasmvisor:dead-letters";

/// A message that crashed its actor on every delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id in the store, for replay.
    pub id: u64,
    /// The actor it was sent to.
    pub actor: String,
    /// The message.
    pub message: Vec<u8>,
    /// Why each delivery crashed, in order.
    pub crashes: Vec<CrashReason>,
}

/// The host's dead letters, kept in its state store.
pub(crate) struct DeadLetters {
    store: Arc<dyn StateStore>,
    /// Read from the store on first use. A tokio mutex: commits happen under
    /// it, so that versions and ids are handed out one at a time.
    kept: Mutex<Option<Kept>>,
}

/// The letters as last committed, and the store's version of them.
#[derive(Default)]
struct Kept {
    version: u64,
    letters: BTreeMap<u64, DeadLetter>,
    /// The id the next letter gets: ids are never reused, so that a replay
    /// by id from an old listing cannot pick up another message.
    next_id: u64,
    /// Letters being replayed right now (not offered for another replay).
    replaying: BTreeSet<u64>,
}

/// The entry that keeps [`Kept::next_id`] (letters' keys are digits only).
const NEXT_ID_KEY: &str = "next-id";

fn key(id: u64) -> String {
    format!("{id:020}")
}

impl DeadLetters {
    pub(crate) fn new(store: Arc<dyn StateStore>) -> Self {
        DeadLetters {
            store,
            kept: Mutex::new(None),
        }
    }

    /// Runs `f` on the letters, loading them on first use.
    async fn with_kept<R>(&self, f: impl AsyncFnOnce(&mut Kept) -> R) -> Result<R, StateError> {
        let mut guard = self.kept.lock().await;
        let kept = match guard.take() {
            Some(kept) => kept,
            None => self.load().await?,
        };
        Ok(f(guard.insert(kept)).await)
    }

    async fn load(&self) -> Result<Kept, StateError> {
        let committed = self.store.load(NAMESPACE).await?;
        let mut letters = BTreeMap::new();
        let mut next_id = 1;
        for (key, value) in committed.entries {
            if key == NEXT_ID_KEY {
                next_id = next_id.max(
                    std::str::from_utf8(&value)
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .unwrap_or(1),
                );
                continue;
            }
            match serde_json::from_slice::<DeadLetter>(&value) {
                Ok(letter) => {
                    letters.insert(letter.id, letter);
                }
                // Not ours to delete: someone wrote it there; say so and go on.
                Err(e) => tracing::warn!(key, "ignoring an unreadable dead letter: {e}"),
            }
        }
        if let Some(newest) = letters.keys().next_back() {
            next_id = next_id.max(newest + 1);
        }
        Ok(Kept {
            version: committed.version,
            letters,
            next_id,
            replaying: BTreeSet::new(),
        })
    }

    /// Commits `writes` against `kept`'s version and moves it on.
    async fn commit(
        &self,
        kept: &mut Kept,
        writes: BTreeMap<String, Option<Vec<u8>>>,
    ) -> Result<(), StateError> {
        let changes = Changes {
            base_version: kept.version,
            writes,
            snapshot: None,
        };
        kept.version = self.store.commit(NAMESPACE, changes).await?;
        Ok(())
    }

    /// Keeps a message that crashed `actor` on every delivery; returns its
    /// id once the letter is committed.
    pub(crate) async fn add(
        &self,
        actor: &str,
        message: Vec<u8>,
        crashes: Vec<CrashReason>,
    ) -> Result<u64, StateError> {
        self.with_kept(async |kept| {
            let letter = DeadLetter {
                id: kept.next_id,
                actor: actor.to_owned(),
                message,
                crashes,
            };
            let value = serde_json::to_vec(&letter)
                .map_err(|e| StateError::backend("encoding a dead letter", e))?;
            let mut writes = BTreeMap::from([
                (key(letter.id), Some(value)),
                (
                    NEXT_ID_KEY.to_owned(),
                    Some((letter.id + 1).to_string().into_bytes()),
                ),
            ]);
            let overflow = (kept.letters.len() + 1).saturating_sub(CAPACITY);
            let oldest: Vec<u64> = kept.letters.keys().take(overflow).copied().collect();
            for id in &oldest {
                writes.insert(key(*id), None);
            }
            self.commit(kept, writes).await?;
            for id in oldest {
                kept.letters.remove(&id);
            }
            let id = letter.id;
            kept.next_id = id + 1;
            kept.letters.insert(id, letter);
            Ok(id)
        })
        .await?
    }

    /// Every dead letter, oldest first.
    pub(crate) async fn list(&self) -> Result<Vec<DeadLetter>, StateError> {
        self.with_kept(async |kept| kept.letters.values().cloned().collect())
            .await
    }

    /// Marks letter `id` as being replayed and returns it; `None` if there
    /// is no such letter or it is being replayed already.
    pub(crate) async fn begin_replay(&self, id: u64) -> Result<Option<DeadLetter>, StateError> {
        self.with_kept(async |kept| {
            let letter = kept.letters.get(&id)?.clone();
            kept.replaying.insert(id).then_some(letter)
        })
        .await
    }

    /// Ends the replay of letter `id`: removes it from the store when
    /// `handled`, or leaves it there to be replayed again.
    pub(crate) async fn end_replay(&self, id: u64, handled: bool) -> Result<(), StateError> {
        self.with_kept(async |kept| {
            kept.replaying.remove(&id);
            if !handled || !kept.letters.contains_key(&id) {
                return Ok(());
            }
            self.commit(kept, BTreeMap::from([(key(id), None)])).await?;
            kept.letters.remove(&id);
            Ok(())
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStateStore;

    #[tokio::test]
    async fn letters_are_kept_in_order_bounded_replayable_and_reloaded() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
        let letters = DeadLetters::new(store.clone());
        for i in 0..CAPACITY + 5 {
            letters
                .add("a", vec![i as u8], vec![CrashReason::Unreachable])
                .await
                .unwrap();
        }
        let listed = letters.list().await.unwrap();
        assert_eq!(listed.len(), CAPACITY);
        assert_eq!(listed[0].id, 6, "the oldest went first");

        let replayed = letters.begin_replay(10).await.unwrap().unwrap();
        assert_eq!(replayed.message, vec![9]);
        assert!(
            letters.begin_replay(10).await.unwrap().is_none(),
            "one replay at a time"
        );
        letters.end_replay(10, false).await.unwrap();
        assert!(letters.begin_replay(10).await.unwrap().is_some());
        letters.end_replay(10, true).await.unwrap();
        assert!(letters.begin_replay(10).await.unwrap().is_none());

        // Another host on the same store sees the same letters.
        let reloaded = DeadLetters::new(store.clone()).list().await.unwrap();
        assert_eq!(reloaded, letters.list().await.unwrap());
        assert_eq!(reloaded.len(), CAPACITY - 1);

        // Ids are never reused, not even the newest one's after its replay,
        // and not by another host on the same store.
        let newest = reloaded.last().unwrap().id;
        letters.begin_replay(newest).await.unwrap().unwrap();
        letters.end_replay(newest, true).await.unwrap();
        let next = DeadLetters::new(store)
            .add("a", vec![], vec![CrashReason::Unreachable])
            .await
            .unwrap();
        assert_eq!(next, newest + 1);
    }
}
