//! Dynamic supervisors (worker pools and batch jobs) and significant
//! children with auto-shutdown: S13 and S14 of `docs/design/supervision.md`.

use std::sync::Arc;

use wasmvisor::{
    ActorStatus, AutoShutdown, ChildError, ChildSpec, Error, Host, MemoryStateStore, RestartType,
    Started, StateStore, SupervisorSpec, SupervisorStatus,
};

use crate::common::{call_ok, plugin, supervise, wait_until, within};

#[tokio::test]
async fn a_dynamic_worker_pool_grows_to_its_cap_and_shrinks_on_terminate() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let pool = supervise(&host, SupervisorSpec::dynamic("pool").max_children(3)).await;
    for i in 1..=3 {
        pool.start_child(ChildSpec::new(format!("worker-{i}"), counter.clone()))
            .await
            .unwrap();
    }
    assert_eq!(
        pool.start_child(ChildSpec::new("worker-4", counter.clone()))
            .await,
        Err(ChildError::MaxChildren(3))
    );
    assert_eq!(call_ok(&host, "worker-2", "inc").await, "1");

    // A crash restarts the worker alone.
    let _ = host.actor("worker-2").unwrap().call("crash").await;
    assert_eq!(call_ok(&host, "worker-2", "get").await, "1");
    assert_eq!(pool.which_children()[1].restarts, 1);

    // Terminating removes the child entirely; it is gone for a second call.
    pool.terminate_child("worker-1").await.unwrap();
    assert_eq!(
        pool.terminate_child("worker-1").await,
        Err(ChildError::NotFound("worker-1".into()))
    );
    assert!(host.actor("worker-1").is_none());
    assert_eq!(pool.count_children().specs, 2);
    pool.start_child(ChildSpec::new("worker-4", counter))
        .await
        .unwrap();

    assert_eq!(
        pool.restart_child("worker-2").await,
        Err(ChildError::Unsupported("restart_child"))
    );
    assert_eq!(
        pool.delete_child("worker-2").await,
        Err(ChildError::Unsupported("delete_child"))
    );

    pool.stop().await;
    assert!(
        host.actors()
            .iter()
            .all(|a| matches!(a.status, ActorStatus::Stopped(_)))
    );
    assert!(host.actor("worker-2").is_none());
}

#[tokio::test]
async fn a_batch_job_under_a_dynamic_supervisor_runs_once_and_is_removed() {
    let store = Arc::new(MemoryStateStore::new());
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let batch = plugin(&host, "batch").await;
    let jobs = supervise(&host, SupervisorSpec::dynamic("jobs")).await;
    jobs.start_child(ChildSpec::new("nightly", batch).restart(RestartType::Transient))
        .await
        .unwrap();
    wait_until("the job is done and removed", || {
        jobs.which_children().is_empty()
    })
    .await;
    let state = store.load("nightly").await.unwrap();
    assert_eq!(
        state.entries.get("runs").map(Vec::as_slice),
        Some(&b"1"[..])
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_dynamic_supervisor_takes_no_static_children() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let error = host
        .start_supervisor(SupervisorSpec::dynamic("pool").child(ChildSpec::new("a", counter)))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidSpec { .. }), "{error}");
}

#[tokio::test]
async fn any_significant_child_that_finishes_shuts_the_supervisor_down() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let batch = plugin(&host, "batch").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("session")
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(ChildSpec::new("helper", counter))
            .child(
                ChildSpec::new("main-job", batch)
                    .restart(RestartType::Transient)
                    .significant(true),
            ),
    )
    .await;
    let status = within("the auto shutdown", supervisor.stopped()).await;
    assert!(
        matches!(&status, SupervisorStatus::AutoShutdown(reason) if reason.contains("main-job")),
        "{status:?}"
    );
    assert!(
        host.actor("helper").is_none(),
        "the other children are stopped"
    );
}

#[tokio::test]
async fn all_significant_waits_for_the_last_one_and_terminate_child_never_triggers() {
    let host = Host::new().unwrap();
    let crasher = plugin(&host, "crasher").await;
    let batch = plugin(&host, "batch").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("all")
            .auto_shutdown(AutoShutdown::AllSignificant)
            .child(
                ChildSpec::new("job", batch)
                    .restart(RestartType::Transient)
                    .significant(true),
            )
            .child(
                ChildSpec::new("server", crasher.clone())
                    .restart(RestartType::Transient)
                    .significant(true),
            )
            .child(
                ChildSpec::new("other", crasher)
                    .restart(RestartType::Transient)
                    .significant(true),
            ),
    )
    .await;
    wait_until("the job finished", || {
        matches!(
            supervisor.which_children()[0].status,
            ActorStatus::Stopped(_)
        )
    })
    .await;
    assert_eq!(supervisor.status(), SupervisorStatus::Running);
    supervisor.terminate_child("other").await.unwrap();
    assert_eq!(
        supervisor.status(),
        SupervisorStatus::Running,
        "terminate_child never triggers it"
    );

    let _ = host.actor("server").unwrap().call("exit 0").await;
    let status = within("the auto shutdown", supervisor.stopped()).await;
    assert!(
        matches!(status, SupervisorStatus::AutoShutdown(_)),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_significant_permanent_child_is_rejected() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let error = host
        .start_supervisor(
            SupervisorSpec::new("bad")
                .auto_shutdown(AutoShutdown::AnySignificant)
                .child(ChildSpec::new("a", counter).significant(true)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidSpec { reason, .. } if reason.contains("cannot be permanent")),
        "{error}"
    );
}

/// An operator's restart (`wasmvisor restart`, the admin API's
/// `POST /v1/actors/NAME/restart`) of a dynamic child: a fresh instance of
/// the same child, its state kept; it used to delete the child (terminate,
/// then a restart_child that a dynamic supervisor does not support).
#[tokio::test(flavor = "multi_thread")]
async fn an_operators_restart_of_a_dynamic_child_restarts_it_and_keeps_it() {
    use wasmvisor_admin::{Action, AdminClient, AdminServer};

    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let pool = supervise(&host, SupervisorSpec::dynamic("pool")).await;
    let first = pool
        .start_child(ChildSpec::new("worker", counter))
        .await
        .unwrap()
        .instance()
        .unwrap();
    assert_eq!(call_ok(&host, "worker", "inc").await, "1");
    let server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "t")
        .await
        .unwrap();
    let admin = AdminClient::new(&server.addr().to_string(), Some("t".into()));

    admin.act("worker", Action::Restart).await.unwrap();
    let children = pool.which_children();
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0].name, "worker");
    assert_eq!(children[0].status, ActorStatus::Running);
    assert!(
        children[0]
            .instance
            .is_some_and(|instance| instance != first)
    );
    assert_eq!(children[0].restarts, 0, "not counted as a crash's restart");
    assert_eq!(
        call_ok(&host, "worker", "get").await,
        "1",
        "its state is kept"
    );
    assert_eq!(
        pool.restart_budget().used,
        0,
        "not counted toward the intensity"
    );

    // The same call on the host's API, and for an unknown child.
    let again = pool.restart_running("worker").await.unwrap();
    assert!(
        children[0]
            .instance
            .is_some_and(|before| Started::Running(before) != again)
    );
    assert_eq!(
        pool.restart_running("nobody").await,
        Err(ChildError::NotFound("nobody".into()))
    );
    server.stop().await;
    host.shutdown().await;
}
