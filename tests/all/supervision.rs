//! The first cut of supervision: one-for-one restarts, restart intensity,
//! backoff, and mailboxes that survive restarts.

use std::time::Duration;

use wasmvisor::{
    ActorStatus, Backoff, CallError, ChildSpec, CrashReason, Event, ExitReason, Host, Limits,
    SupervisorSpec, SupervisorStatus,
};

use crate::common::{call_ok, plugin, single, supervise, wait_until, within};

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

/// A memory store whose loads of one actor's state wait at a gate once it
/// is armed, saying when one does.
struct SlowToLoad {
    inner: wasmvisor::MemoryStateStore,
    actor: &'static str,
    armed: std::sync::atomic::AtomicBool,
    waiting: std::sync::atomic::AtomicBool,
    gate: tokio::sync::Semaphore,
    /// Whether a load let through the gate fails (once).
    fail_at_gate: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl wasmvisor::StateStore for SlowToLoad {
    async fn load(
        &self,
        actor: &str,
    ) -> Result<wasmvisor::state::CommittedState, wasmvisor::StateError> {
        use std::sync::atomic::Ordering;
        if actor == self.actor && self.armed.load(Ordering::SeqCst) {
            self.waiting.store(true, Ordering::SeqCst);
            let _permit = self.gate.acquire().await.unwrap();
            self.waiting.store(false, Ordering::SeqCst);
            if self.fail_at_gate.swap(false, Ordering::SeqCst) {
                return Err(wasmvisor::StateError::Backend {
                    context: "loading".to_owned(),
                    source: "the disk is gone".into(),
                });
            }
        }
        self.inner.load(actor).await
    }

    async fn commit(
        &self,
        actor: &str,
        changes: wasmvisor::state::Changes,
    ) -> Result<u64, wasmvisor::StateError> {
        self.inner.commit(actor, changes).await
    }

    async fn delete(&self, actor: &str) -> Result<(), wasmvisor::StateError> {
        self.inner.delete(actor).await
    }

    async fn actors(&self) -> Result<Vec<(String, u64)>, wasmvisor::StateError> {
        self.inner.actors().await
    }
}

/// A host on a [`SlowToLoad`] store (not armed yet), running the counter as
/// `slow` under supervisor `sup`, counted to 1; and the counter's plugin.
async fn slow_to_load_counter() -> (
    std::sync::Arc<SlowToLoad>,
    Host,
    wasmvisor::SupervisorRef,
    wasmvisor::Plugin,
) {
    use wasmvisor::{ChildSpec, SupervisorSpec};

    let store = std::sync::Arc::new(SlowToLoad {
        inner: wasmvisor::MemoryStateStore::new(),
        actor: "slow",
        armed: false.into(),
        waiting: false.into(),
        gate: tokio::sync::Semaphore::new(0),
        fail_at_gate: false.into(),
    });
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let counter = crate::common::plugin(&host, "counter").await;
    let supervisor = crate::common::supervise(
        &host,
        SupervisorSpec::new("sup").child(ChildSpec::new("slow", counter.clone())),
    )
    .await;
    assert_eq!(call_ok(&host, "slow", "inc").await, "1");
    (store, host, supervisor, counter)
}

/// Crashes `slow` with its store armed, and waits until its restart waits
/// at the gate.
async fn crash_and_hold_its_restart(store: &SlowToLoad, host: &Host) {
    use std::sync::atomic::Ordering;

    store.armed.store(true, Ordering::SeqCst);
    let crashed = host.actor("slow").unwrap().call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    wait_until("the restart waits for its state", || {
        store.waiting.load(Ordering::SeqCst)
    })
    .await;
}

/// A restart's last child is not waited for: while its new instance is
/// still starting, the supervisor answers requests (here `start_child`),
/// and the restart then completes with the state kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_answers_requests_while_a_restarted_child_is_still_starting() {
    use wasmvisor::ChildSpec;

    let (store, host, supervisor, counter) = slow_to_load_counter().await;

    crash_and_hold_its_restart(&store, &host).await;
    // Were the supervisor waiting for that start, this would wait too.
    within(
        "a new child, started while the restart waits",
        supervisor.start_child(ChildSpec::new("other", counter)),
    )
    .await
    .unwrap();
    assert_eq!(call_ok(&host, "other", "inc").await, "1");
    assert_eq!(
        host.actor("slow").unwrap().info().status,
        ActorStatus::Restarting,
        "still starting"
    );

