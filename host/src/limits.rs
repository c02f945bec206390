//! Resource limits for one actor, with their defaults.

use std::time::Duration;

/// What one actor may use. Every limit reached is a typed error naming the
/// limit (see [`CrashReason`](crate::CrashReason)), never a hang of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most linear memory one instance may grow to, in bytes (per
    /// memory). Growing past it traps with
    /// [`CrashReason::MemoryLimit`](crate::CrashReason::MemoryLimit).
    /// Default: 64 MiB.
    pub memory_bytes: u64,
    /// How long one guest call (a message, a health check, `init`,
    /// `snapshot`, ...) may run before it is interrupted with
    /// [`CrashReason::DeadlineExceeded`](crate::CrashReason::DeadlineExceeded).
    /// Default: 5 s.
    pub call_timeout: Duration,
    /// How many messages may wait in the mailbox; senders wait for room
    /// beyond that. Default: 1024.
    pub mailbox_capacity: usize,
    /// The longest state key, in bytes. Default: 1024.
    pub max_key_bytes: u64,
    /// The largest state value, in bytes. Default: 1 MiB.
    pub max_value_bytes: u64,
    /// The most fuel (roughly, WebAssembly instructions) one guest call may
    /// burn before it is stopped with
    /// [`CrashReason::FuelExhausted`](crate::CrashReason::FuelExhausted).
    /// Deterministic, unlike the deadline; needs fuel metering on the host
    /// ([`HostBuilder::fuel_metering`](crate::HostBuilder::fuel_metering)).
    /// Default: none.
    pub fuel_per_call: Option<u64>,
    /// The most state one actor may keep, in bytes (keys plus values of
    /// every entry). A write past it is refused with `quota-exceeded`.
    /// Default: 64 MiB.
    pub max_state_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(5),
            mailbox_capacity: 1024,
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_state_bytes: 64 << 20,
            fuel_per_call: None,
        }
    }
}

impl Limits {
    /// Sets [`Limits::memory_bytes`].
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets [`Limits::call_timeout`].
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets [`Limits::mailbox_capacity`].
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity;
        self
    }

    /// Sets [`Limits::max_value_bytes`].
    pub fn max_value_bytes(mut self, bytes: u64) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// Sets [`Limits::fuel_per_call`].
    pub fn fuel_per_call(mut self, fuel: u64) -> Self {
        self.fuel_per_call = Some(fuel);
        self
    }

    /// Sets [`Limits::max_state_bytes`].
    pub fn max_state_bytes(mut self, bytes: u64) -> Self {
        self.max_state_bytes = bytes;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_duration("call_timeout", self.call_timeout)?;
        if self.call_timeout.is_zero() {
            return Err("call_timeout must be more than zero".into());
        }
        if self.mailbox_capacity == 0 {
            return Err("mailbox_capacity must be at least 1".into());
        }
        if self.memory_bytes < 64 * 1024 {
            return Err("memory_bytes must be at least one 64 KiB page".into());
        }
        Ok(())
    }
}

/// The longest duration a spec may hold: longer ones are surely mistakes,
/// and would overflow deadline arithmetic.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Refuses a duration longer than [`MAX_DURATION`].
pub(crate) fn check_duration(what: &str, duration: Duration) -> Result<(), String> {
    if duration > MAX_DURATION {
        Err(format!(
            "{what} is longer than a year; use a shorter duration"
        ))
    } else {
        Ok(())
    }
}
