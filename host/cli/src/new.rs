//! `wasmvisor new NAME`: a new Rust plugin on the guest SDK (the templates
//! and their filling in are `scaffold`).

use std::path::PathBuf;

use crate::scaffold::{self, SdkSource};

/// `wasmvisor new`: writes the plugin and says how to build and run it.
pub(crate) fn new_plugin(
    name: &str,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let sdk = match sdk {
        Some(path) => SdkSource::at(&path),
        None => SdkSource::of_this_build(),
    }
    .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let files = scaffold::new_plugin(name, &dir, &sdk).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    for file in files {
        println!("created {}", file.display());
    }
    println!(
        "\nBuild it (once: rustup target add wasm32-wasip2):\n    cd {} && cargo build --release\n\
         then copy target/wasm32-wasip2/release/{}.wasm into a plugin directory as {name}.wasm \
         (see its README.md).",
        dir.display(),
        scaffold::wasm_file_stem(name),
    );
    Ok(())
}
