//! The state store contract, run against every backend, and the durable
//! backend's own promises.

use std::sync::Arc;
use std::time::Duration;

use wasmvisor::state::conformance as state_conformance;
use wasmvisor::state::{Changes, CommitMode};
use wasmvisor::{MemoryStateStore, RedbStateStore, StateError, StateStore};

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    state_conformance::check(&MemoryStateStore::new())
        .await
        .unwrap();
    state_conformance::check_concurrent(Arc::new(MemoryStateStore::new()))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redb_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStateStore::open(dir.path().join("a.redb")).unwrap();
    state_conformance::check(&store).await.unwrap();
    let store = RedbStateStore::open(dir.path().join("b.redb")).unwrap();
    state_conformance::check_concurrent(Arc::new(store))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relaxed_redb_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let relaxed = CommitMode::Relaxed {
        flush_every: Duration::from_millis(20),
    };
    let store = RedbStateStore::open_with(dir.path().join("a.redb"), relaxed).unwrap();
    state_conformance::check(&store).await.unwrap();
    let store = RedbStateStore::open_with(dir.path().join("b.redb"), relaxed).unwrap();
    state_conformance::check_concurrent(Arc::new(store))
        .await
        .unwrap();
}

fn one_write(base_version: u64, value: &str) -> Changes {
    Changes {
        base_version,
        writes: [("k".to_owned(), Some(value.as_bytes().to_vec()))].into(),
        snapshot: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_state_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    for mode in [
        CommitMode::Durable,
        CommitMode::Relaxed {
            flush_every: Duration::from_secs(60),
        },
    ] {
        let actor = format!("{mode:?}");
        {
            let store = RedbStateStore::open_with(&path, mode).unwrap();
            store.commit(&actor, one_write(0, "kept")).await.unwrap();
        }
        let store = RedbStateStore::open(&path).unwrap();
        let state = store.load(&actor).await.unwrap();
        assert_eq!(state.entries["k"], b"kept", "{mode:?}");
        assert_eq!(state.version, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_file_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let _first = RedbStateStore::open(&path).unwrap();
    let error = RedbStateStore::open(&path).unwrap_err();
    assert!(matches!(error, StateError::InUse { .. }), "{error}");
    assert!(
        error.to_string().contains("in use by another process"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_store_file_is_refused_with_its_cause_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy.redb");
    crate::common::store_with_marker(&healthy).await;
    for (damage, bytes) in crate::common::damaged_copies(&healthy) {
        let path = dir.path().join(format!("{damage}.redb"));
        std::fs::write(&path, &bytes).unwrap();
        // A panic inside the store would fail this test, not pass it.
        let error = RedbStateStore::open(&path).unwrap_err();
        assert!(
            matches!(&error, StateError::Damaged { path: p, .. } if p == &path.display().to_string()),
            "{damage}: {error}"
        );
        assert!(
            error.to_string().contains("is damaged: "),
            "{damage}: {error}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{damage}: a refused file is left as it was"
        );
    }
    // The healthy one opens, with its data.
    let store = RedbStateStore::open(&healthy).unwrap();
    let state = store.load("keeper").await.unwrap();
    assert_eq!(state.entries["kept"], crate::common::MARKER);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_store_is_put_in_place_whole_and_only_where_there_was_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    drop(RedbStateStore::open(&path).unwrap());
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.redb"], "no draft is left behind");
    // What the host made, it reopens.
    RedbStateStore::open(&path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_commit_of_a_replaced_writer_is_refused_by_the_version_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStateStore::open(dir.path().join("state.redb")).unwrap();
    store.commit("actor", one_write(0, "first")).await.unwrap();
    // Two instances loaded version 1; the new one commits first.
    store
        .commit("actor", one_write(1, "new instance"))
        .await
        .unwrap();
    let late = store.commit("actor", one_write(1, "old instance")).await;
    assert!(
        matches!(
            late,
            Err(StateError::Conflict {
                expected: 1,
                found: 2,
                ..
            })
        ),
        "{late:?}"
    );
    assert_eq!(
        store.load("actor").await.unwrap().entries["k"],
        b"new instance"
    );
}
