//! State survives crashes and host restarts; a failed message leaves none.

use std::time::Duration;

use wasmvisor::{CallError, ChildSpec, CrashReason, Host, Limits, RedbStateStore, SupervisorSpec};

use crate::common::{call_ok, plugin, single, supervise};

#[tokio::test]
async fn counter_state_is_restored_after_a_crash() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    for expected in 1..=10 {
        assert_eq!(call_ok(&host, "counter", "inc").await, expected.to_string());
    }
    let counter = host.actor("counter").unwrap();
    let crash = counter.call("crash").await.unwrap_err();
    assert!(
        matches!(&crash, CallError::Crashed { reason: CrashReason::Panic(m), .. } if m.contains("asked to crash")),
        "{crash:?}"
    );
    assert_eq!(call_ok(&host, "counter", "inc").await, "11");
    assert_eq!(counter.info().restarts, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn counter_state_survives_a_host_restart_with_the_redb_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    {
        let host = Host::builder()
            .state_store(RedbStateStore::open(&path).unwrap())
            .build()
            .unwrap();
        single(&host, "counter", "counter", |c| c).await;
        for _ in 0..10 {
            call_ok(&host, "counter", "inc").await;
        }
        let crash = host.actor("counter").unwrap().call("crash").await;
        assert!(matches!(crash, Err(CallError::Crashed { .. })));
        host.shutdown().await;
    }
    // The first host has let go of the file: a second one can open it.
    let host = Host::builder()
        .state_store(RedbStateStore::open(&path).unwrap())
        .build()
        .unwrap();
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "11");
    host.shutdown().await;
}

#[tokio::test]
async fn a_message_that_panics_midway_leaves_no_partial_state() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    for _ in 0..3 {
        call_ok(&host, "counter", "inc").await;
    }
    let result = host.actor("counter").unwrap().call("inc-then-crash").await;
    assert!(
        matches!(result, Err(CallError::Crashed { .. })),
        "{result:?}"
    );
    assert_eq!(call_ok(&host, "counter", "get").await, "3");
    host.shutdown().await;
}

#[tokio::test]
async fn a_rejected_message_leaves_no_state_and_no_crash() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    call_ok(&host, "counter", "inc").await;
    let counter = host.actor("counter").unwrap();
    let result = counter.call("add lots").await;
    assert!(
        matches!(&result, Err(CallError::Rejected { reason, .. }) if reason.contains("not a number")),
        "{result:?}"
    );
    assert_eq!(call_ok(&host, "counter", "get").await, "1");
    assert_eq!(counter.info().restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn snapshot_state_in_linear_memory_is_restored_after_a_crash() {
    let host = Host::new().unwrap();
    single(&host, "memo", "memo", |c| c).await;
    assert_eq!(call_ok(&host, "memo", "remember milk").await, "1");
    assert_eq!(call_ok(&host, "memo", "remember eggs").await, "2");
    let crash = host.actor("memo").unwrap().call("crash").await;
    assert!(matches!(crash, Err(CallError::Crashed { .. })));
    assert_eq!(call_ok(&host, "memo", "recall").await, "milk\neggs");
    assert_eq!(host.actor("memo").unwrap().info().restarts, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn a_crash_in_one_actor_leaves_another_actors_calls_and_state_alone() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("pair")
            .intensity(10, Duration::from_secs(5))
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("b", counter)),
    )
    .await;
    for _ in 0..5 {
        call_ok(&host, "b", "inc").await;
    }
    let b = host.actor("b").unwrap();
    let b_instance = b.info().instance;

    // b is called while a crashes, over and over.
    let a = host.actor("a").unwrap();
    let crashes = tokio::spawn(async move {
        for _ in 0..3 {
            let result = a.call("crash").await;
            assert!(
                matches!(result, Err(CallError::Crashed { .. })),
                "{result:?}"
            );
        }
    });
    for expected in 6..=25 {
        assert_eq!(call_ok(&host, "b", "inc").await, expected.to_string());
    }
    crashes.await.unwrap();

    assert_eq!(
        b.info().instance,
        b_instance,
        "b must not have been restarted"
    );
    assert_eq!(b.info().restarts, 0);
    assert_eq!(call_ok(&host, "a", "get").await, "0");
    host.shutdown().await;
}

#[tokio::test]
async fn casts_are_handled_in_order_before_a_later_call() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    let counter = host.actor("counter").unwrap();
    for _ in 0..5 {
        counter.cast("inc").await.unwrap();
    }
    counter.cast("add 10").await.unwrap();
    assert_eq!(call_ok(&host, "counter", "get").await, "15");
    host.shutdown().await;
}

#[tokio::test]
async fn state_limits_are_errors_for_the_guest_never_crashes() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| {
        c.limits(
            Limits::default()
                .max_value_bytes(1000)
                .max_state_bytes(3000),
        )
    })
    .await;
    let counter = host.actor("counter").unwrap();
    let refused = |result: Result<Vec<u8>, CallError>| match result {
        Err(CallError::Rejected { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let too_big = refused(counter.call("fill a 1001").await);
    assert_eq!(
        too_big,
        "refused: the value is larger than the limit of 1000 bytes"
    );
    for key in ["a", "b", "c"] {
        call_ok(&host, "counter", &format!("fill {key} 900")).await;
    }
    let over_quota = refused(counter.call("fill d 900").await);
    assert_eq!(
        over_quota,
        "refused: the actor's state would exceed its quota of 3000 bytes"
    );
    // Overwriting an entry with one of the same size fits.
    call_ok(&host, "counter", "fill c 900").await;
    assert_eq!(counter.info().restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_every_n_messages_loses_at_most_the_messages_since_the_last_one() {
    let host = Host::new().unwrap();
    single(&host, "memo", "memo", |c| {
        c.snapshot_policy(wasmvisor::SnapshotPolicy::EveryMessages(3))
    })
    .await;
    for note in ["one", "two", "three", "four"] {
        call_ok(&host, "memo", &format!("remember {note}")).await;
    }
    let crash = host.actor("memo").unwrap().call("crash").await;
    assert!(matches!(crash, Err(CallError::Crashed { .. })));
    // Snapshotted after the third message; the fourth was only in memory.
    assert_eq!(call_ok(&host, "memo", "recall").await, "one\ntwo\nthree");
    host.shutdown().await;
}

#[tokio::test]
async fn a_graceful_stop_always_snapshots() {
    let store = std::sync::Arc::new(wasmvisor::MemoryStateStore::new());
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    single(&host, "memo", "memo", |c| {
        c.snapshot_policy(wasmvisor::SnapshotPolicy::EveryMessages(100))
    })
    .await;
    call_ok(&host, "memo", "remember kept").await;
    host.shutdown().await;
    use wasmvisor::StateStore;
    let saved = store.load("memo").await.unwrap();
    assert_eq!(saved.snapshot.as_deref(), Some(&b"kept"[..]));
}
