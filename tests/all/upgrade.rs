//! Hot upgrades: a new version of a plugin takes over a running actor's
//! state and mailbox between two messages, or is refused and the running
//! version goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wasmvisor::{ChildError, ChildSpec, Event, Host, SupervisorSpec};

use crate::common::{call_ok, plugin, supervise, within};

#[tokio::test]
async fn an_upgrade_under_load_keeps_every_message_and_the_state() {
    let host = Host::new().unwrap();
    let v1 = plugin(&host, "counter").await;
    let v2 = plugin(&host, "counter_v2").await;
    assert_ne!(v1.version(), v2.version());
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(ChildSpec::new("counter", v1.clone())),
    )
    .await;
    let counter = host.actor("counter").unwrap();
    assert_eq!(counter.info().version.as_deref(), Some(v1.version()));
    let mut events = host.subscribe();

    // Steady streams of increments until told to stop.
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    // Four callers, so that messages wait in the mailbox during the switch.
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            let (done, answered) = (done.clone(), answered.clone());
            tokio::spawn(async move {
                let mut replies = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    let reply = counter.call("inc").await.expect("every inc is answered");
                    replies.push(String::from_utf8(reply).unwrap().parse::<u64>().unwrap());
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                replies
            })
        })
        .collect();
    crate::common::wait_until("the stream is flowing", || {
        answered.load(Ordering::SeqCst) >= 20
    })
    .await;
    within(
        "the upgrade",
        supervisor.upgrade_child("counter", v2.clone()),
    )
    .await
    .unwrap();
    let at_upgrade = answered.load(Ordering::SeqCst);
    crate::common::wait_until("the stream flows on after the upgrade", || {
        answered.load(Ordering::SeqCst) >= at_upgrade + 20
    })
    .await;
    done.store(true, Ordering::SeqCst);
    let mut replies = Vec::new();
    for caller in callers {
        replies.extend(within("a caller", caller).await.unwrap());
    }
    replies.sort_unstable();

    // Exactly one reply per message, none lost, none handled twice: the
    // counts run 1, 2, 3, ... across the switch.
    let expected: Vec<u64> = (1..=replies.len() as u64).collect();
    assert_eq!(replies, expected);
    assert_eq!(call_ok(&host, "counter", "version").await, "2");
    assert_eq!(
        call_ok(&host, "counter", "get").await,
        replies.len().to_string()
    );
    let info = counter.info();
    assert_eq!(info.version.as_deref(), Some(v2.version()));
    assert_eq!(info.restarts, 0, "an upgrade is not a restart");
    let upgraded = within("the upgrade event", async {
        loop {
            if let Ok(Event::ActorUpgraded { actor, version }) = events.recv().await {
                return (actor, version);
            }
        }
    })
    .await;
    assert_eq!(upgraded, ("counter".to_owned(), v2.version().to_owned()));
    host.shutdown().await;
}

#[tokio::test]
async fn a_version_that_fails_to_start_is_refused_and_the_old_one_serves_on() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    // The greeter's `init` refuses to start with this config; the counter
    // has no `init`, so it runs.
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app")
            .child(ChildSpec::new("counter", counter.clone()).config("refuse", "not today")),
    )
    .await;
    call_ok(&host, "counter", "inc").await;
    let greeter = plugin(&host, "greeter").await;
    let refused = supervisor.upgrade_child("counter", greeter).await;
    assert!(
        matches!(&refused, Err(ChildError::UpgradeFailed { id, reason })
            if id == "counter" && reason.contains("failed to start") && reason.contains("not today")),
        "{refused:?}"
    );
    assert_eq!(call_ok(&host, "counter", "inc").await, "2");
    let info = host.actor("counter").unwrap().info();
    assert_eq!(info.version.as_deref(), Some(counter.version()));
    assert_eq!(info.restarts, 0);
    host.shutdown().await;
}

#[tokio::test]
async fn a_version_whose_first_health_check_fails_is_refused() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(ChildSpec::new("counter", counter.clone())),
    )
    .await;
    call_ok(&host, "counter", "inc").await;
    let sick = plugin(&host, "born_sick").await;
    let refused = supervisor.upgrade_child("counter", sick).await;
    assert!(
        matches!(&refused, Err(ChildError::UpgradeFailed { reason, .. })
            if reason.contains("first health check") && reason.contains("born sick")),
        "{refused:?}"
    );
    assert_eq!(call_ok(&host, "counter", "inc").await, "2");
    host.shutdown().await;
}

/// `wasmvisor upgrade NAME FILE` on a running host (through the admin API's
/// `POST /v1/actors/NAME/upgrade`): the new version takes over with the
/// state, on probation (which `ps` shows); a file that does not compile is
/// refused before anything changes, with the cause, and the running version
/// serves on.
#[tokio::test(flavor = "multi_thread")]
async fn wasmvisor_upgrade_switches_a_running_actor_or_refuses_a_broken_file() {
    use crate::cli::{start_host, stop_host, wasmvisor};
    use crate::common::guest;

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(guest("counter"), dir.path().join("counter.wasm")).unwrap();
    // A probation that outlasts the test, whatever the machine's speed.
    std::fs::write(
        dir.path().join("counter.toml"),
        "[upgrade]\nprobation = \"1h\"\n",
    )
    .unwrap();
    let host = start_host(dir.path()).await;
    let call = |message: &'static str| {
        let dir = host.dir.clone();
        async move {
            let (ok, out, err) = wasmvisor(&dir, &["call", "counter", message]).await;
            assert!(ok, "call {message}: {out}{err}");
            out.trim().to_owned()
        }
    };
    assert_eq!(call("inc").await, "1");
    assert_eq!(call("version").await, "1");

    let v2 = guest("counter_v2");
    let (ok, out, err) = wasmvisor(&host.dir, &["upgrade", "counter", v2.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    let version = host.client().actor("counter").await.unwrap().info.version;
    let version = version.unwrap();
    assert!(out.contains(&version), "{out}");
    assert!(out.contains("on probation"), "{out}");
    let (ok, ps, err) = wasmvisor(&host.dir, &["ps"]).await;
    assert!(ok, "{err}");
    assert!(ps.contains(&format!("{version} (probation)")), "{ps}");
    assert_eq!(call("version").await, "2");
    assert_eq!(call("get").await, "1", "the state is carried over");

    let broken = dir.path().join("broken.bin");
    std::fs::write(&broken, b"\0asm not really").unwrap();
    let (ok, _, err) =
        wasmvisor(&host.dir, &["upgrade", "counter", broken.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(
        err.contains("the new version of `counter`")
            && err.contains("not a valid WebAssembly component"),
        "{err}"
    );
    let refused = host
        .client()
        .upgrade("counter", std::fs::read(&broken).unwrap())
        .await;
    assert!(
        matches!(
            refused,
            Err(wasmvisor_admin::ClientError::Refused {
                status: 422,
                code: wasmvisor_admin::ErrorCode::InvalidPlugin,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(call("version").await, "2", "the running version serves on");

    let (ok, _, err) = wasmvisor(&host.dir, &["upgrade", "nobody", v2.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(err.contains("nobody"), "{err}");
    stop_host(host).await;
}
