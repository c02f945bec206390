//! The state store contract as a test suite that any backend can run.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let store = wasmvisor::MemoryStateStore::new();
//! wasmvisor::state::conformance::check(&store).await?;
//! # Ok(()) }
//! ```
//!
//! [`check`] needs an empty store (it uses actors named `conformance-*`) and
//! returns the first broken rule, named and explained. The in-memory and
//! redb backends run it in wasmvisor's own tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Changes, StateError, StateStore};

/// A rule of the contract that a store broke: which, and what it did
/// instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(String);

impl From<String> for Violation {
    fn from(message: String) -> Self {
        Violation(message)
    }
}

fn writes(pairs: &[(&str, Option<&[u8]>)]) -> BTreeMap<String, Option<Vec<u8>>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(<[u8]>::to_vec)))
        .collect()
}

fn changes(base_version: u64, pairs: &[(&str, Option<&[u8]>)]) -> Changes {
    Changes {
        base_version,
        writes: writes(pairs),
        snapshot: None,
    }
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(Violation(format!($($why)+)));
        }
    };
}

/// Runs every rule of the [`StateStore`] contract against `store`, which
/// must be empty. Returns the first violation.
///
/// # Errors
///
/// A [`Violation`] naming the rule that `store` breaks and what it did
/// instead.
pub async fn check<S: StateStore>(store: &S) -> Result<(), Violation> {
    let fail = |what: &str, e: StateError| format!("{what} failed: {e}");
    let a = "conformance-a";
    let b = "conformance-b";

    // An actor that never committed: empty, version 0.
    let empty = store
        .load(a)
        .await
        .map_err(|e| fail("load of a new actor", e))?;
    ensure!(
        empty.version == 0 && empty.entries.is_empty() && empty.snapshot.is_none(),
        "a new actor must load as empty with version 0, got {empty:?}"
    );

    // A commit applies every write and returns version + 1.
    let v1 = store
        .commit(
            a,
            changes(
                0,
                &[("k1", Some(b"one")), ("k2", Some(b"two")), ("gone", None)],
            ),
        )
        .await
        .map_err(|e| fail("the first commit", e))?;
    ensure!(v1 == 1, "the first commit must return version 1, got {v1}");
    let state = store.load(a).await.map_err(|e| fail("load", e))?;
    ensure!(
        state.version == 1 && state.entries.len() == 2 && state.entries["k1"] == b"one",
        "a commit must be readable at once, got {state:?}"
    );

    // Overwrites and deletions, with a snapshot.
    let mut second = changes(1, &[("k1", Some(b"uno")), ("k2", None)]);
    second.snapshot = Some(b"snap".to_vec());
    let v2 = store
        .commit(a, second)
        .await
        .map_err(|e| fail("the second commit", e))?;
    ensure!(v2 == 2, "the second commit must return version 2, got {v2}");
    let state = store.load(a).await.map_err(|e| fail("load", e))?;
    ensure!(
        state.entries.len() == 1
            && state.entries["k1"] == b"uno"
            && state.snapshot.as_deref() == Some(&b"snap"[..]),
        "overwrites, deletions and the snapshot must all apply, got {state:?}"
    );

    // A commit without a snapshot keeps the previous one.
    store
        .commit(a, changes(2, &[("k3", Some(b"three"))]))
        .await
        .map_err(|e| fail("the third commit", e))?;
    let state = store.load(a).await.map_err(|e| fail("load", e))?;
    ensure!(
        state.snapshot.as_deref() == Some(&b"snap"[..]),
        "a commit without a snapshot must keep the last one, got {state:?}"
    );

    // A stale commit is refused and writes nothing.
    let stale = store.commit(a, changes(1, &[("k1", Some(b"stale"))])).await;
    ensure!(
        matches!(
            stale,
            Err(StateError::Conflict {
                expected: 1,
                found: 3,
                ..
            })
        ),
        "a commit based on version 1 when the actor is at 3 must fail with Conflict, got {stale:?}"
    );
    let state = store.load(a).await.map_err(|e| fail("load", e))?;
    ensure!(
        state.version == 3 && state.entries["k1"] == b"uno",
        "a refused commit must write nothing, got {state:?}"
    );

    // Namespaces: the same key under another actor is another value.
    store
        .commit(b, changes(0, &[("k1", Some(b"bee"))]))
        .await
        .map_err(|e| fail("a commit of a second actor", e))?;
    let a_state = store.load(a).await.map_err(|e| fail("load", e))?;
    let b_state = store.load(b).await.map_err(|e| fail("load", e))?;
    ensure!(
        a_state.entries["k1"] == b"uno" && b_state.entries.len() == 1 && b_state.version == 1,
        "actors must not see each other's state: a={a_state:?} b={b_state:?}"
    );

    // Listing.
    let listed = store.actors().await.map_err(|e| fail("actors", e))?;
    ensure!(
        listed == vec![(a.to_owned(), 3), (b.to_owned(), 1)],
        "actors must list both actors with their versions in name order, got {listed:?}"
    );

    // Large values and unusual keys round-trip.
    let big = vec![7u8; 1 << 20];
    store
        .commit(
            b,
            changes(1, &[("ключ/🔑", Some(&big)), ("", Some(b"empty key"))]),
        )
        .await
        .map_err(|e| fail("a commit of a 1 MiB value", e))?;
    let b_state = store.load(b).await.map_err(|e| fail("load", e))?;
    ensure!(
        b_state.entries.get("ключ/🔑") == Some(&big) && b_state.entries[""] == b"empty key",
        "a 1 MiB value and non-ASCII or empty keys must round-trip"
    );

    // Delete: empty again, but the version moves on so stale writers fail.
    store.delete(a).await.map_err(|e| fail("delete", e))?;
    let state = store
        .load(a)
        .await
        .map_err(|e| fail("load after delete", e))?;
    ensure!(
        state.entries.is_empty() && state.snapshot.is_none() && state.version == 4,
        "delete must leave no entries or snapshot and move the version to 4, got {state:?}"
    );
    let stale = store.commit(a, changes(3, &[("k", Some(b"v"))])).await;
    ensure!(
        matches!(stale, Err(StateError::Conflict { .. })),
        "a commit based on the deleted state must be refused, got {stale:?}"
    );
    let listed = store.actors().await.map_err(|e| fail("actors", e))?;
    ensure!(
        listed == vec![(b.to_owned(), 2)],
        "a deleted actor must not be listed, got {listed:?}"
    );
    Ok(())
}

