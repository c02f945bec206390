//! Export and import of one actor's state, and backups of a whole store:
//! files an operator can read.
//!
//! The file is JSON: the actor, its version when exported, its entries and
//! its snapshot. A value that is valid UTF-8 is written as
//! `{"text": "..."}`, any other as `{"hex": "..."}`, so that most state
//! can be read (and edited) by a person.
//!
//! ```json
//! {
//!   "format": "wasmvisor-state/1",
//!   "actor": "counter",
//!   "version": 12,
//!   "entries": { "count": { "text": "11" } },
//!   "snapshot": null
//! }
//! ```

use std::collections::BTreeMap;

use super::{Changes, StateError, StateStore};

/// The value of `format` in every export.
pub const EXPORT_FORMAT: &str = "wasmvisor-state/1";

/// One actor's state, as exported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The actor the state was exported from.
    pub actor: String,
    /// Its version when exported.
    pub version: u64,
    /// The entries.
    pub entries: BTreeMap<String, Bytes>,
    /// The snapshot, if it had one.
    pub snapshot: Option<Bytes>,
}

/// The value of `format` in every whole-store backup.
pub const BACKUP_FORMAT: &str = "wasmvisor-state-backup/1";

/// Every actor's state in a store, the host's own records (the dead
/// letters) included: one [`StateExport`] each.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreBackup {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// Each actor's state, by name order.
    pub actors: Vec<StateExport>,
}

/// Backs up every actor's committed state in `store`.
///
/// # Errors
///
/// The store's error.
pub async fn backup_store(store: &dyn StateStore) -> Result<StoreBackup, StateError> {
    let mut actors = Vec::new();
    for (actor, _) in store.actors().await? {
        actors.push(export_actor(store, &actor).await?);
    }
    actors.sort_by(|a, b| a.actor.cmp(&b.actor));
    Ok(StoreBackup {
        format: BACKUP_FORMAT.to_owned(),
        actors,
    })
}

/// Puts every actor of `backup` into `store`, each under the name it was
/// backed up from ([`import_actor`] each). Returns how many.
///
/// # Errors
///
/// [`ImportError`]: a file that is not a backup, a value that does not
/// decode, or the store's error. The actors before the failing one are
/// restored.
pub async fn restore_store(
    store: &dyn StateStore,
    backup: &StoreBackup,
) -> Result<usize, ImportError> {
    if backup.format != BACKUP_FORMAT {
        return Err(ImportError::Format {
            found: backup.format.clone(),
        });
    }
    for export in &backup.actors {
        import_actor(store, &export.actor, export).await?;
    }
    Ok(backup.actors.len())
}

