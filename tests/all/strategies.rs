//! Strategies, group restarts and restart types (OTP's `supervisor_SUITE`:
//! `one_for_all`, `rest_for_one`, `temporary_bystander`; S7 and S8 of
//! `docs/design/supervision.md`).

use std::sync::Arc;
use std::time::Duration;

use wasmvisor::{
    ActorStatus, Backoff, CallError, ChildSpec, Event, ExitReason, Host, MemoryStateStore,
    RestartType, StateStore, Strategy, SupervisorRef, SupervisorSpec,
};

use crate::common::{call_ok, lifecycle, plugin, supervise, wait_until, within};

async fn counters(host: &Host, strategy: Strategy, names: &[&str]) -> SupervisorRef {
    let counter = plugin(host, "counter").await;
    let mut spec = SupervisorSpec::new("group").strategy(strategy);
    for name in names {
        spec = spec.child(ChildSpec::new(*name, counter.clone()));
    }
    supervise(host, spec).await
}

fn instances(supervisor: &SupervisorRef) -> Vec<Option<u64>> {
    supervisor
        .which_children()
        .iter()
        .map(|c| c.instance)
        .collect()
}

async fn crash(host: &Host, name: &str) {
    let result = host.actor(name).unwrap().call("crash").await;
    assert!(
        matches!(result, Err(CallError::Crashed { .. })),
        "{result:?}"
    );
}

async fn all_running(supervisor: &SupervisorRef) {
    wait_until("every child runs", || {
        supervisor
            .which_children()
            .iter()
            .all(|c| c.status == ActorStatus::Running)
    })
    .await;
}

#[tokio::test]
async fn children_start_in_order_and_stop_in_reverse_order() {
    let host = Host::new().unwrap();
    let mut events = host.subscribe();
    let supervisor = counters(&host, Strategy::OneForOne, &["a", "b", "c"]).await;
    assert_eq!(
        lifecycle(&mut events, 3).await,
        ["start a", "start b", "start c"]
    );
    let names: Vec<String> = supervisor
        .which_children()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a", "b", "c"], "listed in start order");
    supervisor.stop().await;
    assert_eq!(
        lifecycle(&mut events, 3).await,
        ["exit c", "exit b", "exit a"]
    );
}

#[tokio::test]
async fn one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() {
    let host = Host::new().unwrap();
    let supervisor = counters(&host, Strategy::OneForAll, &["a", "b", "c"]).await;
    call_ok(&host, "c", "inc").await;
    let before = instances(&supervisor);
    let mut events = host.subscribe();
    crash(&host, "b").await;
    assert_eq!(
        lifecycle(&mut events, 6).await,
        [
            "exit b", "exit c", "exit a", "start a", "start b", "start c"
        ]
    );
    all_running(&supervisor).await;
    let after = instances(&supervisor);
    assert!(
        before.iter().zip(&after).all(|(b, a)| b != a),
        "{before:?} {after:?}"
    );
    assert_eq!(
        call_ok(&host, "c", "get").await,
        "1",
        "state survives the group restart"
    );
    let restarts: Vec<u64> = supervisor
        .which_children()
        .iter()
        .map(|c| c.restarts)
        .collect();
    assert_eq!(restarts, [1, 1, 1]);
    host.shutdown().await;
}

#[tokio::test]
async fn rest_for_one_restarts_the_child_and_later_ones_only() {
    let host = Host::new().unwrap();
    let supervisor = counters(&host, Strategy::RestForOne, &["a", "b", "c"]).await;
    let before = instances(&supervisor);
    let mut events = host.subscribe();
    crash(&host, "b").await;
    assert_eq!(
        lifecycle(&mut events, 4).await,
        ["exit b", "exit c", "start b", "start c"]
    );
    all_running(&supervisor).await;
    let after = instances(&supervisor);
    assert_eq!(before[0], after[0], "a is never touched");
    assert_ne!(before[1], after[1]);
    assert_ne!(before[2], after[2]);
    host.shutdown().await;
}

#[tokio::test]
async fn a_group_restart_counts_once_toward_the_intensity() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("group")
            .strategy(Strategy::OneForAll)
            .intensity(1, Duration::from_secs(60))
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("b", counter.clone()))
            .child(ChildSpec::new("c", counter)),
    )
    .await;
    crash(&host, "a").await;
    all_running(&supervisor).await;
    assert_eq!(supervisor.status(), wasmvisor::SupervisorStatus::Running);
    host.shutdown().await;
}

#[tokio::test]
async fn temporary_bystanders_are_dropped_by_a_group_restart() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("group")
            .strategy(Strategy::OneForAll)
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("t", counter.clone()).restart(RestartType::Temporary))
            .child(ChildSpec::new("c", counter)),
    )
    .await;
    crash(&host, "a").await;
    wait_until("the group is back without the temporary child", || {
        let children = supervisor.which_children();
        children.len() == 2 && children.iter().all(|c| c.status == ActorStatus::Running)
    })
    .await;
    assert!(host.actor("t").is_none(), "its name is released");
    host.shutdown().await;
}

