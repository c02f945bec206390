//! The first cut of supervision: one-for-one restarts, restart intensity,
//! backoff, and mailboxes that survive restarts.

use std::time::Duration;

use wasmvisor::{
    ActorStatus, Backoff, CallError, CrashReason, Event, ExitReason, Host, Limits, SupervisorStatus,
};

use crate::common::{call_ok, single, wait_until, within};

#[tokio::test]
async fn messages_queued_behind_a_crashing_message_are_answered_by_the_next_instance() {
    let host = Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(Limits::default().call_timeout(Duration::from_secs(2)))
    })
    .await;
    let spinner = host.actor("spinner").unwrap();
    let spin = tokio::spawn({
        let spinner = spinner.clone();
        async move { spinner.call("spin").await }
    });
    // The spin is being handled once it has left the mailbox.
    wait_until("the spin is taken", || {
        spinner.info().mailbox_depth == 0 && !spin.is_finished()
    })
    .await;
    let pings: Vec<_> = (0..5)
        .map(|_| {
            let spinner = spinner.clone();
            tokio::spawn(async move { spinner.call("ping").await })
        })
        .collect();
    wait_until("five pings wait behind the spin", || {
        spinner.info().mailbox_depth == 5
    })
    .await;
    assert!(matches!(
        spin.await.unwrap(),
        Err(CallError::Crashed {
            reason: CrashReason::DeadlineExceeded { .. },
            ..
        })
    ));
    for ping in pings {
        assert_eq!(ping.await.unwrap().unwrap(), b"pong");
    }
    assert_eq!(spinner.info().restarts, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn exceeding_restart_intensity_keeps_the_actor_down_and_says_why() {
    let host = Host::new().unwrap();
    let mut events = host.subscribe();
    let supervisor = {
        let child =
            wasmvisor::ChildSpec::new("crasher", crate::common::plugin(&host, "crasher").await);
        crate::common::supervise(
            &host,
            wasmvisor::SupervisorSpec::new("fragile")
                .intensity(2, Duration::from_secs(60))
                .child(child),
        )
        .await
    };
    let crasher = host.actor("crasher").unwrap();
    for _ in 0..3 {
        let result = crasher.call("panic").await;
        assert!(
            matches!(result, Err(CallError::Crashed { .. })),
            "{result:?}"
        );
    }
    let status = within("the supervisor to give up", supervisor.stopped()).await;
    let SupervisorStatus::GaveUp(reason) = status else {
        panic!("expected a give-up, got {status:?}");
    };
    assert!(
        reason.contains("restart intensity exceeded: more than 2 restarts within 60000 ms"),
        "{reason}"
    );
    assert!(reason.contains("guest panicked"), "{reason}");

    // The actor stays down, says why, and answers calls with the reason.
    assert!(matches!(crasher.info().status, ActorStatus::Stopped(ref r) if *r == reason));
    let result = crasher.call("echo hello").await;
    assert!(
        matches!(&result, Err(CallError::Stopped { reason: r, .. }) if *r == reason),
        "{result:?}"
    );
    assert!(host.actor("crasher").is_none(), "its name is released");
    assert_eq!(crasher.info().restarts, 2);

    // And the give-up was announced.
    let gave_up = within("the give-up event", async {
        loop {
            if let Event::SupervisorGaveUp { supervisor, reason } = events.recv().await.unwrap() {
                return (supervisor, reason);
            }
        }
    })
    .await;
    assert_eq!(gave_up, ("fragile".to_owned(), reason));
}

#[tokio::test]
async fn a_restart_waits_for_the_backoff_delay() {
    let host = Host::new().unwrap();
    let child = wasmvisor::ChildSpec::new("counter", crate::common::plugin(&host, "counter").await);
    crate::common::supervise(
        &host,
        wasmvisor::SupervisorSpec::new("patient")
            .backoff(Backoff::Fixed(Duration::from_millis(300)))
            .child(child),
    )
    .await;
    let mut events = host.subscribe();
    let counter = host.actor("counter").unwrap();
    let _ = counter.call("crash").await;
    let crashed_at = std::time::Instant::now();
    wait_until("the actor waits to restart", || {
        counter.info().status == ActorStatus::Restarting
    })
    .await;
    // A call made while the actor waits is answered by the next instance.
    assert_eq!(call_ok(&host, "counter", "get").await, "0");
    assert!(crashed_at.elapsed() >= Duration::from_millis(300));
    let scheduled = within("the restart event", async {
        loop {
            if let Event::RestartScheduled { delay_ms, .. } = events.recv().await.unwrap() {
                return delay_ms;
            }
        }
    })
    .await;
    assert_eq!(scheduled, 300);
    host.shutdown().await;
}

#[tokio::test]
async fn stopping_the_host_stops_actors_and_releases_their_names() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "counter", "counter", |c| c).await;
    let counter = host.actor("counter").unwrap();
    call_ok(&host, "counter", "inc").await;
    host.shutdown().await;
    assert_eq!(supervisor.status(), SupervisorStatus::Stopped);
    assert!(host.actor("counter").is_none());
    assert!(matches!(
        counter.call("get").await,
        Err(CallError::Stopped { .. })
    ));
    let info = counter.info();
    assert_eq!(info.last_exit, Some(ExitReason::Shutdown));
}
