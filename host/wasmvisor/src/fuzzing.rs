//! Entry points for the fuzz targets in `fuzz/`: the code that reads input
//! from outside the host, reachable without a running `wasmvisor run`.
//! Hidden from the documentation and not a stable API. (The admin
//! endpoint's request handling is in `wasmvisor-admin`.)

use crate::events::Position;
#[cfg(feature = "dir")]
use crate::{dir::HostConfig, dir::Manifest, error::Error, runtime::Plugin, spec::ChildSpec};

/// Parses `text` as a plugin manifest and applies it to a child running
/// `plugin`, with every check a plugin directory makes.
///
/// # Errors
///
/// Why the manifest is refused.
#[cfg(feature = "dir")]
pub fn manifest(text: &str, plugin: &Plugin) -> Result<(), String> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
    let child = manifest.child(
        ChildSpec::new("fuzz", plugin.clone()),
        std::path::Path::new("/nonexistent"),
    );
    child
        .validate()
        .and_then(|()| manifest.own_supervisor("fuzz").validate())
        .map_err(|e: Error| e.to_string())
}

/// Parses `text` as a directory's `wasmvisor.toml`, with its checks.
///
/// # Errors
///
/// Why the file is refused.
#[cfg(feature = "dir")]
pub fn host_config(text: &str) -> Result<(), String> {
    let config: HostConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    config
        .checked(std::path::Path::new(crate::dir::HOST_CONFIG_FILE))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Reads an event position as the admin endpoint's `?since=` does.
pub fn event_position(text: &str) -> Option<(Option<u64>, u64)> {
    Position::parse(text).map(|position| (position.boot, position.seq))
}
