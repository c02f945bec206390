//! The management API and its error cases (OTP's `child_adm`), and the
//! intensity and backoff rules under paused time: S12, S5 and S17 of
//! `docs/design/supervision.md`.

use std::time::Duration;

use tokio::sync::broadcast;
use wasmvisor::{
    ActorStatus, Backoff, CallError, ChildCounts, ChildError, ChildSpec, Event, Host, RestartType,
    Started, SupervisorSpec, SupervisorStatus,
};

use crate::common::{call_ok, plugin, single, supervise, wait_until, within};

#[tokio::test]
async fn start_child_adds_a_child_and_refuses_duplicates_and_failures() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "a", "counter", |c| c).await;
    let counter = plugin(&host, "counter").await;

    let started = supervisor
        .start_child(ChildSpec::new("b", counter.clone()))
        .await
        .unwrap();
    let Started::Running(instance) = started else {
        panic!("{started:?}");
    };
    assert_eq!(supervisor.which_children()[1].instance, Some(instance));
    assert_eq!(call_ok(&host, "b", "inc").await, "1");

    let again = supervisor
        .start_child(ChildSpec::new("b", counter.clone()))
        .await;
    assert_eq!(
        again,
        Err(ChildError::AlreadyStarted {
            id: "b".into(),
            instance
        })
    );
    supervisor.terminate_child("b").await.unwrap();
    let present = supervisor
        .start_child(ChildSpec::new("b", counter.clone()))
        .await;
    assert_eq!(present, Err(ChildError::AlreadyPresent("b".into())));

    // A name that another supervisor's actor holds (S15): already started,
    // pointing at the other actor, and nothing is added.
    let other = single(&host, "elsewhere", "counter", |c| c).await;
    let taken = supervisor
        .start_child(ChildSpec::new("elsewhere", counter.clone()))
        .await;
    assert_eq!(
        taken,
        Err(ChildError::NameTaken {
            name: "elsewhere".into(),
            instance: other.which_children()[0].instance,
        })
    );
    assert!(
        supervisor
            .which_children()
            .iter()
            .all(|c| c.name != "elsewhere")
    );
    assert_eq!(call_ok(&host, "elsewhere", "inc").await, "1");

    let greeter = plugin(&host, "greeter").await;
    let failed = supervisor
        .start_child(ChildSpec::new("g", greeter).config("refuse", "no"))
        .await;
    assert_eq!(
        failed,
        Err(ChildError::StartFailed {
            id: "g".into(),
            reason: "`init` failed: no".into()
        })
    );
    assert_eq!(
        supervisor.which_children().len(),
        2,
        "the failed spec is discarded"
    );
    assert!(host.actor("g").is_none());
    host.shutdown().await;
}

#[tokio::test]
async fn terminate_child_keeps_the_spec_answers_calls_and_is_idempotent() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "a", "counter", |c| c).await;
    call_ok(&host, "a", "inc").await;
    assert_eq!(
        supervisor.terminate_child("nobody").await,
        Err(ChildError::NotFound("nobody".into()))
    );

    supervisor.terminate_child("a").await.unwrap();
    supervisor.terminate_child("a").await.unwrap();
    assert_eq!(
        supervisor.count_children(),
        ChildCounts {
            specs: 1,
            active: 0,
            supervisors: 0,
            workers: 1
        }
    );
    let result = host.actor("a").unwrap().call("get").await;
    assert!(
        matches!(&result, Err(CallError::Stopped { reason, .. }) if reason.contains("terminate_child")),
        "{result:?}"
    );

    supervisor.restart_child("a").await.unwrap();
    assert_eq!(call_ok(&host, "a", "get").await, "1", "state restored");
    assert_eq!(supervisor.count_children().active, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn terminating_a_temporary_child_deletes_it() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "t", "counter", |c| c.restart(RestartType::Temporary)).await;
    supervisor.terminate_child("t").await.unwrap();
    assert!(supervisor.which_children().is_empty());
    assert!(host.actor("t").is_none());
    host.shutdown().await;
}

#[tokio::test]
async fn management_calls_never_count_toward_the_intensity() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("strict")
            .intensity(0, Duration::from_secs(60))
            .child(ChildSpec::new("a", counter)),
    )
    .await;
    for _ in 0..5 {
        supervisor.terminate_child("a").await.unwrap();
        supervisor.restart_child("a").await.unwrap();
    }
    assert_eq!(supervisor.status(), SupervisorStatus::Running);
    assert_eq!(call_ok(&host, "a", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn restart_and_delete_child_refuse_running_restarting_and_unknown_children() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("slow")
            .intensity(3, Duration::from_secs(600))
            .backoff(Backoff::Fixed(Duration::from_secs(300)))
            .child(ChildSpec::new("a", counter.clone()))
            .child(ChildSpec::new("b", counter)),
    )
    .await;
    assert_eq!(
        supervisor.restart_child("a").await,
        Err(ChildError::Running("a".into()))
    );
    assert_eq!(
        supervisor.delete_child("a").await,
        Err(ChildError::Running("a".into()))
    );
    assert_eq!(
        supervisor.restart_child("x").await,
        Err(ChildError::NotFound("x".into()))
    );
    assert_eq!(
        supervisor.delete_child("x").await,
        Err(ChildError::NotFound("x".into()))
    );

    let _ = host.actor("b").unwrap().call("crash").await;
    wait_until("b waits for its restart", || {
        supervisor.which_children()[1].status == ActorStatus::Restarting
    })
    .await;
    assert_eq!(
        supervisor.restart_child("b").await,
        Err(ChildError::Restarting("b".into()))
    );
    assert_eq!(
        supervisor.delete_child("b").await,
        Err(ChildError::Restarting("b".into()))
    );

    // terminate_child cancels the pending restart; then the spec can go.
    supervisor.terminate_child("b").await.unwrap();
    supervisor.delete_child("b").await.unwrap();
    assert_eq!(supervisor.which_children().len(), 1);
    assert!(host.actor("b").is_none());
    host.shutdown().await;
}