#[tokio::test]
async fn a_group_restart_also_starts_a_child_that_was_terminated_by_hand() {
    let host = Host::new().unwrap();
    let supervisor = counters(&host, Strategy::OneForAll, &["a", "b"]).await;
    supervisor.terminate_child("b").await.unwrap();
    assert!(matches!(
        supervisor.which_children()[1].status,
        ActorStatus::Stopped(_)
    ));
    crash(&host, "a").await;
    all_running(&supervisor).await;
    assert_eq!(call_ok(&host, "b", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn each_restart_type_against_normal_and_crash_exits() {
    let host = Host::new().unwrap();
    let crasher = plugin(&host, "crasher").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("types")
            .intensity(10, Duration::from_secs(60))
            .child(ChildSpec::new("permanent", crasher.clone()))
            .child(ChildSpec::new("transient", crasher.clone()).restart(RestartType::Transient))
            .child(ChildSpec::new("temporary", crasher).restart(RestartType::Temporary)),
    )
    .await;
    let info = |name: &str| {
        supervisor
            .which_children()
            .into_iter()
            .find(|c| c.name == name)
    };

    // A crash: permanent and transient restart, temporary is deleted.
    for name in ["permanent", "transient", "temporary"] {
        let _ = host.actor(name).unwrap().call("panic").await;
    }
    wait_until("crash outcomes", || {
        info("permanent").is_some_and(|c| c.restarts == 1 && c.status == ActorStatus::Running)
            && info("transient")
                .is_some_and(|c| c.restarts == 1 && c.status == ActorStatus::Running)
            && info("temporary").is_none()
    })
    .await;

    // A normal exit: permanent restarts, transient stays down (spec kept).
    for name in ["permanent", "transient"] {
        let _ = host.actor(name).unwrap().call("exit 0").await;
    }
    wait_until("normal-exit outcomes", || {
        info("permanent").is_some_and(|c| c.restarts == 2 && c.status == ActorStatus::Running)
            && info("transient").is_some_and(|c| matches!(c.status, ActorStatus::Stopped(_)))
    })
    .await;
    let transient = info("transient").unwrap();
    assert_eq!(transient.last_exit, Some(ExitReason::Normal));
    let result = host.actor("transient").unwrap().call("echo hi").await;
    assert!(
        matches!(&result, Err(CallError::Stopped { reason, .. }) if reason.contains("exited normally")),
        "{result:?}"
    );
    host.shutdown().await;
}

/// S8: a sibling that fails to start during a one-for-all restart. The ones
/// already started stay up; the retry applies the strategy again.
#[tokio::test(start_paused = true)]
async fn a_sibling_that_fails_to_start_during_a_group_restart_is_retried_with_the_whole_group() {
    let store = Arc::new(MemoryStateStore::new());
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let counter = plugin(&host, "counter").await;
    let memo = plugin(&host, "memo").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("group")
            .strategy(Strategy::OneForAll)
            .intensity(5, Duration::from_secs(60))
            .backoff(Backoff::Fixed(Duration::from_secs(10)))
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("m", memo))
            .child(ChildSpec::new("c", counter)),
    )
    .await;

    // Corrupt m's snapshot behind its back: its `restore` will refuse it.
    let saved = store.load("m").await.unwrap();
    let corrupt = wasmvisor::state::Changes {
        base_version: saved.version,
        snapshot: Some(vec![0xff, 0xfe]),
        ..Default::default()
    };
    store.commit("m", corrupt).await.unwrap();

    let mut events = host.subscribe();
    crash(&host, "a").await;
    within("the failed restart", async {
        loop {
            if let Event::RestartFailed { actor, reason } = events.recv().await.unwrap() {
                assert_eq!(actor, "m");
                assert!(reason.contains("the snapshot is not UTF-8"), "{reason}");
                return;
            }
        }
    })
    .await;
    let states: Vec<ActorStatus> = supervisor
        .which_children()
        .into_iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(
        states,
        [
            ActorStatus::Running,
            ActorStatus::Restarting,
            ActorStatus::Restarting
        ],
        "a started before m failed and stays up; c waits"
    );
    let a_first = supervisor.which_children()[0].instance;

    // Repair the snapshot; the retry (after the delay) restarts the whole group.
    let saved = store.load("m").await.unwrap();
    let repaired = wasmvisor::state::Changes {
        base_version: saved.version,
        snapshot: Some(b"milk".to_vec()),
        ..Default::default()
    };
    store.commit("m", repaired).await.unwrap();
    all_running(&supervisor).await;
    assert_ne!(
        supervisor.which_children()[0].instance,
        a_first,
        "a restarted again"
    );
    assert_eq!(call_ok(&host, "m", "recall").await, "milk");
    host.shutdown().await;
}
