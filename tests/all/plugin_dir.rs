//! A plugin directory with bad files: the good plugin runs, and each bad
//! file gets one clear error naming it and the cause.

use wasmvisor::dir::start_plugin_dir;
use wasmvisor::{Error, Host};

use crate::common::{call_ok, guest};

#[tokio::test]
async fn bad_files_are_reported_one_by_one_and_the_good_plugin_runs() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::fs::read(guest("counter")).unwrap();
    std::fs::write(dir.path().join("counter.wasm"), &counter).unwrap();
    std::fs::write(
        dir.path().join("truncated.wasm"),
        &counter[..counter.len() / 2],
    )
    .unwrap();
    // The smallest valid core module: a header and nothing else.
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::copy(guest("no_handler"), dir.path().join("nohandler.wasm")).unwrap();
    std::fs::write(dir.path().join("empty.wasm"), b"").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a plugin, not looked at").unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();

    let started: Vec<&str> = report
        .started
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(started, vec!["counter"]);
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");

    let mut errors: Vec<(String, String)> = report
        .failed
        .iter()
        .map(|error| match error {
            Error::Load { path, reason } => (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                reason.clone(),
            ),
            other => panic!("expected a load error, got {other}"),
        })
        .collect();
    errors.sort();
    let files: Vec<&str> = errors.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(
        files,
        vec![
            "core.wasm",
            "empty.wasm",
            "nohandler.wasm",
            "truncated.wasm"
        ]
    );
    let reason_of = |file: &str| &errors.iter().find(|(f, _)| f == file).unwrap().1;
    assert!(reason_of("core.wasm").contains("a core WebAssembly module, not a component"));
    assert!(reason_of("empty.wasm").contains("the file is empty"));
    assert!(
        reason_of("nohandler.wasm").contains("is not a component the host can run"),
        "{}",
        reason_of("nohandler.wasm")
    );
    assert!(
        reason_of("truncated.wasm").contains("not a valid WebAssembly component"),
        "{}",
        reason_of("truncated.wasm")
    );
    // Every message names its file.
    for error in &report.failed {
        let text = error.to_string();
        assert!(
            text.starts_with(&dir.path().display().to_string()),
            "{text}"
        );
    }
    host.shutdown().await;
}

fn copy_guest(dir: &std::path::Path, guest_name: &str, as_name: &str) {
    std::fs::copy(guest(guest_name), dir.join(format!("{as_name}.wasm"))).unwrap();
}

#[tokio::test]
async fn a_manifest_sets_config_restart_type_and_restart_policy() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "greeter", "greeter");
    std::fs::write(
        dir.path().join("greeter.toml"),
        "restart = \"transient\"\n[config]\ngreeting = \"ahoy\"\n",
    )
    .unwrap();
    copy_guest(dir.path(), "crasher", "fragile");
    std::fs::write(
        dir.path().join("fragile.toml"),
        "[supervisor]\nmax_restarts = 0\n",
    )
    .unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(call_ok(&host, "greeter", "Ada").await, "ahoy, Ada");

    // max_restarts = 0: the first crash is one too many.
    let (_, fragile) = report.started.iter().find(|(n, _)| n == "fragile").unwrap();
    let _ = host.actor("fragile").unwrap().call("panic").await;
    let status = crate::common::within("the give-up", fragile.stopped()).await;
    assert!(
        matches!(status, wasmvisor::SupervisorStatus::GaveUp(_)),
        "{status:?}"
    );
    assert_eq!(call_ok(&host, "greeter", "Bo").await, "ahoy, Bo");
    host.shutdown().await;
}

