//! Lifecycle hooks and jobs: `init` with config, a start that fails, a
//! graceful `shutdown` whose writes are kept, brutal kills, and jobs that
//! finish.

use std::sync::Arc;
use std::time::Duration;

use wasmvisor::{
    ActorStatus, CallError, ChildSpec, Error, ExitReason, Host, MemoryStateStore, RestartType,
    Shutdown, StateStore, SupervisorSpec, SupervisorStatus,
};

use crate::common::{call_ok, plugin, single, supervise, wait_until, within};

fn host_on(store: &Arc<MemoryStateStore>) -> Host {
    Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap()
}

async fn entry(store: &MemoryStateStore, actor: &str, key: &str) -> Option<String> {
    let state = store.load(actor).await.unwrap();
    state
        .entries
        .get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[tokio::test]
async fn init_receives_the_plugin_config() {
    let host = Host::new().unwrap();
    single(&host, "greeter", "greeter", |c| {
        c.config("greeting", "ahoy")
    })
    .await;
    assert_eq!(call_ok(&host, "greeter", "Ada").await, "ahoy, Ada");
    host.shutdown().await;
}

#[tokio::test]
async fn a_child_that_fails_to_start_fails_its_supervisor_and_stops_the_ones_before_it() {
    let host = Host::new().unwrap();
    let spec = SupervisorSpec::new("app")
        .child(ChildSpec::new("first", plugin(&host, "counter").await))
        .child(
            ChildSpec::new("greeter", plugin(&host, "greeter").await).config("refuse", "not today"),
        )
        .child(ChildSpec::new("never", plugin(&host, "counter").await));
    let error = host.start_supervisor(spec).await.unwrap_err();
    let Error::StartFailed { actor, reason } = &error else {
        panic!("expected a start failure, got {error}");
    };
    assert_eq!(actor, "greeter");
    assert_eq!(reason, "`init` failed: not today");
    assert!(host.actors().is_empty(), "every name is released");
    assert!(host.supervisors().is_empty());
}

#[tokio::test]
async fn a_graceful_stop_runs_the_shutdown_hook_and_keeps_its_writes() {
    let store = Arc::new(MemoryStateStore::new());
    let host = host_on(&store);
    single(&host, "greeter", "greeter", |c| c).await;
    call_ok(&host, "greeter", "Ada").await;
    host.shutdown().await;
    assert_eq!(
        entry(&store, "greeter", "shutdowns").await.as_deref(),
        Some("1")
    );

    let host = host_on(&store);
    single(&host, "greeter", "greeter", |c| c).await;
    assert_eq!(call_ok(&host, "greeter", "shutdowns").await, "1");
    let greeter = host.actor("greeter").unwrap();
    host.shutdown().await;
    assert_eq!(greeter.info().last_exit, Some(ExitReason::Shutdown));
    assert_eq!(
        entry(&store, "greeter", "shutdowns").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn a_brutal_kill_skips_the_shutdown_hook() {
    let store = Arc::new(MemoryStateStore::new());
    let host = host_on(&store);
    single(&host, "greeter", "greeter", |c| {
        c.shutdown(Shutdown::BrutalKill)
    })
    .await;
    let greeter = host.actor("greeter").unwrap();
    host.shutdown().await;
    assert_eq!(greeter.info().last_exit, Some(ExitReason::Killed));
    assert_eq!(entry(&store, "greeter", "shutdowns").await, None);
}

#[tokio::test]
async fn a_transient_job_runs_once_and_is_not_restarted_after_finishing() {
    let store = Arc::new(MemoryStateStore::new());
    let host = host_on(&store);
    let supervisor = single(&host, "batch", "batch", |c| {
        c.restart(RestartType::Transient)
    })
    .await;
    let batch = supervisor.which_children().remove(0);
    assert_eq!(batch.name, "batch");
    wait_until("the job finishes", || {
        matches!(
            supervisor.which_children()[0].status,
            ActorStatus::Stopped(_)
        )
    })
    .await;
    let info = supervisor.which_children().remove(0);
    assert_eq!(info.last_exit, Some(ExitReason::Normal));
    assert_eq!(info.restarts, 0);
    let ActorStatus::Stopped(reason) = info.status else {
        unreachable!()
    };
    assert!(
        reason.contains("exited normally and is not restarted"),
        "{reason}"
    );
    assert_eq!(entry(&store, "batch", "runs").await.as_deref(), Some("1"));
    assert_eq!(supervisor.status(), SupervisorStatus::Running);
    host.shutdown().await;
}

#[tokio::test]
async fn a_permanent_job_is_restarted_after_finishing_until_the_intensity_runs_out() {
    let store = Arc::new(MemoryStateStore::new());
    let host = host_on(&store);
    let child = ChildSpec::new("batch", plugin(&host, "batch").await);
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("looping")
            .intensity(3, Duration::from_secs(60))
            .child(child),
    )
    .await;
    let status = within("the give-up", supervisor.stopped()).await;
    assert!(matches!(status, SupervisorStatus::GaveUp(_)), "{status:?}");
    // The first run and three restarts each ran the job once.
    assert_eq!(entry(&store, "batch", "runs").await.as_deref(), Some("4"));
}

#[tokio::test]
async fn a_name_can_belong_to_one_actor_only() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    let second = SupervisorSpec::new("second")
        .child(ChildSpec::new("counter", plugin(&host, "counter").await));
    let error = host.start_supervisor(second).await.unwrap_err();
    assert!(
        matches!(&error, Error::DuplicateName(name) if name == "counter"),
        "{error}"
    );
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn a_plugin_loaded_by_another_host_is_refused_with_a_clear_error() {
    let other = Host::new().unwrap();
    let foreign = plugin(&other, "counter").await;
    let host = Host::new().unwrap();
    let spec = SupervisorSpec::new("app").child(ChildSpec::new("counter", foreign));
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidSpec { what, reason } if what == "counter" && reason.contains("loaded by another host")),
        "{error}"
    );
}

