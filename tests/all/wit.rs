//! The WIT package round-trips through `wasm-tools component wit`: encoded
//! as a binary package and printed back, it reads the same as the source.

use std::process::Command;

use crate::common::workspace_root;

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
        printed.starts_with("package wasmvisor:plugin@0.1.0;"),
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