/// `[upgrade]` sets the probation of a hot upgrade; one that can never end
/// by messages is refused, naming the plugin.
#[tokio::test]
async fn a_manifest_sets_the_probation_of_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "counter", "counter");
    std::fs::write(
        dir.path().join("counter.toml"),
        "[upgrade]\nprobation = \"10m\"\nprobation_messages = 2\n",
    )
    .unwrap();
    copy_guest(dir.path(), "counter", "endless");
    std::fs::write(
        dir.path().join("endless.toml"),
        "[upgrade]\nprobation_messages = 0\n",
    )
    .unwrap();
    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let refused = report.failed[0].to_string();
    assert!(
        refused.contains("endless.toml")
            && refused.contains("line 2")
            && refused.contains("allowed 1 to"),
        "{refused}"
    );

    let (_, supervisor) = report.started.iter().find(|(n, _)| n == "counter").unwrap();
    let v2 = crate::common::plugin(&host, "counter_v2").await;
    supervisor.upgrade_child("counter", v2).await.unwrap();
    let probation = host.actor("counter").unwrap().info().probation.unwrap();
    assert_eq!(probation.messages_left, 2);
    assert!(probation.remaining_ms > 60_000, "{probation:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_broken_manifest_names_its_file_and_line_and_only_its_plugin_stays_out() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "counter", "counter");
    copy_guest(dir.path(), "greeter", "greeter");
    std::fs::write(
        dir.path().join("greeter.toml"),
        "restart = \"transient\"\nrestrat = \"oops\"\n",
    )
    .unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    let started: Vec<&str> = report.started.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(started, ["counter"]);
    assert_eq!(report.failed.len(), 1);
    let message = report.failed[0].to_string();
    assert!(message.contains("greeter.toml"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("unknown field `restrat`"), "{message}");
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn a_one_for_all_group_in_wasmvisor_toml_restarts_its_plugins_together() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "counter", "store");
    copy_guest(dir.path(), "memo", "index");
    copy_guest(dir.path(), "counter", "loner");
    std::fs::write(
        dir.path().join("wasmvisor.toml"),
        "[[group]]\nname = \"core\"\nstrategy = \"one-for-all\"\nplugins = [\"store\", \"index\"]\nmax_restarts = 5\nwithin = \"10s\"\n",
    )
    .unwrap();

    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let (_, core) = report.started.iter().find(|(n, _)| n == "store").unwrap();
    assert_eq!(core.name(), "core");
    let names: Vec<String> = core.which_children().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["store", "index"], "in the group's order");

    let index_before = host.actor("index").unwrap().info().instance;
    let loner_before = host.actor("loner").unwrap().info().instance;
    let _ = host.actor("store").unwrap().call("crash").await;
    crate::common::wait_until("the group restarted", || {
        let index = host.actor("index").unwrap().info();
        index.instance != index_before && index.status == wasmvisor::ActorStatus::Running
    })
    .await;
    assert_eq!(host.actor("loner").unwrap().info().instance, loner_before);
    host.shutdown().await;
}

#[tokio::test]
async fn a_broken_wasmvisor_toml_is_reported_and_every_plugin_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "counter", "counter");
    std::fs::write(
        dir.path().join("wasmvisor.toml"),
        "[[group]]\nname = \"core\"\nstrategy = \"one-for-some\"\nplugins = [\"counter\"]\n",
    )
    .unwrap();
    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    let message = report.failed[0].to_string();
    assert!(
        message.contains("wasmvisor.toml") && message.contains("one-for-some"),
        "{message}"
    );
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn a_manifest_grants_capabilities_relative_to_the_plugin_directory() {
    let dir = tempfile::tempdir().unwrap();
    copy_guest(dir.path(), "sandboxed", "sandboxed");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/note.txt"), "granted").unwrap();
    std::fs::write(
        dir.path().join("sandboxed.toml"),
        "[capabilities]\nenv = { MODE = \"test\" }\ndirs = [{ host = \"data\", guest = \"/data\" }]\n",
    )
    .unwrap();
    let host = Host::new().unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(call_ok(&host, "sandboxed", "env").await, "MODE=test");
    assert_eq!(
        call_ok(&host, "sandboxed", "read /data/note.txt").await,
        "granted"
    );
    let write = host
        .actor("sandboxed")
        .unwrap()
        .call("write /data/note.txt x")
        .await;
    assert!(write.is_err(), "read-only by default: {write:?}");
    host.shutdown().await;
}
