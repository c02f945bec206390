//! What one instance sees of its actor's state: the committed state plus the
//! pending writes of the message being handled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Changes, CommittedState, apply_changes};

/// The committed state, loaded when the instance started, and the writes of
/// the current message on top of it.
#[derive(Debug, Default)]
pub(crate) struct StateView {
    committed: CommittedState,
    pending: BTreeMap<String, Option<Vec<u8>>>,
    pending_snapshot: Option<Vec<u8>>,
    /// The size (keys plus values) of the committed entries.
    committed_bytes: u64,
    /// The size of the entries as the guest sees them now.
    bytes: u64,
    /// Where the committed size is reported, for listings.
    size_gauge: Option<Arc<AtomicU64>>,
}

/// What an entry costs against the state quota.
fn entry_bytes(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl StateView {
    pub(crate) fn new(committed: CommittedState) -> Self {
        let committed_bytes = committed
            .entries
            .iter()
            .map(|(key, value)| entry_bytes(key, value))
            .sum();
        StateView {
            committed,
            committed_bytes,
            bytes: committed_bytes,
            ..StateView::default()
        }
    }

    /// Reports the committed size to `gauge`, now and after every commit.
    pub(crate) fn reporting_size_to(mut self, gauge: &Arc<AtomicU64>) -> Self {
        gauge.store(self.committed_bytes, Ordering::Relaxed);
        self.size_gauge = Some(gauge.clone());
        self
    }

    /// The size of the entries as the guest sees them now.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What the size would become if `key` were set to a value of
    /// `value_len` bytes.
    pub(crate) fn bytes_after_set(&self, key: &str, value_len: usize) -> u64 {
        let current = self.get(key).map_or(0, |v| entry_bytes(key, v));
        self.bytes - current + (key.len() + value_len) as u64
    }

    #[cfg(test)]
    pub(crate) fn committed(&self) -> &CommittedState {
        &self.committed
    }

    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(pending) => pending.as_deref(),
            None => self.committed.entries.get(key).map(Vec::as_slice),
        }
    }

    pub(crate) fn set(&mut self, key: String, value: Vec<u8>) {
        self.bytes = self.bytes_after_set(&key, value.len());
        self.pending.insert(key, Some(value));
    }

    pub(crate) fn delete(&mut self, key: String) {
        if let Some(current) = self.get(&key) {
            self.bytes -= entry_bytes(&key, current);
        }
        self.pending.insert(key, None);
    }

    pub(crate) fn set_snapshot(&mut self, snapshot: Vec<u8>) {
        self.pending_snapshot = Some(snapshot);
    }

    /// Keys starting with `prefix`, committed or pending, in ascending order.
    pub(crate) fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        let committed = self
            .committed
            .entries
            .range(prefix.to_owned()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .filter(|key| !self.pending.contains_key(*key));
        let pending = self
            .pending
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, value)| value.is_some())
            .map(|(key, _)| key);
        let mut keys: Vec<String> = committed.chain(pending).cloned().collect();
        keys.sort_unstable();
        keys
    }

    /// Takes the pending writes out as a change set based on the committed
    /// version, leaving nothing pending.
    pub(crate) fn take_changes(&mut self) -> Changes {
        Changes {
            base_version: self.committed.version,
            writes: std::mem::take(&mut self.pending),
            snapshot: self.pending_snapshot.take(),
        }
    }

    /// Records that `changes` were committed as `new_version`.
    pub(crate) fn committed_as(&mut self, changes: Changes, new_version: u64) {
        apply_changes(&mut self.committed, changes, new_version);
        self.committed_bytes = self.bytes;
        if let Some(gauge) = &self.size_gauge {
            gauge.store(self.committed_bytes, Ordering::Relaxed);
        }
    }

    /// Drops the pending writes (the message failed).
    pub(crate) fn discard(&mut self) {
        self.pending.clear();
        self.pending_snapshot = None;
        self.bytes = self.committed_bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_with(entries: &[(&str, &str)]) -> StateView {
        let mut committed = CommittedState::default();
        for (key, value) in entries {
            committed
                .entries
                .insert((*key).to_owned(), value.as_bytes().to_vec());
        }
        committed.version = 3;
        StateView::new(committed)
    }

    #[test]
    fn pending_writes_shadow_committed_values() {
        let mut view = view_with(&[("a", "1"), ("b", "2")]);
        view.set("a".into(), b"10".to_vec());
        view.delete("b".into());
        assert_eq!(view.get("a"), Some(&b"10"[..]));
        assert_eq!(view.get("b"), None);
        view.discard();
        assert_eq!(view.get("a"), Some(&b"1"[..]));
        assert_eq!(view.get("b"), Some(&b"2"[..]));
    }

    #[test]
    fn keys_merge_committed_and_pending_in_order() {
        let mut view = view_with(&[("user/a", "1"), ("user/c", "3"), ("other", "x")]);
        view.set("user/b".into(), b"2".to_vec());
        view.delete("user/c".into());
        assert_eq!(view.keys_with_prefix("user/"), vec!["user/a", "user/b"]);
        assert_eq!(view.keys_with_prefix("").len(), 3);
    }

    #[test]
    fn the_size_follows_writes_deletes_and_discards() {
        let mut view = view_with(&[("a", "12345")]);
        assert_eq!(view.bytes(), 6);
        view.set("a".into(), b"1".to_vec());
        view.set("bb".into(), b"22".to_vec());
        assert_eq!(view.bytes(), 2 + 4);
        assert_eq!(view.bytes_after_set("bb", 10), 2 + 12);
        view.delete("a".into());
        view.delete("missing".into());
        assert_eq!(view.bytes(), 4);
        view.discard();
        assert_eq!(view.bytes(), 6);
        view.set("c".into(), b"333".to_vec());
        let changes = view.take_changes();
        view.committed_as(changes, 4);
        view.discard();
        assert_eq!(view.bytes(), 10);
    }

    #[test]
    fn changes_are_based_on_the_committed_version() {
        let mut view = view_with(&[]);
        view.set("k".into(), b"v".to_vec());
        let changes = view.take_changes();
        assert_eq!(changes.base_version, 3);
        assert!(view.take_changes().is_empty());
        view.committed_as(changes, 4);
        assert_eq!(view.committed().version, 4);
        assert_eq!(view.get("k"), Some(&b"v"[..]));
    }
}