#[tokio::test]
async fn a_graceful_stop_that_runs_out_of_time_is_a_kill() {
    let store = Arc::new(MemoryStateStore::new());
    let host = host_on(&store);
    single(&host, "greeter", "greeter", |c| {
        c.config("stall-shutdown", "yes")
            .shutdown(Shutdown::Timeout(Duration::from_millis(200)))
    })
    .await;
    let greeter = host.actor("greeter").unwrap();
    within("the stop", host.shutdown()).await;
    assert_eq!(greeter.info().last_exit, Some(ExitReason::Killed));
    assert_eq!(entry(&store, "greeter", "shutdowns").await, None);
}

/// A spinner whose calls may run far longer than the tests' patience, so
/// that a stop finishing in time proves it did not wait for the call.
fn long_spinner(c: ChildSpec) -> ChildSpec {
    c.limits(wasmvisor::Limits::default().call_timeout(Duration::from_secs(120)))
}

/// Starts a `spin` call on `actor` and waits until the guest is running it.
async fn spinning(host: &Host, actor: &str) -> tokio::task::JoinHandle<Result<Vec<u8>, CallError>> {
    let actor = host.actor(actor).unwrap();
    let mut call = Box::pin({
        let actor = actor.clone();
        async move { actor.call("spin").await }
    });
    // One poll puts the message in the mailbox (then it waits for the reply).
    tokio::select! {
        biased;
        answer = &mut call => panic!("`spin` answered at once: {answer:?}"),
        () = std::future::ready(()) => {}
    }
    wait_until("the spin is taken", || actor.info().mailbox_depth == 0).await;
    tokio::spawn(call)
}

#[tokio::test]
async fn a_brutal_kill_cuts_off_the_message_in_progress() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "spinner", "spinner", |c| {
        long_spinner(c).shutdown(Shutdown::BrutalKill)
    })
    .await;
    let call = spinning(&host, "spinner").await;
    within("the kill", supervisor.terminate_child("spinner"))
        .await
        .unwrap();
    let answer = within("the answer", call).await.unwrap();
    assert!(
        matches!(&answer, Err(CallError::Stopped { reason, .. }) if reason.contains("killed")),
        "{answer:?}"
    );
    let child = &supervisor.which_children()[0];
    assert_eq!(child.last_exit, Some(ExitReason::Killed));
    // Not a crash: no restart, and it starts again on request.
    assert_eq!(child.restarts, 0);
    supervisor.restart_child("spinner").await.unwrap();
    assert_eq!(call_ok(&host, "spinner", "ping").await, "pong");
    host.shutdown().await;
}

#[tokio::test]
async fn a_shutdown_timeout_kills_a_child_stuck_in_a_message() {
    let host = Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        long_spinner(c).shutdown(Shutdown::Timeout(Duration::from_millis(200)))
    })
    .await;
    let spinner = host.actor("spinner").unwrap();
    let call = spinning(&host, "spinner").await;
    within("the stop", host.shutdown()).await;
    assert_eq!(spinner.info().last_exit, Some(ExitReason::Killed));
    assert!(within("the answer", call).await.unwrap().is_err());
}

#[tokio::test]
async fn a_nested_supervisor_is_stopped_by_its_own_shutdown_spec() {
    let host = Host::new().unwrap();
    let spinner = plugin(&host, "spinner").await;
    // The worker would wait for its message (Infinity); the nested
    // supervisor's spec says 200 ms, after which everything below it is
    // killed.
    let inner = SupervisorSpec::new("inner")
        .child(long_spinner(ChildSpec::new("spinner", spinner)).shutdown(Shutdown::Infinity));
    let top = supervise(
        &host,
        SupervisorSpec::new("top").child(
            ChildSpec::supervisor(inner).shutdown(Shutdown::Timeout(Duration::from_millis(200))),
        ),
    )
    .await;
    let worker = host.actor("spinner").unwrap();
    let call = spinning(&host, "spinner").await;
    within("the stop", top.stop()).await;
    assert!(within("the answer", call).await.unwrap().is_err());
    assert_eq!(worker.info().last_exit, Some(ExitReason::Killed));
    assert_eq!(top.status(), SupervisorStatus::Stopped);
}
