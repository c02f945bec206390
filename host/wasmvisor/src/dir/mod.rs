//! Plugin directories: what `wasmvisor run DIR` does, for embedders too
//! (the `dir` feature).
//!
//! - [`start_plugin_dir`]: every `NAME.wasm` in a directory becomes an actor
//!   named `NAME`, under a supervisor of its own or its group's, with the
//!   settings of its manifest `NAME.toml` (`manifest`; the full schema is in
//!   `docs/configuration.md`).
//! - [`watch_plugin_dir`]: while the host runs, new plugins start, changed
//!   ones are hot-upgraded, removed ones stop.

mod manifest;
mod plugin_dir;
mod watch;

pub use self::manifest::MAX_MANIFEST_BYTES;
pub(crate) use self::manifest::{HOST_CONFIG_FILE, HostConfig, Manifest};
pub use self::plugin_dir::{
    DirReport, child_spec_for, start_plugin_dir, start_plugin_dir_with_progress,
};
pub use self::watch::{DEFAULT_SETTLE, DirWatcher, watch_plugin_dir};