    store.gate.add_permits(1);
    assert_eq!(call_ok(&host, "slow", "get").await, "1");
    assert_eq!(host.actor("slow").unwrap().info().restarts, 1);
    host.shutdown().await;
}

/// The child a restart does not wait for is restarting, not running, until
/// its new instance runs (S6): listings and management calls made while its
/// start is held at a gate see it so, and when that start fails, the usual
/// retry follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_restart_is_still_starting_is_seen_restarting() {
    use std::sync::atomic::Ordering;
    use wasmvisor::{ChildError, ChildSpec, Event};

    let (store, host, supervisor, counter) = slow_to_load_counter().await;
    let mut events = host.subscribe();

    crash_and_hold_its_restart(&store, &host).await;
    let listed = &supervisor.which_children()[0];
    assert_eq!(listed.status, ActorStatus::Restarting, "{listed:?}");
    assert_eq!(listed.instance, None);
    assert_eq!(supervisor.count_children().active, 0);
    assert!(
        matches!(
            supervisor.restart_child("slow").await,
            Err(ChildError::Restarting(_))
        ),
        "restart_child sees it restarting"
    );
    assert!(
        matches!(
            supervisor
                .start_child(ChildSpec::new("slow", counter.clone()))
                .await,
            Err(ChildError::AlreadyPresent(_))
        ),
        "start_child sees it present, not started"
    );

    // That start fails: it is retried, as any failed restart is.
    store.fail_at_gate.store(true, Ordering::SeqCst);
    store.armed.store(false, Ordering::SeqCst);
    store.gate.add_permits(1);
    within("the failed start is reported and retried", async {
        loop {
            if let Event::RestartFailed { actor, reason } = events.recv().await.unwrap() {
                assert_eq!(actor, "slow");
                assert!(reason.contains("the disk is gone"), "{reason}");
                break;
            }
        }
    })
    .await;
    assert_eq!(call_ok(&host, "slow", "get").await, "1");
    let listed = &supervisor.which_children()[0];
    assert_eq!(listed.status, ActorStatus::Running);
    assert_eq!(listed.restarts, 1);
    assert!(
        matches!(
            supervisor.restart_child("slow").await,
            Err(ChildError::Running(_))
        ),
        "running once it runs"
    );
    host.shutdown().await;
}

/// The value of `wasmvisor_restarts_total` for `actor` in `metrics`.
fn restarts_total(metrics: &str, actor: &str) -> u64 {
    let series = format!("wasmvisor_restarts_total{{actor=\"{actor}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn restarts_total_counts_restarts_that_happened_not_ones_scheduled() {
    let host = Host::new().unwrap();
    let crash = |name: &'static str| {
        let host = host.clone();
        async move {
            let reply = host.actor(name).unwrap().call("crash").await;
            assert!(matches!(reply, Err(CallError::Crashed { .. })), "{reply:?}");
        }
    };
    // Restarted at once: counted once its new instance runs.
    single(&host, "quick", "counter", |c| c).await;
    crash("quick").await;
    wait_until("the restart is counted", || {
        restarts_total(&host.metrics(), "quick") == 1
    })
    .await;
    assert_eq!(host.actor("quick").unwrap().info().restarts, 1);

    // Waiting an hour for its backoff: scheduled, not yet made.
    let patient = ChildSpec::new("patient", plugin(&host, "counter").await);
    let mut events = host.subscribe();
    supervise(
        &host,
        SupervisorSpec::new("patient-sup")
            .intensity(3, Duration::from_secs(7200))
            .backoff(Backoff::Fixed(Duration::from_secs(3600)))
            .child(patient),
    )
    .await;
    crash("patient").await;
    within("the restart to be scheduled", async {
        while !matches!(
            events.recv().await.unwrap(),
            Event::RestartScheduled { ref actor, .. } if actor == "patient"
        ) {}
    })
    .await;
    assert_eq!(
        host.actor("patient").unwrap().info().status,
        ActorStatus::Restarting
    );
    assert_eq!(restarts_total(&host.metrics(), "patient"), 0);
    assert_eq!(restarts_total(&host.metrics(), "quick"), 1);
    host.shutdown().await;
}
