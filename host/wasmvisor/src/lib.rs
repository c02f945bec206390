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
//!      (idle actor: the caller's task takes the instance itself)
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
//!
//! # Where to look
//!
//! - [`Host`] and [`HostBuilder`]: a host, its engine settings and its
//!   state store; loading plugins and starting supervisors.
//! - [`ChildSpec`], [`SupervisorSpec`] and their parts ([`Limits`],
//!   [`HealthSpec`], [`Capabilities`], [`RestartType`], [`Shutdown`],
//!   [`Strategy`], [`Backoff`]): what runs, and how it is supervised.
//! - [`ActorRef`] and [`SupervisorRef`]: the handles to what runs.
//! - [`StateStore`] and [`state`]: where state is kept, and the contract a
//!   backend of your own must keep.
//! - [`Error`], [`CallError`], [`ChildError`], [`CrashReason`],
//!   [`ExitReason`]: what goes wrong, typed.
//! - [`Event`] and [`events`]: what happens, as it happens.
//! - [`dir`] (feature `dir`): plugin directories, as `wasmvisor run` runs
//!   them.
//!
//! The design behind it (the supervision rules, the path of a message and of
//! a crash, the state contract) is in the repository's `docs/design/`.
//!
//! # Features
//!
//! - `redb` (default): [`RedbStateStore`], the durable embedded store.
//! - `dir` (default): [`dir`], plugin directories with manifests, and
//!   watching them (`toml`, `notify`).
//!
//! The admin API and dashboard are the `wasmvisor-admin` crate; the
//! `wasmvisor` command is `wasmvisor-cli`.

#![deny(missing_docs)]

mod actor;
#[doc(hidden)]
pub mod benchmarking;
mod dead_letters;
#[cfg(feature = "dir")]
pub mod dir;
mod error;
pub mod events;
mod front;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod host;
mod metrics;
mod one_off;
mod registry;
mod runtime;
mod spec;
pub mod state;
mod supervisor;
mod util;

/// The README's Rust examples, compiled as doctests so that they stay true.
#[doc = include_str!("../../../README.md")]
#[cfg(all(doctest, feature = "redb"))]
pub struct ReadmeDoctests;

pub use self::actor::{ActorInfo, ActorRef, ActorStatus, ProbationInfo, Started};
pub use self::dead_letters::DeadLetter;
pub use self::error::{CallError, ChildError, CrashReason, Error, ExitReason};
pub use self::events::Event;
pub use self::health::HealthStatus;
pub use self::host::{CompileCacheStats, Host, HostBuilder};
pub use self::one_off::{RunOutcome, RunSpec};
pub use self::runtime::{Plugin, PluginExports, ProgramOutput, World};
pub use self::spec::{
    AutoShutdown, Backoff, Capabilities, ChildKind, ChildSpec, HealthSpec, HttpSpec, Limits,
    Output, Probation, RestartType, Shutdown, SnapshotPolicy, Stdin, Stdio, Strategy,
    SupervisorSpec,
};
#[cfg(feature = "redb")]
pub use self::state::RedbStateStore;
pub use self::state::{MemoryStateStore, StateError, StateStore};
pub use self::supervisor::{ChildCounts, RestartBudget, SupervisorRef, SupervisorStatus};
