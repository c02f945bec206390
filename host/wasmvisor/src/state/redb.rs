//! The durable default state store, on redb, with group commit.
//!
//! Layout: one redb file with three tables.
//!
//! | table       | key              | value                 |
//! |-------------|------------------|-----------------------|
//! | `entries`   | (actor, key)     | the value's bytes     |
//! | `versions`  | actor            | the committed version |
//! | `snapshots` | actor            | the last snapshot     |
//!
//! **Group commit.** Every commit goes to one committer thread. It takes the
//! first waiting commit and every other one that is waiting at that moment,
//! checks and applies each (a commit whose base version is stale is refused
//! on its own, the others go on), and writes them all in *one* redb write
//! transaction: one fsync for the whole batch. While that fsync runs, the
//! next batch gathers, so many actors committing at once share fsyncs
//! instead of queueing for one each, and a single actor still pays just one.
//!
//! **Durability.** In [`CommitMode::Durable`] (the default) a commit returns
//! only after its batch is on disk (`Durability::Immediate`): a reply the
//! host sent after it survives `kill -9` of the host and a power cut. In
//! [`CommitMode::Relaxed`] batches are written without an fsync and the
//! committer makes everything durable every `flush_every` (and when the
//! store is dropped): faster, but a crash of the host can lose the commits
//! acknowledged in the last `flush_every`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use tokio::sync::oneshot;

use super::{Changes, CommittedState, StateError, StateStore};

const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");
const VERSIONS: TableDefinition<&str, u64> = TableDefinition::new("versions");
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");

/// The most commits written in one transaction.
const MAX_BATCH: usize = 1024;

/// How commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// Every commit is on disk (fsync'd) before it returns. The default.
    #[default]
    Durable,
    /// Commits return once written, without an fsync; everything is made
    /// durable every `flush_every`. A crash can lose up to that much.
    Relaxed {
        /// How often to make the written commits durable.
        flush_every: Duration,
    },
}

/// Keeps every actor's state in one redb file. Cheap to clone.
#[derive(Clone)]
pub struct RedbStateStore {
    inner: Arc<RedbInner>,
}

struct RedbInner {
    db: Arc<Database>,
    path: PathBuf,
    /// Dropped (set to `None`) first on drop, which ends the committer.
    requests: Mutex<Option<Sender<Request>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

type Reply<T> = oneshot::Sender<Result<T, StateError>>;

enum Request {
    Commit {
        actor: String,
        changes: Changes,
        reply: Reply<u64>,
    },
    Delete {
        actor: String,
        reply: Reply<()>,
    },
}

impl std::fmt::Debug for RedbStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStateStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl RedbStateStore {
    /// Opens the store at `path` in [`CommitMode::Durable`], creating the file
    /// if it does not exist.
    ///
    /// # Errors
    ///
    /// [`StateError::InUse`] when another process has the file open,
    /// [`StateError::Damaged`] when the file exists but is not a sound store
    /// (empty, truncated, overwritten, bit-flipped: every page is checked),
    /// and [`StateError::Backend`] when it cannot be read or created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        Self::open_with(path, CommitMode::Durable)
    }