#[tokio::test]
async fn intensity_zero_gives_up_at_the_first_crash() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("zero")
            .intensity(0, Duration::from_secs(5))
            .child(ChildSpec::new("a", counter)),
    )
    .await;
    let _ = host.actor("a").unwrap().call("crash").await;
    let status = within("the give-up", supervisor.stopped()).await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
}

async fn crash_and_wait_for_restart(host: &Host, name: &str, restarts: u64) {
    let actor = host.actor(name).unwrap();
    let _ = actor.call("crash").await;
    wait_until("the restart", || {
        actor.info().restarts == restarts && actor.info().status == ActorStatus::Running
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn crashes_spaced_beyond_the_window_survive_and_crashes_inside_it_escalate() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("window")
            .intensity(2, Duration::from_secs(10))
            .child(ChildSpec::new("a", counter)),
    )
    .await;
    assert_eq!(supervisor.restart_budget().left(), 2);
    for restarts in 1..=4 {
        crash_and_wait_for_restart(&host, "a", restarts).await;
        tokio::time::advance(Duration::from_secs(6)).await;
    }
    // Two restarts 6 s apart fit in 10 s; a third within the window does not.
    // The budget counts the restart of 6 s ago, not the ones before it.
    let budget = supervisor.restart_budget();
    assert_eq!(
        (budget.used, budget.left(), budget.within_ms),
        (1, 1, 10_000)
    );
    crash_and_wait_for_restart(&host, "a", 5).await;
    assert_eq!(supervisor.restart_budget().left(), 0);
    let _ = host.actor("a").unwrap().call("crash").await;
    let status = within("the give-up", supervisor.stopped()).await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
}

async fn next_delay(events: &mut broadcast::Receiver<Event>) -> u64 {
    within("a scheduled restart", async {
        loop {
            if let Event::RestartScheduled { delay_ms, .. } = events.recv().await.unwrap() {
                return delay_ms;
            }
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_grows_and_resets_after_a_stable_run() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("backoff")
            .intensity(10, Duration::from_secs(30))
            .backoff(Backoff::Exponential {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(300),
                multiplier: 2,
            })
            .child(ChildSpec::new("a", counter)),
    )
    .await;
    let mut events = host.subscribe();
    let mut delays = Vec::new();
    for restarts in 1..=4 {
        crash_and_wait_for_restart(&host, "a", restarts).await;
        delays.push(next_delay(&mut events).await);
    }
    assert_eq!(delays, [100, 200, 300, 300]);
    // Up for the whole window: the next crash starts the schedule again.
    tokio::time::advance(Duration::from_secs(31)).await;
    crash_and_wait_for_restart(&host, "a", 5).await;
    assert_eq!(next_delay(&mut events).await, 100);
    host.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn nothing_restarts_once_the_supervisor_is_stopping() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("stopping")
            .intensity(3, Duration::from_secs(60))
            .backoff(Backoff::Fixed(Duration::from_secs(10)))
            .child(ChildSpec::new("a", counter)),
    )
    .await;
    let _ = host.actor("a").unwrap().call("crash").await;
    wait_until("a waits for its restart", || {
        supervisor.which_children()[0].status == ActorStatus::Restarting
    })
    .await;
    let mut events = host.subscribe();
    supervisor.stop().await;
    tokio::time::advance(Duration::from_secs(30)).await;
    tokio::task::yield_now().await;
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, Event::ActorStarted { .. }),
            "nothing may start after the stop: {event:?}"
        );
    }
    assert!(matches!(
        supervisor.which_children()[0].status,
        ActorStatus::Stopped(_)
    ));
}

#[tokio::test]
async fn a_child_that_can_never_start_again_ends_in_a_give_up() {
    use std::sync::Arc;
    use wasmvisor::state::Changes;
    use wasmvisor::{MemoryStateStore, StateStore};
    let store = Arc::new(MemoryStateStore::new());
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let memo = plugin(&host, "memo").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("doomed")
            .intensity(3, Duration::from_secs(60))
            .child(ChildSpec::new("m", memo)),
    )
    .await;
    let saved = store.load("m").await.unwrap();
    let corrupt = Changes {
        base_version: saved.version,
        snapshot: Some(vec![0xff]),
        ..Default::default()
    };
    store.commit("m", corrupt).await.unwrap();
    let mut events = host.subscribe();
    let _ = host.actor("m").unwrap().call("crash").await;
    let status = within("the give-up", supervisor.stopped()).await;
    let SupervisorStatus::GaveUp(reason) = status else {
        panic!("expected a give-up, got {status:?}");
    };
    assert!(reason.contains("more than 3 restarts"), "{reason}");
    assert!(
        reason.contains("`m` failed to restart: `restore` rejected the saved snapshot"),
        "the give-up names the real cause: {reason}"
    );
    let mut failures = 0;
    while let Ok(event) = events.try_recv() {
        if let Event::RestartFailed { reason, .. } = event {
            assert!(
                reason.contains("`restore` rejected the saved snapshot"),
                "{reason}"
            );
            assert!(reason.contains("the saved state is kept"), "{reason}");
            failures += 1;
        }
    }
    assert_eq!(failures, 3, "every failed attempt is retried and counted");
    // The saved state was not overwritten.
    assert_eq!(store.load("m").await.unwrap().snapshot, Some(vec![0xff]));
}
