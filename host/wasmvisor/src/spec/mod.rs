//! Specs: what a Rust user writes to describe supervised actors, in the
//! spirit of OTP's child specifications. Plain data, checked when a
//! supervisor starts; nothing here runs.
//!
//! - [`ChildSpec`]: one child, an actor (a plugin under a name) or a
//!   nested supervisor, with its restart type, shutdown, limits, health
//!   checks, capabilities and config.
//! - [`SupervisorSpec`]: a supervisor, its children, strategy, restart
//!   intensity and backoff.
//! - The parts: [`Limits`], [`HealthSpec`], [`Capabilities`], [`Stdio`], and the
//!   restart vocabulary ([`RestartType`], [`Shutdown`], [`Strategy`],
//!   [`Backoff`], [`SnapshotPolicy`], [`AutoShutdown`]).

mod capabilities;
mod health;
mod http;
mod limits;
mod probation;
mod restart;
mod stdio;
mod tree;

pub use self::capabilities::Capabilities;
pub(crate) use self::capabilities::HttpGrant;
#[cfg(feature = "dir")]
pub(crate) use self::capabilities::check_http_grant;
pub use self::health::HealthSpec;
pub use self::http::HttpSpec;
pub use self::limits::Limits;
#[cfg(feature = "dir")]
pub(crate) use self::limits::{
    MAX_MAILBOX_CAPACITY, MAX_STACK_BYTES, MAX_STATE_BYTES, MAX_TABLE_ELEMENTS, MAX_VALUE_BYTES,
    MIN_STACK_BYTES,
};
pub use self::probation::Probation;
pub use self::restart::{AutoShutdown, Backoff, RestartType, Shutdown, SnapshotPolicy, Strategy};
pub use self::stdio::{Output, Stdin, Stdio};
pub(crate) use self::tree::Runs;
pub use self::tree::{ChildKind, ChildSpec, SupervisorSpec};
