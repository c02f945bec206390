//! Killing from outside (`docs/design/supervision.md` S19): `ActorRef::kill`,
//! `SupervisorRef::kill`, and `wasmvisor kill NAME` through the admin API.
//! The exit reason is `Killed`, abnormal, so the supervisor applies the
//! restart type as for a crash.

use wasmvisor::{
    ActorStatus, CallError, ChildSpec, ExitReason, Host, RestartType, SupervisorSpec,
    SupervisorStatus,
};

use crate::cli::{start_host, stop_host, wasmvisor};
use crate::common::{call_ok, exits, guest, plugin, single, supervise, wait_until, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_transient_actor_exits_killed_and_is_restarted_with_its_state() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "counter", "counter", |c| {
        c.restart(RestartType::Transient)
    })
    .await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let counter = host.actor("counter").unwrap();
    let before = counter.info().instance.unwrap();
    let mut events = host.subscribe();

    assert_eq!(counter.kill().await, Some(before));
    assert_eq!(
        exits(&mut events, 1).await,
        vec![("counter".to_owned(), ExitReason::Killed)]
    );
    // Abnormal: a transient child is restarted, counted as any restart.
    assert_eq!(call_ok(&host, "counter", "get").await, "1", "state kept");
    let info = counter.info();
    assert_eq!(info.last_exit, Some(ExitReason::Killed));
    assert_eq!(info.restarts, 1);
    assert!(info.instance.is_some_and(|now| now != before));
    assert_eq!(supervisor.restart_budget().used, 1);
    host.shutdown().await;
}

/// A kill cuts a message off in the middle: its caller is answered, its
/// writes are gone, and the message that waited behind it is answered by
/// the next instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_cuts_off_the_message_in_progress() {
    let host = Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(wasmvisor::Limits::default().call_timeout(std::time::Duration::from_secs(600)))
    })
    .await;
    let spinner = host.actor("spinner").unwrap();
    // Through the mailbox: once none waits there, the actor's task holds
    // the instance, spinning.
    spinner.cast("spin").await.unwrap();
    wait_until("the spin to hold the instance", || {
        spinner.info().mailbox_depth == 0
    })
    .await;
    let spin_call = tokio::spawn({
        let spinner = spinner.clone();
        async move { spinner.call("spin").await }
    });
    wait_until("a call to wait behind the spin", || {
        spinner.info().mailbox_depth == 1
    })
    .await;

    // The cast's spin is cut off; the call behind it goes to the next
    // instance, which spins in turn, until killed too.
    assert!(spinner.kill().await.is_some());
    wait_until("the next instance to take the call", || {
        let info = spinner.info();
        info.restarts == 1 && info.status == ActorStatus::Running && info.mailbox_depth == 0
    })
    .await;
    assert!(spinner.kill().await.is_some());
    let cut_off = within("the call's answer", spin_call).await.unwrap();
    assert!(
        matches!(&cut_off, Err(CallError::Stopped { reason, .. }) if reason.contains("killed")),
        "{cut_off:?}"
    );
    assert_eq!(call_ok(&host, "spinner", "ping").await, "pong");
    let info = spinner.info();
    assert_eq!(info.last_exit, Some(ExitReason::Killed));
    assert_eq!(info.restarts, 2);
    host.shutdown().await;
}

#[tokio::test]
async fn a_killed_temporary_actor_is_removed_and_its_name_released() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "counter", "counter", |c| {
        c.restart(RestartType::Temporary)
    })
    .await;
    let counter = host.actor("counter").unwrap();
    assert!(counter.kill().await.is_some());
    wait_until("the name to be released", || {
        host.actor("counter").is_none()
    })
    .await;
    assert!(supervisor.which_children().is_empty());
    assert_eq!(counter.kill().await, None, "nothing left to kill");
    assert!(matches!(
        counter.call("get").await,
        Err(CallError::Stopped { .. })
    ));
    host.shutdown().await;
}

/// Killing a nested supervisor kills its subtree at once, whatever the
/// children's shutdown specs, and its parent restarts it (with its initial
/// children) as for any abnormal exit; killing the top one releases every
/// name and leaves no instance behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_supervisor_kills_its_subtree() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let slow_to_stop = |id: &str| {
        ChildSpec::new(id, counter.clone()).shutdown(wasmvisor::Shutdown::Timeout(
            std::time::Duration::from_secs(600),
        ))
    };
    let inner = SupervisorSpec::new("inner")
        .child(slow_to_stop("a"))
        .child(slow_to_stop("b"));
    let root = supervise(
        &host,
        SupervisorSpec::new("root")
            .child(ChildSpec::supervisor(inner))
            .child(slow_to_stop("c")),
    )
    .await;
    assert_eq!(call_ok(&host, "a", "inc").await, "1");
    let mut events = host.subscribe();

    let inner_ref = root.child_supervisor("inner").unwrap();
    assert_eq!(inner_ref.kill().await, SupervisorStatus::Killed);
    let mut killed: Vec<(String, String)> = exits(&mut events, 3)
        .await
        .into_iter()
        .map(|(actor, reason)| (actor, reason.to_string()))
        .collect();
    killed.sort();
    assert_eq!(
        killed,
        ["a", "b", "inner"]
            .map(|actor| (actor.to_owned(), ExitReason::Killed.to_string()))
            .to_vec()
    );
    wait_until("inner to be restarted", || {
        root.which_children()[0].status == ActorStatus::Running
    })
    .await;
    assert_eq!(root.which_children()[0].restarts, 1);
    assert_eq!(call_ok(&host, "a", "get").await, "1", "state kept");
    assert_eq!(
        call_ok(&host, "c", "inc").await,
        "1",
        "the sibling untouched"
    );

    assert_eq!(root.kill().await, SupervisorStatus::Killed);
    for name in ["a", "b", "c"] {
        assert!(host.actor(name).is_none(), "{name} is released");
    }
    wait_until("no instance left", || host.live_instances() == 0).await;
    host.shutdown().await;
}

/// `wasmvisor kill NAME` on a running host: the actor restarts with its
/// state; a stopped one, or an unknown name, is refused, saying why.
#[tokio::test(flavor = "multi_thread")]
async fn wasmvisor_kill_kills_an_actor_of_a_running_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    let host = start_host(dir.path()).await;
    let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "inc"]).await;
    assert!(ok, "{out}{err}");

    let (ok, out, err) = wasmvisor(&host.dir, &["kill", "counter"]).await;
    assert!(ok, "{out}{err}");
    let client = host.client();
    within("the restart", async {
        loop {
            let actors = client.actors().await.unwrap();
            let counter = actors.iter().find(|a| a.name == "counter").unwrap();
            if counter.status == ActorStatus::Running && counter.restarts == 1 {
                assert_eq!(counter.last_exit, Some(ExitReason::Killed));
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let (ok, out, err) = wasmvisor(&host.dir, &["call", "counter", "get"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "1");

    // Stopped, it runs nothing to kill: refused, saying so.
    let (ok, out, err) = wasmvisor(&host.dir, &["stop", "counter"]).await;
    assert!(ok, "{out}{err}");
    let (ok, _, err) = wasmvisor(&host.dir, &["kill", "counter"]).await;
    assert!(!ok);
    assert!(err.contains("not running"), "{err}");

    let (ok, _, err) = wasmvisor(&host.dir, &["kill", "nobody"]).await;
    assert!(!ok);
    assert!(err.contains("nobody"), "{err}");
    stop_host(host).await;
}
