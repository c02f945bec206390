//! The instance pool (`HostBuilder::instance_pool`): actors run and restart
//! in a fixed number of slots, and an actor that finds every slot taken
//! fails to start with an error that says so, while the others go on.

use wasmvisor::{CallError, ChildSpec, Error, Host, SupervisorSpec};

use crate::common::{call_ok, plugin, supervise};

#[tokio::test]
async fn crashed_actors_restart_in_the_slots_they_free() {
    let host = Host::builder().instance_pool(3).build().unwrap();
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("pooled")
            .intensity(100, std::time::Duration::from_secs(60))
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("b", counter)),
    )
    .await;
    assert_eq!(call_ok(&host, "a", "inc").await, "1");
    assert_eq!(call_ok(&host, "b", "add 5").await, "5");
    // More restarts than the pool has slots: each new instance takes the
    // slot its crashed predecessor gave back.
    for _ in 0..10 {
        let crashed = host.actor("a").unwrap().call("crash").await;
        assert!(
            matches!(crashed, Err(CallError::Crashed { .. })),
            "{crashed:?}"
        );
        assert_eq!(call_ok(&host, "a", "get").await, "1");
    }
    assert_eq!(host.actor("a").unwrap().info().restarts, 10);
    assert_eq!(call_ok(&host, "b", "get").await, "5");
    host.shutdown().await;
}

#[tokio::test]
async fn an_actor_that_finds_the_pool_full_fails_to_start_and_says_why() {
    let host = Host::builder().instance_pool(2).build().unwrap();
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("first")
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("b", counter.clone())),
    )
    .await;
    let refused = host
        .start_supervisor(SupervisorSpec::new("second").child(ChildSpec::new("c", counter)))
        .await;
    match refused {
        Err(Error::StartFailed { actor, reason }) => {
            assert_eq!(actor, "c");
            assert!(
                reason.contains("instance pool is full") && reason.contains("instance_pool"),
                "the reason should name the full pool and the fix: {reason}"
            );
        }
        other => panic!("the third actor should not find a slot, got {other:?}"),
    }
    assert_eq!(call_ok(&host, "a", "inc").await, "1");
    assert_eq!(call_ok(&host, "b", "inc").await, "1");
    host.shutdown().await;
}

#[test]
fn a_pool_of_no_slots_is_refused() {
    let built = Host::builder().instance_pool(0).build();
    match built {
        Err(error) => assert!(
            error.to_string().contains("instance pool"),
            "the error should name the pool: {error}"
        ),
        Ok(_) => panic!("a pool of no slots should be refused"),
    }
}
