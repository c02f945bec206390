//! Plugins written in other languages run like the Rust ones: the Python
//! counter (componentize-py), the JavaScript counter (jco) and the C counter
//! (clang, wasi-libc and `wit-bindgen c`). Each keeps
//! its count in the `state` store, exports a health check, and can be told
//! to crash.

use std::time::Duration;

use wasmvisor::{CallError, ChildSpec, HealthSpec, HealthStatus, Host, SupervisorSpec};

use crate::common::{call_ok, plugin, supervise, wait_until};

/// The counter examples in other languages, by guest name.
const COUNTERS: [&str; 3] = ["pycounter", "jscounter", "ccounter"];

/// Runs `guest` as actor `name` under a supervisor of its own, with a
/// health check every 100 ms.
async fn run(host: &Host, name: &str, guest: &str) {
    let child = ChildSpec::new(name, plugin(host, guest).await).health(
        HealthSpec::default()
            .interval(Duration::from_millis(100))
            .initial_delay(Duration::ZERO),
    );
    supervise(host, SupervisorSpec::new(name).child(child)).await;
}

async fn a_counter_in_another_language_keeps_state_across_a_crash_and_is_health_checked(
    guest: &str,
) {
    let host = Host::new().unwrap();
    run(&host, guest, guest).await;
    assert_eq!(call_ok(&host, guest, "inc").await, "1");
    assert_eq!(call_ok(&host, guest, "inc").await, "2");
    let actor = host.actor(guest).unwrap();
    assert!(
        matches!(
            actor.call("nonsense").await,
            Err(CallError::Rejected { .. })
        ),
        "an unknown message is an error reply, not a crash"
    );
    let crashed = actor.call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    // The next instance starts from the committed state.
    assert_eq!(call_ok(&host, guest, "get").await, "2");
    assert_eq!(actor.info().restarts, 1);
    wait_until("the health export answers", || {
        actor.info().health == HealthStatus::Healthy && actor.info().health_checks > 0
    })
    .await;
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_counter_keeps_state_across_a_crash_and_is_health_checked() {
    a_counter_in_another_language_keeps_state_across_a_crash_and_is_health_checked("pycounter")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_javascript_counter_keeps_state_across_a_crash_and_is_health_checked() {
    a_counter_in_another_language_keeps_state_across_a_crash_and_is_health_checked("jscounter")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_c_counter_keeps_state_across_a_crash_and_is_health_checked() {
    a_counter_in_another_language_keeps_state_across_a_crash_and_is_health_checked("ccounter")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_in_one_languages_plugin_leaves_the_others_running() {
    let host = Host::new().unwrap();
    for guest in COUNTERS.iter().chain(&["counter"]) {
        run(&host, guest, guest).await;
        assert_eq!(call_ok(&host, guest, "inc").await, "1");
    }
    let all: Vec<&str> = COUNTERS.iter().copied().chain(["counter"]).collect();
    for crashing in COUNTERS {
        let others: Vec<&str> = all.iter().copied().filter(|g| *g != crashing).collect();
        let restarts_before: Vec<u64> = others
            .iter()
            .map(|other| host.actor(other).unwrap().info().restarts)
            .collect();
        let crashed = host.actor(crashing).unwrap().call("crash").await;
        assert!(
            matches!(crashed, Err(CallError::Crashed { .. })),
            "{crashed:?}"
        );
        for (other, before) in others.iter().zip(restarts_before) {
            assert_eq!(call_ok(&host, other, "get").await, "1", "{other}");
            assert_eq!(
                host.actor(other).unwrap().info().restarts,
                before,
                "{other}"
            );
        }
        assert_eq!(
            call_ok(&host, crashing, "get").await,
            "1",
            "{crashing} restarted"
        );
    }
    host.shutdown().await;
}
