//! The component both targets run: the counter example (`just guests`), or
//! the one in `WASMVISOR_FUZZ_PLUGIN`.

/// Where the plugin is.
pub fn path() -> String {
    std::env::var("WASMVISOR_FUZZ_PLUGIN").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../guest-examples/target/wasm32-wasip2/release/counter.wasm"
        )
        .into()
    })
}

/// Loads it into `host`, or says how to build it.
pub async fn load(host: &wasmvisor::Host) -> wasmvisor::Plugin {
    host.load_plugin_file(path())
        .await
        .unwrap_or_else(|error| panic!("{error} (run `just guests` first)"))
}
