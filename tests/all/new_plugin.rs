//! `wasmvisor new NAME` creates a Rust plugin that builds as it is and runs
//! supervised: its state survives a crash and its health check is called.

use std::time::Duration;

use tokio::process::Command;
use wasmvisor::{CallError, ChildSpec, HealthSpec, HealthStatus, Host, SupervisorSpec};

use crate::common::{call_ok, supervise, wait_until, workspace_root};

/// The toolchain pinned in rust-toolchain.toml: the new plugin lives outside
/// the repository, where rustup would otherwise pick its default.
fn pinned_toolchain() -> String {
    let pinned = std::fs::read_to_string(workspace_root().join("rust-toolchain.toml")).unwrap();
    pinned
        .lines()
        .find_map(|line| line.strip_prefix("channel = "))
        .map(|channel| channel.trim_matches('"').to_owned())
        .expect("rust-toolchain.toml names a channel")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_plugin_builds_as_created_and_runs_supervised() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("tally");
    let created = Command::new(env!("CARGO_BIN_EXE_wasmvisor-under-test"))
        .args(["new", "tally", "--dir"])
        .arg(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    // Built the way its README says, into a target folder kept between test
    // runs (so only the first run compiles the dependencies).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let build = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        .env("RUSTUP_TOOLCHAIN", pinned_toolchain())
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/new-plugin"),
        )
        .output();
    let built = tokio::time::timeout(Duration::from_secs(900), build)
        .await
        .expect("the new plugin builds within 15 minutes")
        .unwrap();
    assert!(
        built.status.success(),
        "cargo build of the new plugin failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = workspace_root().join("target/new-plugin/wasm32-wasip2/release/tally.wasm");

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
