//! The durable default state store, on redb.
//!
//! Layout: one redb file with three tables.
//!
//! | table       | key              | value                 |
//! |-------------|------------------|-----------------------|
//! | `entries`   | (actor, key)     | the value's bytes     |
//! | `versions`  | actor            | the committed version |
//! | `snapshots` | actor            | the last snapshot     |
//!
//! Every commit is one redb write transaction with `Durability::Immediate`
//! (redb's default): when `commit` returns, the data is on disk, so a reply
//! the host sent after it survives `kill -9` of the host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Changes, CommittedState, StateError, StateStore};

const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");
const VERSIONS: TableDefinition<&str, u64> = TableDefinition::new("versions");
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");

/// Keeps every actor's state in one redb file, durably.
#[derive(Clone)]
pub struct RedbStateStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStateStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStateStore {
    /// Opens the store at `path`, creating the file if it does not exist.
    ///
    /// # Errors
    ///
    /// [`StateError::InUse`] when another process has the file open, and
    /// [`StateError::Backend`] when it cannot be created or is not a redb
    /// file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StateError::InUse {
                path: path.display().to_string(),
            },
            other => StateError::backend(format!("opening {}", path.display()), other),
        })?;
        // Create the tables up front so that reads never meet a missing table.
        let tx = db
            .begin_write()
            .map_err(|e| StateError::backend("starting a transaction", e))?;
        {
            tx.open_table(ENTRIES)
                .map_err(|e| StateError::backend("creating table `entries`", e))?;
            tx.open_table(VERSIONS)
                .map_err(|e| StateError::backend("creating table `versions`", e))?;
            tx.open_table(SNAPSHOTS)
                .map_err(|e| StateError::backend("creating table `snapshots`", e))?;
        }
        tx.commit()
            .map_err(|e| StateError::backend("creating tables", e))?;
        Ok(RedbStateStore {
            db: Arc::new(db),
            path,
        })
    }

    /// The file this store keeps its data in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_blocking(&self, actor: &str) -> Result<CommittedState, StateError> {
        let context = |what: &str| format!("reading {what} of actor `{actor}`");
        let tx = self
            .db
            .begin_read()
            .map_err(|e| StateError::backend(context("state"), e))?;
        let versions = tx
            .open_table(VERSIONS)
            .map_err(|e| StateError::backend(context("the version"), e))?;
        let version = versions
            .get(actor)
            .map_err(|e| StateError::backend(context("the version"), e))?
            .map_or(0, |v| v.value());
        let mut state = CommittedState {
            version,
            ..CommittedState::default()
        };
        let entries = tx
            .open_table(ENTRIES)
            .map_err(|e| StateError::backend(context("entries"), e))?;
        for row in entries
            .range((actor, "")..)
            .map_err(|e| StateError::backend(context("entries"), e))?
        {
            let (key, value) = row.map_err(|e| StateError::backend(context("entries"), e))?;
            let (owner, key) = key.value();
            if owner != actor {
                break;
            }
            state.entries.insert(key.to_owned(), value.value().to_vec());
        }
        let snapshots = tx
            .open_table(SNAPSHOTS)
            .map_err(|e| StateError::backend(context("the snapshot"), e))?;
        state.snapshot = snapshots
            .get(actor)
            .map_err(|e| StateError::backend(context("the snapshot"), e))?
            .map(|v| v.value().to_vec());
        Ok(state)
    }

    fn commit_blocking(&self, actor: &str, changes: Changes) -> Result<u64, StateError> {
        let context = || format!("committing state of actor `{actor}`");
        let tx = self
            .db
            .begin_write()
            .map_err(|e| StateError::backend(context(), e))?;
        let new_version = {
            let mut versions = tx
                .open_table(VERSIONS)
                .map_err(|e| StateError::backend(context(), e))?;
            let current = versions
                .get(actor)
                .map_err(|e| StateError::backend(context(), e))?
                .map_or(0, |v| v.value());
            if current != changes.base_version {
                // Dropping `tx` aborts it: nothing is written.
                return Err(StateError::Conflict {
                    actor: actor.to_owned(),
                    expected: changes.base_version,
                    found: current,
                });
            }
            versions
                .insert(actor, current + 1)
                .map_err(|e| StateError::backend(context(), e))?;
            current + 1
        };
        {
            let mut entries = tx
                .open_table(ENTRIES)
                .map_err(|e| StateError::backend(context(), e))?;
            for (key, value) in &changes.writes {
                match value {
                    Some(value) => entries.insert((actor, key.as_str()), value.as_slice()),
                    None => entries.remove((actor, key.as_str())),
                }
                .map_err(|e| StateError::backend(context(), e))?;
            }
        }
        if let Some(snapshot) = &changes.snapshot {
            let mut snapshots = tx
                .open_table(SNAPSHOTS)
                .map_err(|e| StateError::backend(context(), e))?;
            snapshots
                .insert(actor, snapshot.as_slice())
                .map_err(|e| StateError::backend(context(), e))?;
        }
        tx.commit().map_err(|e| StateError::backend(context(), e))?;
        Ok(new_version)
    }
}

#[async_trait::async_trait]
impl StateStore for RedbStateStore {
    async fn load(&self, actor: &str) -> Result<CommittedState, StateError> {
        let store = self.clone();
        let actor = actor.to_owned();
        tokio::task::spawn_blocking(move || store.load_blocking(&actor))
            .await
            .map_err(|e| StateError::backend("joining the reader", e))?
    }

    async fn commit(&self, actor: &str, changes: Changes) -> Result<u64, StateError> {
        // The fsync blocks; keep it off the async workers.
        let store = self.clone();
        let actor = actor.to_owned();
        tokio::task::spawn_blocking(move || store.commit_blocking(&actor, changes))
            .await
            .map_err(|e| StateError::backend("joining the committer", e))?
    }
}
