//! What a supervisor says of itself: whether it still supervises
//! ([`SupervisorStatus`]), how many children it has ([`ChildCounts`]), and
//! how much of its restart intensity recent restarts used
//! ([`RestartBudget`]).

/// Whether a supervisor is still supervising.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum SupervisorStatus {
    /// Supervising its children.
    Running,
    /// Exceeded its restart intensity and stopped its children (why).
    GaveUp(String),
    /// Stopped on request.
    Stopped,
    /// Stopped by itself: its significant children finished (why).
    AutoShutdown(String),
    /// Killed ([`SupervisorRef::kill`](super::SupervisorRef::kill)): every
    /// child was killed at once.
    Killed,
}

impl std::fmt::Display for SupervisorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupervisorStatus::Running => write!(f, "running"),
            SupervisorStatus::GaveUp(reason) => write!(f, "gave up: {reason}"),
            SupervisorStatus::Stopped => write!(f, "stopped"),
            SupervisorStatus::AutoShutdown(reason) => write!(f, "shut itself down: {reason}"),
            SupervisorStatus::Killed => write!(f, "killed"),
        }
    }
}

/// How many children a supervisor has, OTP's `count_children`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ChildCounts {
    /// Child specs, whether running or not.
    pub specs: usize,
    /// Children with a live instance (not restarting, not undefined).
    pub active: usize,
    /// Specs that are supervisors.
    pub supervisors: usize,
    /// Specs that are workers (actors).
    pub workers: usize,
}

/// How many restarts a supervisor may still make before it gives up: its
/// restart intensity (at most `max_restarts` within `within_ms`) less the
/// restarts made in the window that ends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RestartBudget {
    /// The most restarts allowed within the window.
    pub max_restarts: u32,
    /// The window, in milliseconds.
    pub within_ms: u64,
    /// Restarts made within the window that ends now.
    pub used: u32,
}

impl RestartBudget {
    /// Restarts left before the next one makes the supervisor give up.
    pub fn left(&self) -> u32 {
        self.max_restarts.saturating_sub(self.used)
    }
}
