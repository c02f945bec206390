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
//! The store is kept in memory (the newest [`CAPACITY`] letters) and can be
//! listed and replayed through the host, its admin API and the CLI.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::CrashReason;

/// How many dead letters are kept; the oldest go first.
pub const CAPACITY: usize = 1000;

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

/// The host's dead letters.
#[derive(Default)]
pub(crate) struct DeadLetters {
    letters: Mutex<VecDeque<DeadLetter>>,
    next_id: AtomicU64,
}

impl DeadLetters {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DeadLetter>> {
        // Only pushes and removals happen under this lock.
        self.letters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a message that crashed `actor` on every delivery; returns its id.
    pub(crate) fn add(&self, actor: &str, message: Vec<u8>, crashes: Vec<CrashReason>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut letters = self.lock();
        if letters.len() == CAPACITY {
            letters.pop_front();
        }
        letters.push_back(DeadLetter {
            id,
            actor: actor.to_owned(),
            message,
            crashes,
        });
        id
    }

    /// Every dead letter, oldest first.
    pub(crate) fn list(&self) -> Vec<DeadLetter> {
        self.lock().iter().cloned().collect()
    }

    /// Takes a dead letter out of the store (to replay it).
    pub(crate) fn take(&self, id: u64) -> Option<DeadLetter> {
        let mut letters = self.lock();
        let index = letters.iter().position(|letter| letter.id == id)?;
        letters.remove(index)
    }

    /// Puts a dead letter back (its replay failed).
    pub(crate) fn put_back(&self, letter: DeadLetter) {
        let mut letters = self.lock();
        let index = letters.partition_point(|other| other.id < letter.id);
        letters.insert(index, letter);
        if letters.len() > CAPACITY {
            letters.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_kept_in_order_bounded_and_replayable() {
        let store = DeadLetters::default();
        for i in 0..CAPACITY + 5 {
            store.add("a", vec![i as u8], vec![CrashReason::Unreachable]);
        }
        let letters = store.list();
        assert_eq!(letters.len(), CAPACITY);
        assert_eq!(letters[0].id, 6, "the oldest went first");
        let taken = store.take(10).unwrap();
        assert!(store.take(10).is_none());
        store.put_back(taken);
        assert_eq!(store.list()[4].id, 10);
    }
}