/// Concurrent writers: commits of many actors at once all succeed, and of
/// several writers racing on one version exactly one wins. Needs an empty
/// store, like [`check`].
///
/// # Errors
///
/// A [`Violation`] naming the rule that `store` breaks.
pub async fn check_concurrent<S: StateStore>(store: Arc<S>) -> Result<(), Violation> {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let actor = format!("conformance-many-{i:02}");
            for version in 0..4 {
                store
                    .commit(
                        &actor,
                        changes(version, &[("n", Some(version.to_string().as_bytes()))]),
                    )
                    .await?;
            }
            Ok::<_, StateError>(())
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("a writer panicked: {e}"))?
            .map_err(|e| format!("concurrent commits of different actors must all succeed: {e}"))?;
    }
    for i in 0..50 {
        let state = store
            .load(&format!("conformance-many-{i:02}"))
            .await
            .map_err(|e| format!("load failed: {e}"))?;
        ensure!(
            state.version == 4 && state.entries["n"] == b"3",
            "every actor must end at version 4 with its last write, got {state:?}"
        );
    }

    let mut racers = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            let value = format!("racer {i}");
            store
                .commit(
                    "conformance-race",
                    changes(0, &[("winner", Some(value.as_bytes()))]),
                )
                .await
        }));
    }
    let mut wins = 0;
    for racer in racers {
        match racer.await.map_err(|e| format!("a racer panicked: {e}"))? {
            Ok(_) => wins += 1,
            Err(StateError::Conflict { .. }) => {}
            Err(other) => {
                return Err(Violation(format!(
                    "a losing racer must get Conflict, got {other}"
                )));
            }
        }
    }
    ensure!(
        wins == 1,
        "exactly one of 8 writers racing on version 0 must win, {wins} did"
    );
    Ok(())
}
