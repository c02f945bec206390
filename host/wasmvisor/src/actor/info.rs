//! What an actor is doing, as listings show it (`wasmvisor ps`, the admin
//! API, [`SupervisorRef::which_children`](crate::SupervisorRef::which_children)).

use crate::error::ExitReason;
use crate::health::HealthStatus;
use crate::runtime::{ProgramOutput, World};
use crate::spec::ChildKind;

/// A snapshot of what an actor (or a nested supervisor) is doing, for
/// listings (`wasmvisor ps`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ActorInfo {
    /// The actor's name (a nested supervisor's: its name).
    pub name: String,
    /// An actor, or a nested supervisor.
    pub kind: ChildKind,
    /// Running, restarting, or stopped.
    pub status: ActorStatus,
    /// The current instance's id, while one runs.
    pub instance: Option<u64>,
    /// How many times the actor was restarted.
    pub restarts: u64,
    /// The last health check's result.
    pub health: HealthStatus,
    /// Health checks run on the current instance.
    pub health_checks: u64,
    /// Failed health checks in a row (the instance restarts at the
    /// threshold).
    pub health_failures: u32,
    /// How long the current instance has been running, in milliseconds.
    pub uptime_ms: Option<u64>,
    /// How the previous instance ended.
    pub last_exit: Option<ExitReason>,
    /// Messages waiting in the mailbox.
    pub mailbox_depth: usize,
    /// The version of the plugin it runs (see
    /// [`Plugin::version`](crate::Plugin::version)); `None` for a nested
    /// supervisor.
    pub version: Option<String>,
    /// The world of the component it runs (a wasmvisor plugin, a `wasi:cli`
    /// command, a `wasi:http` proxy); `None` for a nested supervisor.
    pub world: Option<World>,
    /// Where a `wasi:http` proxy is served (`http://ADDR/ROUTE`), once it
    /// started.
    pub url: Option<String>,
    /// The latest instance's output, where its [`Stdio`](crate::Stdio)
    /// keeps stdout or stderr ([`Output::Keep`](crate::Output::Keep)).
    pub output: Option<ProgramOutput>,
    /// The linear memory of the running instance, in bytes (0 while none
    /// runs).
    pub memory_bytes: u64,
    /// The size of its committed state (keys plus values, as counted
    /// against [`Limits::max_state_bytes`](crate::Limits::max_state_bytes)),
    /// as its last instance saw it; 0 before its first start.
    pub state_bytes: u64,
    /// The hot upgrade on probation, while one is (S21 of
    /// `docs/design/supervision.md`): `version` is the new version.
    pub probation: Option<ProbationInfo>,
}

/// A hot upgrade on probation, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ProbationInfo {
    /// The version a rollback would bring back.
    pub previous_version: String,
    /// How long the probation has left at most, in milliseconds.
    pub remaining_ms: u64,
    /// After how many more answered messages it ends.
    pub messages_left: u32,
}

/// The state of an actor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum ActorStatus {
    /// Not started yet.
    Starting,
    /// An instance is running.
    Running,
    /// Waiting to be restarted; messages wait in the mailbox.
    Restarting,
    /// Stopped for good (the reason); messages are answered with an error.
    Stopped(String),
}

impl std::fmt::Display for ActorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorStatus::Starting => write!(f, "starting"),
            ActorStatus::Running => write!(f, "running"),
            ActorStatus::Restarting => write!(f, "restarting"),
            ActorStatus::Stopped(reason) => write!(f, "stopped: {reason}"),
        }
    }
}
