//! The WebAssembly runtime: wasmtime engines, the host's imports, loading
//! plugins, and one instance of a plugin. Nothing here knows of actors or
//! supervisors; the actor drives an [`Instance`] and gets a
//! [`CrashReason`](crate::CrashReason) when it ends.
//!
//! ```text
//!  bytes ─ loader ─> Plugin ── compiled (InstancePre, export indices; one per engine)
//!                       │            ▲ linker: engine + imports (state, log, actors, WASI, wasi:http)
//!                       ▼            │ engines: one engine per stack size; engine: wasmtime config
//!  instance: Store<StoreData> + the exports, one guest call at a time
//!     │ store: the data imports see, the limiter, the call's deadline
//!     │ call: deadline and kill switch around every guest call (clock: real time)
//!     └ traps -> CrashReason
//! ```

pub(crate) mod bindings;
mod call;
pub(crate) mod clock;
mod compiled;
mod crash;
mod engine;
mod engines;
mod guest_io;
pub(crate) mod http_request;
pub(crate) mod imports;
mod instance;
mod linker;
mod loader;
mod sandbox;
mod store;
mod traps;
mod world;

pub(crate) use self::call::KillSwitch;
pub(crate) use self::compiled::Compiled;
pub(crate) use self::engine::{EngineSettings, wasmtime_config};
pub(crate) use self::engines::Engines;
pub(crate) use self::guest_io::Kept;
pub use self::guest_io::ProgramOutput;
pub(crate) use self::imports::Peers;
pub(crate) use self::instance::{Instance, StartError, StartParams};
pub(crate) use self::linker::LinkedEngine;
pub use self::loader::{Plugin, PluginExports};
#[cfg(feature = "dir")]
pub(crate) use self::loader::{content_hash, read_plugin_file};
pub(crate) use self::store::InstanceCount;
pub use self::world::World;