/// Why an export could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is not an export of this format.
    #[error(
        "not a wasmvisor state export or backup: format is `{found}`, expected `{EXPORT_FORMAT}` \
         (one actor) or `{BACKUP_FORMAT}` (a store)"
    )]
    Format {
        /// The format the file names.
        found: String,
    },
    /// A value's hex form is not hex.
    #[error("{what}: {source}")]
    Value {
        /// Which value (`entry `KEY``, or `snapshot`).
        what: String,
        /// Why.
        #[source]
        source: NotHex,
    },
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A hex form that is not hex.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{hex}` is not hex{why}")]
pub struct NotHex {
    hex: String,
    why: &'static str,
}

/// Bytes, as text when they are UTF-8 and as hex otherwise.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Bytes {
    /// UTF-8 text.
    Text(String),
    /// Any bytes, as lowercase hex.
    Hex(String),
}

impl Bytes {
    fn from_vec(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Bytes::Text(text),
            Err(error) => Bytes::Hex(
                error
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            ),
        }
    }

    /// The bytes.
    ///
    /// # Errors
    ///
    /// [`NotHex`] when the hex form is not valid hex.
    pub fn to_vec(&self) -> Result<Vec<u8>, NotHex> {
        match self {
            Bytes::Text(text) => Ok(text.clone().into_bytes()),
            Bytes::Hex(hex) => {
                let not_hex = |why| NotHex {
                    hex: hex.clone(),
                    why,
                };
                if hex.len() % 2 != 0 {
                    return Err(not_hex(": odd length"));
                }
                hex.as_bytes()
                    .chunks(2)
                    .map(|pair| {
                        std::str::from_utf8(pair)
                            .ok()
                            .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                            .ok_or_else(|| not_hex(""))
                    })
                    .collect()
            }
        }
    }
}

/// Exports `actor`'s committed state.
///
/// # Errors
///
/// The store's error.
pub async fn export_actor(store: &dyn StateStore, actor: &str) -> Result<StateExport, StateError> {
    let state = store.load(actor).await?;
    Ok(StateExport {
        format: EXPORT_FORMAT.to_owned(),
        actor: actor.to_owned(),
        version: state.version,
        entries: state
            .entries
            .into_iter()
            .map(|(key, value)| (key, Bytes::from_vec(value)))
            .collect(),
        snapshot: state.snapshot.map(Bytes::from_vec),
    })
}

/// Replaces `actor`'s state with `export` (which may come from another
/// actor): every current entry is removed and every exported one written,
/// in one commit; the snapshot is replaced too (removed first if the export
/// has none). Returns the new version.
///
/// # Errors
///
/// [`ImportError`]: a file that is not an export, a value that does not
/// decode, or the store's error.
pub async fn import_actor(
    store: &dyn StateStore,
    actor: &str,
    export: &StateExport,
) -> Result<u64, ImportError> {
    if export.format != EXPORT_FORMAT {
        return Err(ImportError::Format {
            found: export.format.clone(),
        });
    }
    let decode = |what: String, bytes: &Bytes| {
        bytes
            .to_vec()
            .map_err(|source| ImportError::Value { what, source })
    };
    let mut writes: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for (key, value) in &export.entries {
        let value = decode(format!("entry `{key}`"), value)?;
        writes.insert(key.clone(), Some(value));
    }
    let snapshot = match &export.snapshot {
        Some(snapshot) => Some(decode("snapshot".to_owned(), snapshot)?),
        None => None,
    };
    let mut current = store.load(actor).await?;
    if snapshot.is_none() && current.snapshot.is_some() {
        store.delete(actor).await?;
        current = store.load(actor).await?;
    }
    for key in current.entries.keys() {
        writes.entry(key.clone()).or_insert(None);
    }
    let changes = Changes {
        base_version: current.version,
        writes,
        snapshot,
    };
    Ok(store.commit(actor, changes).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_backup_restores_every_actor_into_an_empty_store() {
        let store = crate::state::MemoryStateStore::new();
        for actor in ["b", "a", "wasmvisor:dead-letters"] {
            let mut changes = Changes::default();
            changes
                .writes
                .insert("k".into(), Some(actor.as_bytes().to_vec()));
            changes.snapshot = (actor == "a").then(|| b"snap".to_vec());
            store.commit(actor, changes).await.unwrap();
        }
        let backup = backup_store(&store).await.unwrap();
        let names: Vec<_> = backup.actors.iter().map(|e| e.actor.as_str()).collect();
        assert_eq!(names, ["a", "b", "wasmvisor:dead-letters"]);
        let restored = crate::state::MemoryStateStore::new();
        assert_eq!(restore_store(&restored, &backup).await.unwrap(), 3);
        for actor in ["a", "b", "wasmvisor:dead-letters"] {
            let (was, is) = (
                store.load(actor).await.unwrap(),
                restored.load(actor).await.unwrap(),
            );
            assert_eq!(
                (was.entries, was.snapshot),
                (is.entries, is.snapshot),
                "{actor}"
            );
        }
        let mut wrong = backup;
        wrong.format = EXPORT_FORMAT.into();
        assert!(matches!(
            restore_store(&restored, &wrong).await,
            Err(ImportError::Format { .. })
        ));
    }

    #[test]
    fn text_stays_readable_and_other_bytes_round_trip_as_hex() {
        assert_eq!(Bytes::from_vec(b"11".to_vec()), Bytes::Text("11".into()));
        let binary = vec![0xff, 0x00, 0x7f];
        let encoded = Bytes::from_vec(binary.clone());
        assert_eq!(encoded, Bytes::Hex("ff007f".into()));
        assert_eq!(encoded.to_vec(), Ok(binary));
        assert!(Bytes::Hex("abc".into()).to_vec().is_err());
        assert!(Bytes::Hex("zz".into()).to_vec().is_err());
        // Even length in bytes, but not ASCII: an error, not a panic.
        assert!(Bytes::Hex("a€".into()).to_vec().is_err());
    }

    #[tokio::test]
    async fn import_replaces_every_entry_and_the_snapshot() {
        let store = crate::state::MemoryStateStore::new();
        let mut first = Changes::default();
        first.writes.insert("old".into(), Some(b"x".to_vec()));
        first.snapshot = Some(b"old snapshot".to_vec());
        store.commit("a", first).await.unwrap();
        let export = StateExport {
            format: EXPORT_FORMAT.into(),
            actor: "b".into(),
            version: 9,
            entries: [("new".to_owned(), Bytes::Hex("ff".into()))].into(),
            snapshot: None,
        };
        import_actor(&store, "a", &export).await.unwrap();
        let state = store.load("a").await.unwrap();
        assert_eq!(state.entries.len(), 1);
        assert_eq!(state.entries["new"], vec![0xff]);
        assert_eq!(state.snapshot, None);
    }
}
