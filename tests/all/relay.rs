//! Actors calling actors through the `actors` import: a crash of the callee
//! is a clear error for the caller, and the callee's restart is waited for.

use std::time::Duration;

use wasmvisor::{Backoff, CallError, ChildSpec, Host, SupervisorSpec};

use crate::common::{call_ok, plugin, supervise};

async fn relay_error(host: &Host, message: &str) -> String {
    match host.actor("relay").unwrap().call(message).await {
        Err(CallError::Rejected { reason, .. }) => reason,
        other => panic!("`{message}` should fail inside the relay, got {other:?}"),
    }
}

async fn relay_and_crasher(host: &Host, backoff: Backoff) {
    let relay = plugin(host, "relay").await;
    let crasher = plugin(host, "crasher").await;
    supervise(
        host,
        SupervisorSpec::new("relay").child(ChildSpec::new("relay", relay)),
    )
    .await;
    supervise(
        host,
        SupervisorSpec::new("crasher")
            .intensity(5, Duration::from_secs(60))
            .backoff(backoff)
            .child(ChildSpec::new("crasher", crasher)),
    )
    .await;
}

#[tokio::test]
async fn a_crash_of_the_callee_is_a_clear_error_and_its_restart_serves_the_next_call() {
    let host = Host::new().unwrap();
    relay_and_crasher(&host, Backoff::Immediate).await;
    assert_eq!(
        call_ok(&host, "relay", "to crasher echo hi").await,
        "crasher said: hi"
    );

    let error = relay_error(&host, "to crasher panic").await;
    assert!(
        error.starts_with("call to crasher failed: crashed: actor `crasher` crashed")
            && error.contains("boom: asked to panic"),
        "{error}"
    );
    assert_eq!(
        call_ok(&host, "relay", "to crasher echo again").await,
        "crasher said: again"
    );
    assert_eq!(
        host.actor("relay").unwrap().info().restarts,
        0,
        "the caller never crashed"
    );
    assert_eq!(host.actor("crasher").unwrap().info().restarts, 1);

    let error = relay_error(&host, "to nobody hello").await;
    assert_eq!(
        error,
        "call to nobody failed: not found: no actor named `nobody`"
    );
    let error = relay_error(&host, "to relay hello").await;
    assert!(
        error.contains("no answer within"),
        "calling yourself times out: {error}"
    );
    assert_eq!(
        call_ok(&host, "relay", "tell crasher echo cast").await,
        "told crasher"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_call_to_a_restarting_actor_waits_for_it_within_the_timeout() {
    let host = Host::new().unwrap();
    relay_and_crasher(&host, Backoff::Fixed(Duration::from_millis(300))).await;
    let _ = host.actor("crasher").unwrap().call("panic").await;
    // The crasher is waiting 300 ms to restart; the relay's 2 s timeout covers it.
    assert_eq!(
        call_ok(&host, "relay", "to crasher echo back").await,
        "crasher said: back"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_callee_that_does_not_answer_in_time_is_a_timeout_for_the_caller() {
    let host = Host::new().unwrap();
    let relay = plugin(&host, "relay").await;
    let spinner = plugin(&host, "spinner").await;
    supervise(
        &host,
        SupervisorSpec::new("pair")
            .child(ChildSpec::new("relay", relay))
            .child(
                ChildSpec::new("spinner", spinner)
                    .limits(wasmvisor::Limits::default().call_timeout(Duration::from_secs(30)))
                    .shutdown(wasmvisor::Shutdown::BrutalKill),
            ),
    )
    .await;
    let timeout = relay_error(&host, "to spinner spin").await;
    assert!(timeout.contains("no answer within 2000 ms"), "{timeout}");
    host.shutdown().await;
}
