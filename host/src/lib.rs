//! wasmvisor runs WebAssembly components as supervised actors, in the style
//! of Erlang/OTP.
//!
//! A plugin is a component built against the `wasmvisor:plugin` WIT package
//! (in `wit/`). The host loads it once ([`Plugin`]), runs it as an actor
//! (one task that owns one instance at a time, behind an [`ActorRef`]), and
//! supervises it ([`SupervisorSpec`]): a panic, a trap, a call past its
//! deadline, memory growth past its limit or failed health checks are a
//! crash; the instance is discarded and a new one starts with the state
//! restored from the [`StateStore`].
//!
//! ```text
//! ActorRef::call(msg) -> mailbox (bounded, survives restarts)
//!   -> actor task (owns the Store; one message at a time)
//!      -> guest `handle`, under a deadline and a memory limit
//!         -> state writes go into a per-message change set
//!      <- ok: commit the changes, then reply
//!      <- trap: drop the changes, reply Err(Crashed), report the exit
//!   supervisor: restart type, intensity, backoff
//!      -> new instance from the cached InstancePre, state restored
//! ```
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use wasmvisor::{ChildSpec, Host, SupervisorSpec};
//!
//! let host = Host::new()?; // in-memory state; see HostBuilder::state_store
//! let plugin = host.load_plugin_file("counter.wasm").await?;
//! host.start_supervisor(SupervisorSpec::new("app").child(ChildSpec::new("counter", plugin)))
//!     .await?;
//! let counter = host.actor("counter").ok_or("no counter")?;
//! assert_eq!(counter.call("inc").await?, b"1");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod actor;
pub mod admin;
#[doc(hidden)]
pub mod benchmarking;
mod bindings;
mod capabilities;
pub mod cli;
mod dead_letters;
mod dir_watch;
mod engine;
mod error;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod guest_io;
mod health;
mod host;
mod instance;
mod limits;
mod loader;
mod manifest;
mod metrics;
mod plugin_dir;
mod registry;
mod scaffold;
mod spin;
mod state;
mod supervisor;

/// The README's Rust examples, compiled as doctests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use self::actor::{ActorInfo, ActorRef, ActorStatus, ChildKind};
pub use self::capabilities::Capabilities;
pub use self::dead_letters::DeadLetter;
pub use self::dir_watch::{DEFAULT_SETTLE, DirWatcher, watch_plugin_dir};
pub use self::error::{CallError, CrashReason, Error, ExitReason};
pub use self::events::{Event, RECENT_EVENTS, RecordedEvent};
pub use self::health::{HealthSpec, HealthStatus};
pub use self::host::{Host, HostBuilder};
pub use self::limits::Limits;
pub use self::loader::{MAX_PLUGIN_BYTES, Plugin, PluginExports};
pub use self::manifest::MAX_MANIFEST_BYTES;
pub use self::plugin_dir::{DirReport, start_plugin_dir};
pub use self::state::backup as state_backup;
pub use self::state::conformance as state_conformance;
pub use self::state::{
    Changes, CommitMode, CommittedState, MemoryStateStore, RedbStateStore, StateError, StateStore,
};
pub use self::supervisor::{
    AutoShutdown, Backoff, ChildCounts, ChildError, ChildSpec, RestartBudget, RestartType,
    Shutdown, SnapshotPolicy, Strategy, SupervisorRef, SupervisorSpec, SupervisorStatus,
};
