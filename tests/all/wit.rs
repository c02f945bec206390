//! The WIT package round-trips through `wasm-tools component wit`: encoded
//! as a binary package and printed back, it reads the same as the source.
//! Components built against an earlier `0.1.x` of it keep loading.

use std::process::Command;
use std::time::Duration;

use wasmvisor::{CallError, ChildSpec, HealthSpec, HealthStatus, Host, SupervisorSpec};

use crate::common::{call_ok, wait_until, workspace_root};

fn wasm_tools(args: &[&str]) -> String {
    let tool = workspace_root().join(".tools/venv/bin/wasm-tools");
    assert!(
        tool.is_file(),
        "wasm-tools is not installed ({} is missing): run `just tools`",
        tool.display()
    );
    let output = Command::new(tool)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "wasm-tools {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_wit_package_round_trips_through_wasm_tools() {
    let scratch = tempfile::tempdir().unwrap();
    let encoded = scratch.path().join("wasmvisor-plugin.wasm");
    let encoded = encoded.to_str().unwrap();
    let printed = wasm_tools(&["component", "wit", "wit"]);
    assert!(
        printed.starts_with("package wasmvisor:plugin@0.1.1;"),
        "{printed}"
    );
    wasm_tools(&["component", "wit", "wit", "--wasm", "-o", encoded]);
    assert_eq!(wasm_tools(&["component", "wit", encoded]), printed);
}

#[test]
fn the_wit_reference_page_is_up_to_date() {
    let page = std::fs::read_to_string(workspace_root().join("docs/wit.md")).unwrap();
    let printed = wasm_tools(&["component", "wit", "wit"]);
    assert!(
        page.contains(&format!("```wit\n{printed}```\n")),
        "docs/wit.md is out of date with wit/: run `just wit-doc`"
    );
}

/// A component built against an earlier `0.1.x` of the WIT package (the C
/// counter, built against `wasmvisor:plugin@0.1.0` and kept as a fixture):
/// its imports bind and its exports are found on this host, as semver
/// promises for `0.1.x` (see docs/wit.md).
#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_against_wit_0_1_0_loads_and_runs() {
    let fixture = workspace_root().join("tests/fixtures/ccounter-wit-0.1.0.wasm");
    let bytes = std::fs::read(&fixture).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("wasmvisor:plugin/state@0.1.0") && !text.contains("@0.1.1"),
        "the fixture must be the one built against 0.1.0"
    );
    let host = Host::new().unwrap();
    let plugin = host.load_plugin_file(&fixture).await.unwrap();
    assert!(plugin.exports().health, "its `health` export is found");
    let health = HealthSpec::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2));
    host.start_supervisor(
        SupervisorSpec::new("old-sup").child(ChildSpec::new("old", plugin).health(health)),
    )
    .await
    .unwrap();
    assert_eq!(call_ok(&host, "old", "inc").await, "1");
    assert_eq!(call_ok(&host, "old", "inc").await, "2");
    let actor = host.actor("old").unwrap();
    assert!(matches!(
        actor.call("crash").await,
        Err(CallError::Crashed { .. })
    ));
    assert_eq!(call_ok(&host, "old", "get").await, "2");
    wait_until("its health export answers", || {
        actor.info().health == HealthStatus::Healthy && actor.info().health_checks > 0
    })
    .await;
    host.shutdown().await;
}
