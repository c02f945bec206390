//! The instance pool (`HostBuilder::instance_pool`): actors run and restart
//! in a fixed number of slots, and an actor that finds every slot taken
//! fails to start with an error that says so, while the others go on. A
//! memory reservation (`HostBuilder::memory_reservation`) makes the slots
//! smaller, and caps what a pooled child may ask for.

use wasmvisor::{CallError, ChildSpec, CrashReason, Error, Host, Limits, SupervisorSpec};

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

/// With a small memory reservation, a pool's slots are that small: actors
/// run and restart as before, the memory limit still stops a hog with its
/// own reason, and a child that asks for more memory than a slot holds is
/// refused when it is started, naming both figures, while the others run.
#[tokio::test]
async fn a_small_memory_reservation_caps_what_a_pooled_child_may_ask_for() {
    let reservation = 32 << 20;
    let host = Host::builder()
        .instance_pool(4)
        .memory_reservation(reservation)
        .build()
        .unwrap();
    let counter = plugin(&host, "counter").await;
    let hog = plugin(&host, "hog").await;
    supervise(
        &host,
        SupervisorSpec::new("small")
            .child(ChildSpec::new("counter", counter.clone()).limits(
                // Within the reservation.
                Limits::default().memory_bytes(reservation),
            ))
            .child(ChildSpec::new("hog", hog).limits(Limits::default().memory_bytes(16 << 20))),
    )
    .await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let crashed = host.actor("counter").unwrap().call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    assert_eq!(call_ok(&host, "counter", "get").await, "1");
    match host.actor("hog").unwrap().call("hog").await {
        Err(CallError::Crashed { reason, .. }) => assert_eq!(
            reason,
            CrashReason::MemoryLimit {
                limit_bytes: 16 << 20
            }
        ),
        other => panic!("the hog should hit its memory limit, got {other:?}"),
    }

    let refused = host
        .start_supervisor(SupervisorSpec::new("greedy").child(
            ChildSpec::new("greedy", counter).limits(Limits::default().memory_bytes(64 << 20)),
        ))
        .await;
    match refused {
        Err(Error::InvalidSpec { what, reason }) => {
            assert_eq!(what, "greedy");
            assert!(
                reason.contains(&(64u64 << 20).to_string())
                    && reason.contains(&reservation.to_string())
                    && reason.contains("memory_reservation"),
                "the reason should give the limit, the reservation and the setting: {reason}"
            );
        }
        other => panic!("a child asking for more than a slot holds should be refused: {other:?}"),
    }
    assert!(host.actor("greedy").is_none());
    assert_eq!(call_ok(&host, "counter", "get").await, "1");
    host.shutdown().await;
}

/// Without a pool a memory reservation caps nothing: a memory that outgrows
/// it moves, and the actor's own limit is what stops it.
#[tokio::test]
async fn without_a_pool_a_memory_outgrows_a_small_reservation_up_to_its_limit() {
    let host = Host::builder().memory_reservation(4 << 20).build().unwrap();
    let hog = plugin(&host, "hog").await;
    let limit = 24 << 20;
    supervise(
        &host,
        SupervisorSpec::new("moving")
            .child(ChildSpec::new("hog", hog).limits(Limits::default().memory_bytes(limit))),
    )
    .await;
    match host.actor("hog").unwrap().call("hog").await {
        Err(CallError::Crashed { reason, .. }) => {
            assert_eq!(reason, CrashReason::MemoryLimit { limit_bytes: limit })
        }
        other => panic!("the hog should hit its memory limit, got {other:?}"),
    }
    assert_eq!(call_ok(&host, "hog", "ping").await, "pong");
    host.shutdown().await;
}

#[test]
fn a_memory_reservation_of_nothing_is_refused() {
    match Host::builder().memory_reservation(0).build() {
        Err(error) => assert!(
            error.to_string().contains("reservation"),
            "the error should name the reservation: {error}"
        ),
        Ok(_) => panic!("a reservation of 0 bytes should be refused"),
    }
}