    /// Opens the store at `path` with the given commit mode.
    ///
    /// # Errors
    ///
    /// As [`RedbStateStore::open`].
    pub fn open_with(path: impl AsRef<Path>, mode: CommitMode) -> Result<Self, StateError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            create_new_store(&path)?;
        }
        let db = open_existing(&path)?;
        // A store made by an older host may lack a table.
        create_tables(&db)?;

        let db = Arc::new(db);
        let (requests, receiver) = std::sync::mpsc::channel();
        let committer = std::thread::Builder::new()
            .name("wasmvisor-committer".into())
            .spawn({
                let db = db.clone();
                move || run_committer(&db, &receiver, mode)
            })
            .map_err(|e| StateError::backend("starting the committer thread", e))?;
        Ok(RedbStateStore {
            inner: Arc::new(RedbInner {
                db,
                path,
                requests: Mutex::new(Some(requests)),
                committer: Mutex::new(Some(committer)),
            }),
        })
    }

    /// The file this store keeps its data in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn request<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, StateError> {
        let (reply, answer) = oneshot::channel();
        let sent = lock(&self.inner.requests)
            .as_ref()
            .map(|requests| requests.send(request(reply)).is_ok());
        if sent != Some(true) {
            return Err(StateError::backend(
                "committing",
                "the committer thread is gone",
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StateError::backend(
                "committing",
                "the committer thread stopped",
            ))
        })
    }

    fn load_blocking(&self, actor: &str) -> Result<CommittedState, StateError> {
        let fail = |e: &dyn std::fmt::Display| {
            StateError::backend(
                format!("reading the state of actor `{actor}`"),
                e.to_string(),
            )
        };
        let tx = self.inner.db.begin_read().map_err(|e| fail(&e))?;
        let versions = tx.open_table(VERSIONS).map_err(|e| fail(&e))?;
        let version = versions
            .get(actor)
            .map_err(|e| fail(&e))?
            .map_or(0, |v| v.value());
        let mut state = CommittedState {
            version,
            ..CommittedState::default()
        };
        let entries = tx.open_table(ENTRIES).map_err(|e| fail(&e))?;
        for row in entries.range((actor, "")..).map_err(|e| fail(&e))? {
            let (key, value) = row.map_err(|e| fail(&e))?;
            let (owner, key) = key.value();
            if owner != actor {
                break;
            }
            state.entries.insert(key.to_owned(), value.value().to_vec());
        }
        let snapshots = tx.open_table(SNAPSHOTS).map_err(|e| fail(&e))?;
        state.snapshot = snapshots
            .get(actor)
            .map_err(|e| fail(&e))?
            .map(|v| v.value().to_vec());
        Ok(state)
    }

    fn actors_blocking(&self) -> Result<Vec<(String, u64)>, StateError> {
        let fail = |e: &dyn std::fmt::Display| StateError::backend("listing actors", e.to_string());
        let tx = self.inner.db.begin_read().map_err(|e| fail(&e))?;
        let versions = tx.open_table(VERSIONS).map_err(|e| fail(&e))?;
        let entries = tx.open_table(ENTRIES).map_err(|e| fail(&e))?;
        let snapshots = tx.open_table(SNAPSHOTS).map_err(|e| fail(&e))?;
        let mut actors = Vec::new();
        for row in versions.iter().map_err(|e| fail(&e))? {
            let (actor, version) = row.map_err(|e| fail(&e))?;
            let actor = actor.value();
            let has_entries = entries
                .range((actor, "")..)
                .map_err(|e| fail(&e))?
                .next()
                .transpose()
                .map_err(|e| fail(&e))?
                .is_some_and(|(key, _)| key.value().0 == actor);
            let has_snapshot = snapshots.get(actor).map_err(|e| fail(&e))?.is_some();
            if has_entries || has_snapshot {
                actors.push((actor.to_owned(), version.value()));
            }
        }
        Ok(actors)
    }
}

impl Drop for RedbInner {
    fn drop(&mut self) {
        // Closing the channel ends the committer after its last batch; joining
        // it makes sure the file is released when the store is gone.
        lock(&self.requests).take();
        if let Some(committer) = lock(&self.committer).take() {
            let _ = committer.join();
        }
    }
}

/// Opens a store file that exists, checking every page of it first.
///
/// An empty file is refused rather than taken for a new store: the host
/// never leaves one behind ([`create_new_store`] puts a store in place
/// whole), so an empty store file is one whose data is gone. redb would
/// otherwise start afresh in it, and every actor's state would vanish
/// without a word.
fn open_existing(path: &Path) -> Result<Database, StateError> {
    let damaged = |cause: String| StateError::Damaged {
        path: path.display().to_string(),
        cause,
    };
    let length = std::fs::metadata(path)
        .map_err(|e| StateError::backend(format!("reading {}", path.display()), e))?
        .len();
    if length == 0 {
        return Err(damaged(
            "the file is empty (0 bytes): its data is gone".into(),
        ));
    }
    // A plain open trusts the file and may panic inside redb on one damaged
    // behind its back; with the check every page's checksum is verified
    // first. The unwind guard is for what the check might still miss.
    let opened = std::panic::catch_unwind(|| {
        Database::builder()
            .set_check_integrity_on_open(true)
            .open(path)
    });
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(StateError::InUse {
            path: path.display().to_string(),
        }),
        // redb reports a file that is not one of its own (a wrong magic
        // number, a short read) as an I/O error of these kinds.
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(error))))
            if !matches!(
                error.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            Err(StateError::backend(
                format!("opening {}", path.display()),
                error,
            ))
        }
        Ok(Err(error)) => Err(damaged(error.to_string())),
        Err(panic) => Err(damaged(format!(
            "the store panicked reading it: {}",
            panic_message(&*panic)
        ))),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Makes a new, empty store at `path`, readable and writable by its owner
