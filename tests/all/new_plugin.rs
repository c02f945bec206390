//! `wasmvisor new NAME` creates a Rust plugin that builds as it is and runs
//! supervised: its state survives a crash and its health check is called.
//!
//! `just guests` creates `tally` with the `wasmvisor` binary and builds it
//! with plain `cargo build --release`, as the generated README says (a build
//! of its own, outside `cargo test`); this test runs the result.

use std::time::Duration;

use wasmvisor::{CallError, ChildSpec, HealthSpec, HealthStatus, Host, SupervisorSpec};

use crate::common::{call_ok, supervise, wait_until, workspace_root};

#[tokio::test(flavor = "multi_thread")]
async fn a_new_plugin_builds_as_created_and_runs_supervised() {
    let project = workspace_root().join("target/new-plugin/tally");
    let source = std::fs::read_to_string(project.join("src/lib.rs"))
        .unwrap_or_else(|error| panic!("{}: {error}; run `just guests`", project.display()));
    assert!(source.contains("impl Plugin for TallyPlugin"), "{source}");
    let wasm = workspace_root().join("target/new-plugin/target/wasm32-wasip2/release/tally.wasm");

    let host = Host::new().unwrap();
    let plugin = host.load_plugin_file(&wasm).await.unwrap();
    assert!(
        plugin.exports().health,
        "the template defines a health check"
    );
    let child = ChildSpec::new("tally", plugin).health(
        HealthSpec::default()
            .interval(Duration::from_millis(50))
            .initial_delay(Duration::ZERO),
    );
    supervise(&host, SupervisorSpec::new("tally").child(child)).await;
    assert_eq!(call_ok(&host, "tally", "inc").await, "1");
    assert_eq!(call_ok(&host, "tally", r#"{"add": 41}"#).await, "42");
    let actor = host.actor("tally").unwrap();
    let crashed = actor.call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    assert_eq!(call_ok(&host, "tally", "get").await, "42");
    assert_eq!(actor.info().restarts, 1);
    wait_until("the template's health check answers", || {
        let info = actor.info();
        info.health == HealthStatus::Healthy && info.health_checks > 0
    })
    .await;
    host.shutdown().await;
}
