//! Plugin manifests (`NAME.toml`), directory configurations
//! (`wasmvisor.toml`) and event positions, as text from outside: each is
//! accepted or refused with a reason, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

#[path = "plugin.rs"]
mod plugin;

/// A plugin to apply manifests to.
static PLUGIN: LazyLock<wasmvisor::Plugin> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { plugin::load(&wasmvisor::Host::new().unwrap()).await })
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(reason) = wasmvisor::fuzzing::manifest(text, &PLUGIN) {
        assert!(!reason.is_empty());
    }
    if let Err(reason) = wasmvisor::fuzzing::host_config(text) {
        assert!(!reason.is_empty());
    }
    if let Some((boot, seq)) = wasmvisor::fuzzing::event_position(text) {
        // What parses is a number, or a run and a number.
        let plain = text.trim().parse::<u64>();
        assert!(plain == Ok(seq) || boot.is_some(), "{text:?}");
    }
});
