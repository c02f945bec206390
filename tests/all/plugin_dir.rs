//! A plugin directory with bad files: the good plugin runs, and each bad
//! file gets one clear error naming it and the cause.

use wasmvisor::{Error, Host, start_plugin_dir};

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
        reason_of("nohandler.wasm").contains("does not export `wasmvisor:plugin/handler@0.1.0`"),
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
