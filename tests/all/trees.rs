//! Supervision trees: supervisors as children, escalation (OTP's
//! `rest_for_one_escalation`, `tree`; S9 of `docs/design/supervision.md`) and
//! shutdown order across levels.

use std::time::Duration;

use wasmvisor::{
    ActorStatus, ChildKind, ChildSpec, ExitReason, Host, RestartType, SupervisorRef,
    SupervisorSpec, SupervisorStatus,
};

use crate::common::{call_ok, lifecycle, plugin, supervise, wait_until, within};

async fn crash_worker(host: &Host) {
    // The worker may be between instances: wait until its name answers.
    wait_until("the worker is registered", || {
        host.actor("worker").is_some()
    })
    .await;
    let worker = host.actor("worker").unwrap();
    let _ = worker.call("panic").await;
}

fn info(supervisor: &SupervisorRef, id: &str) -> wasmvisor::ActorInfo {
    supervisor
        .which_children()
        .into_iter()
        .find(|c| c.name == id)
        .unwrap()
}

#[tokio::test]
async fn escalation_climbs_a_three_level_tree_until_the_root_gives_up() {
    let host = Host::new().unwrap();
    let crasher = plugin(&host, "crasher").await;
    let leaf = SupervisorSpec::new("leaf")
        .intensity(0, Duration::from_secs(60))
        .child(ChildSpec::new("worker", crasher));
    let mid = SupervisorSpec::new("mid")
        .intensity(1, Duration::from_secs(60))
        .child(ChildSpec::supervisor(leaf));
    let root = supervise(
        &host,
        SupervisorSpec::new("root")
            .intensity(1, Duration::from_secs(60))
            .child(ChildSpec::supervisor(mid)),
    )
    .await;
    assert_eq!(info(&root, "mid").kind, ChildKind::Supervisor);

    // 1: the leaf gives up at once; mid restarts it (mid's first restart).
    crash_worker(&host).await;
    wait_until("mid restarted the leaf", || {
        root.child_supervisor("mid").is_some_and(|mid| {
            info(&mid, "leaf").restarts == 1 && info(&mid, "leaf").status == ActorStatus::Running
        })
    })
    .await;
    assert_eq!(call_ok(&host, "worker", "echo up").await, "up");

    // 2: mid would need a second restart: it gives up, and root restarts it.
    crash_worker(&host).await;
    wait_until("root restarted mid", || {
        let mid = info(&root, "mid");
        mid.restarts == 1 && mid.status == ActorStatus::Running
    })
    .await;
    assert_eq!(info(&root, "mid").last_exit, Some(ExitReason::Shutdown));
    // A restarted supervisor comes back with fresh children and a fresh window.
    let mid = root.child_supervisor("mid").unwrap();
    assert_eq!(info(&mid, "leaf").restarts, 0);

    // 3 and 4: the new mid melts down too; root's own window is exceeded.
    crash_worker(&host).await;
    wait_until("the new mid restarted the leaf", || {
        root.child_supervisor("mid").is_some_and(|mid| {
            info(&mid, "leaf").restarts == 1 && info(&mid, "leaf").status == ActorStatus::Running
        })
    })
    .await;
    crash_worker(&host).await;
    let status = within("the root to give up", root.stopped()).await;
    let SupervisorStatus::GaveUp(reason) = status else {
        panic!("expected the root to give up, got {status:?}");
    };
    assert!(reason.contains("more than 1 restarts"), "{reason}");
    assert!(host.actor("worker").is_none(), "the whole tree is down");
}

#[tokio::test]
async fn a_transient_child_supervisor_stays_down_after_its_meltdown() {
    let host = Host::new().unwrap();
    let crasher = plugin(&host, "crasher").await;
    let counter = plugin(&host, "counter").await;
    let fragile = SupervisorSpec::new("fragile")
        .intensity(0, Duration::from_secs(60))
        .child(ChildSpec::new("worker", crasher));
    let root = supervise(
        &host,
        SupervisorSpec::new("root")
            .child(ChildSpec::supervisor(fragile).restart(RestartType::Transient))
            .child(ChildSpec::new("steady", counter)),
    )
    .await;
    crash_worker(&host).await;
    wait_until("fragile is down for good", || {
        matches!(info(&root, "fragile").status, ActorStatus::Stopped(_))
    })
    .await;
    let fragile = info(&root, "fragile");
    assert_eq!(fragile.last_exit, Some(ExitReason::Shutdown));
    assert_eq!(fragile.restarts, 0);
    assert_eq!(root.status(), SupervisorStatus::Running);
    assert_eq!(call_ok(&host, "steady", "inc").await, "1");
    assert!(host.actor("worker").is_none());
    host.shutdown().await;
}

#[tokio::test]
async fn a_tree_starts_depth_first_in_order_and_stops_in_reverse() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let mut events = host.subscribe();
    let sub = SupervisorSpec::new("sub")
        .child(ChildSpec::new("b1", counter.clone()))
        .child(ChildSpec::new("b2", counter.clone()));
    let root = supervise(
        &host,
        SupervisorSpec::new("root")
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::supervisor(sub))
            .child(ChildSpec::new("c", counter)),
    )
    .await;
    assert_eq!(
        lifecycle(&mut events, 5).await,
        ["start a", "start b1", "start b2", "start sub", "start c"]
    );
    let listed: Vec<String> = host.actors().into_iter().map(|a| a.name).collect();
    assert_eq!(listed, ["a", "sub", "b1", "b2", "c"]);
    assert_eq!(root.count_children().supervisors, 1);
    assert_eq!(
        call_ok(&host, "b2", "inc").await,
        "1",
        "nested actors are reachable by name"
    );

    root.stop().await;
    assert_eq!(
        lifecycle(&mut events, 5).await,
        ["exit c", "exit b2", "exit b1", "exit sub", "exit a"]
    );
}

#[tokio::test]
async fn a_temporary_child_supervisor_is_deleted_after_its_meltdown() {
    let host = Host::new().unwrap();
    let crasher = plugin(&host, "crasher").await;
    let fragile = SupervisorSpec::new("fragile")
        .intensity(0, Duration::from_secs(60))
        .child(ChildSpec::new("worker", crasher));
    let root = supervise(
        &host,
        SupervisorSpec::new("root")
            .child(ChildSpec::supervisor(fragile).restart(RestartType::Temporary)),
    )
    .await;
    crash_worker(&host).await;
    wait_until("fragile is gone", || root.which_children().is_empty()).await;
    assert_eq!(root.status(), SupervisorStatus::Running);
    host.shutdown().await;
}
