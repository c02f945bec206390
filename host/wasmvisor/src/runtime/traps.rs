//! The traps the host raises in a guest call, each for one reason an
//! instance ends; `crash` turns them (and wasmtime's own) into a
//! [`CrashReason`](crate::CrashReason).

/// The trap raised when a guest grows its memory past the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit_bytes} bytes exceeded")]
pub(crate) struct MemoryLimitExceeded {
    pub(crate) limit_bytes: u64,
}

/// The trap raised when a guest grows a table past the limit.
#[derive(Debug, thiserror::Error)]
#[error("table limit of {limit_elements} elements exceeded")]
pub(crate) struct TableLimitExceeded {
    pub(crate) limit_elements: u64,
}

/// The trap raised when the supervisor kills the instance mid-call.
#[derive(Debug, thiserror::Error)]
#[error("killed by its supervisor")]
pub(crate) struct Killed;

/// The trap raised when a call runs past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub(crate) struct DeadlineExceeded;