/// only (it will hold every actor's state and dead letters).
///
/// The store is made beside `path` and linked into place once it is
/// whole, so a host stopped half-way never leaves an empty file behind,
/// and `path` is never replaced if another process made it first.
fn create_new_store(path: &Path) -> Result<(), StateError> {
    let fail = |e: &dyn std::fmt::Display| {
        StateError::backend(format!("creating {}", path.display()), e.to_string())
    };
    let name = path.file_name().map_or_else(
        || "wasmvisor-state.redb".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let draft = path.with_file_name(format!(".{name}.new-{}", std::process::id()));
    let made = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&draft).map_err(|e| fail(&e))?;
        // redb makes a new store in an empty file.
        let db = Database::create(&draft).map_err(|e| fail(&e))?;
        create_tables(&db)?;
        drop(db);
        match std::fs::hard_link(&draft, path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links: a rename puts it in place
            // whole too, only without the guard against a racing creator.
            Err(_) if !path.exists() => std::fs::rename(&draft, path).map_err(|e| fail(&e)),
            Err(error) => Err(fail(&error)),
        }
    })();
    let _ = std::fs::remove_file(&draft);
    made
}

/// Creates the tables, so that reads never meet a missing one.
fn create_tables(db: &Database) -> Result<(), StateError> {
    let tx = db
        .begin_write()
        .map_err(|e| StateError::backend("starting a transaction", e))?;
    let created = tx
        .open_table(ENTRIES)
        .map(drop)
        .and_then(|()| tx.open_table(VERSIONS).map(drop))
        .and_then(|()| tx.open_table(SNAPSHOTS).map(drop));
    created.map_err(|e| StateError::backend("creating the tables", e))?;
    tx.commit()
        .map_err(|e| StateError::backend("creating the tables", e))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The values under these locks are replaced whole: a poisoned lock is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The committer thread: batches waiting requests into one transaction each.
fn run_committer(db: &Database, requests: &Receiver<Request>, mode: CommitMode) {
    let mut unflushed_since: Option<Instant> = None;
    loop {
        let first = match (mode, unflushed_since) {
            (CommitMode::Relaxed { flush_every }, Some(since)) => {
                match requests.recv_timeout(flush_every.saturating_sub(since.elapsed())) {
                    Ok(request) => Some(request),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            _ => match requests.recv() {
                Ok(request) => Some(request),
                Err(_) => break,
            },
        };
        let Some(first) = first else {
            flush(db);
            unflushed_since = None;
            continue;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let durability = match mode {
            CommitMode::Durable => Durability::Immediate,
            CommitMode::Relaxed { flush_every } => {
                let since = *unflushed_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= flush_every {
                    unflushed_since = None;
                    Durability::Immediate
                } else {
                    Durability::None
                }
            }
        };
        commit_batch(db, batch, durability);
    }
    if unflushed_since.is_some() {
        flush(db);
    }
}

/// Makes every earlier non-durable commit durable.
fn flush(db: &Database) {
    let flushed = db
        .begin_write()
        .map_err(|e| e.to_string())
        .and_then(|tx| tx.commit().map_err(|e| e.to_string()));
    if let Err(error) = flushed {
        tracing::error!("state store: making commits durable failed: {error}");
    }
}

/// Writes one batch in one transaction and answers every request in it.
fn commit_batch(db: &Database, batch: Vec<Request>, durability: Durability) {
    let mut tx = match db.begin_write() {
        Ok(tx) => tx,
        Err(error) => return fail_all(batch, &error.to_string()),
    };
    if let Err(error) = tx.set_durability(durability) {
        return fail_all(batch, &error.to_string());
    }
    let mut answers = Vec::with_capacity(batch.len());
    // A write that failed half-way cannot be undone inside the transaction:
    // then nothing of the batch is committed.
    let mut broken = None;
    for request in batch {
        match request {
            Request::Commit {
                actor,
                changes,
                reply,
            } => {
                let result = apply_commit(&tx, &actor, &changes);
                if let Err(error @ StateError::Backend { .. }) = &result {
                    broken.get_or_insert_with(|| error.to_string());
                }
                answers.push(Answer::Commit(reply, result, actor));
            }
            Request::Delete { actor, reply } => {
                let result = apply_delete(&tx, &actor);
                if let Err(error) = &result {
                    broken.get_or_insert_with(|| error.to_string());
                }
                answers.push(Answer::Delete(reply, result, actor));
            }
        }
    }
    let committed = match broken {
        Some(reason) => Err(reason),
        None => tx.commit().map_err(|error| error.to_string()),
    };
    if let Err(reason) = committed {
        for answer in answers {
            match answer {
                Answer::Commit(reply, _, actor) => {
                    let _ = reply.send(Err(commit_failed(&actor, &reason)));
                }
                Answer::Delete(reply, _, actor) => {
                    let _ = reply.send(Err(commit_failed(&actor, &reason)));
                }
            }
        }
        return;
    }
    for answer in answers {
        match answer {
            Answer::Commit(reply, result, _) => {
                let _ = reply.send(result);
            }
            Answer::Delete(reply, result, _) => {
                let _ = reply.send(result);
            }
        }
    }
}

enum Answer {
    Commit(Reply<u64>, Result<u64, StateError>, String),
    Delete(Reply<()>, Result<(), StateError>, String),
}

fn commit_failed(actor: &str, reason: &str) -> StateError {
    StateError::backend(
        format!("committing state of actor `{actor}`"),
        reason.to_owned(),
    )
}

fn fail_all(batch: Vec<Request>, reason: &str) {
    for request in batch {
        match request {
            Request::Commit { actor, reply, .. } => {
                let _ = reply.send(Err(commit_failed(&actor, reason)));
            }
            Request::Delete { actor, reply } => {
                let _ = reply.send(Err(commit_failed(&actor, reason)));
            }
        }
    }
}

/// Checks the version and applies one commit inside the batch's transaction.
/// A refused commit writes nothing.
fn apply_commit(tx: &WriteTransaction, actor: &str, changes: &Changes) -> Result<u64, StateError> {
    let fail = |e: &dyn std::fmt::Display| commit_failed(actor, &e.to_string());
    let mut versions = tx.open_table(VERSIONS).map_err(|e| fail(&e))?;
    let current = versions
        .get(actor)
        .map_err(|e| fail(&e))?
        .map_or(0, |v| v.value());
    if current != changes.base_version {
        return Err(StateError::Conflict {
            actor: actor.to_owned(),
            expected: changes.base_version,
            found: current,
        });
    }
    versions.insert(actor, current + 1).map_err(|e| fail(&e))?;
    let mut entries = tx.open_table(ENTRIES).map_err(|e| fail(&e))?;
    for (key, value) in &changes.writes {
        match value {
            Some(value) => entries
                .insert((actor, key.as_str()), value.as_slice())
                .map(drop),
            None => entries.remove((actor, key.as_str())).map(drop),
        }
        .map_err(|e| fail(&e))?;
    }
    if let Some(snapshot) = &changes.snapshot {
        let mut snapshots = tx.open_table(SNAPSHOTS).map_err(|e| fail(&e))?;
        snapshots
            .insert(actor, snapshot.as_slice())
            .map_err(|e| fail(&e))?;
    }
    Ok(current + 1)
}

/// Removes an actor's entries and snapshot, and moves its version on so that
/// a writer based on the old state is refused.
fn apply_delete(tx: &WriteTransaction, actor: &str) -> Result<(), StateError> {
    let fail = |e: &dyn std::fmt::Display| commit_failed(actor, &e.to_string());
    let mut entries = tx.open_table(ENTRIES).map_err(|e| fail(&e))?;
    let mut keys = Vec::new();
    for row in entries.range((actor, "")..).map_err(|e| fail(&e))? {
        let (key, _) = row.map_err(|e| fail(&e))?;
        let (owner, key) = key.value();
        if owner != actor {
            break;
        }
        keys.push(key.to_owned());
    }
    for key in &keys {
        entries
            .remove((actor, key.as_str()))
            .map_err(|e| fail(&e))?;
    }
    let mut snapshots = tx.open_table(SNAPSHOTS).map_err(|e| fail(&e))?;
    snapshots.remove(actor).map_err(|e| fail(&e))?;
    let mut versions = tx.open_table(VERSIONS).map_err(|e| fail(&e))?;
    let current = versions
        .get(actor)
        .map_err(|e| fail(&e))?
        .map_or(0, |v| v.value());
    versions.insert(actor, current + 1).map_err(|e| fail(&e))?;
    Ok(())
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
        let actor = actor.to_owned();
        self.request(|reply| Request::Commit {
            actor,
            changes,
            reply,
        })
        .await
    }

    async fn delete(&self, actor: &str) -> Result<(), StateError> {
        let actor = actor.to_owned();
        self.request(|reply| Request::Delete { actor, reply }).await
    }

    async fn actors(&self) -> Result<Vec<(String, u64)>, StateError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.actors_blocking())
            .await
            .map_err(|e| StateError::backend("joining the reader", e))?
    }
}
