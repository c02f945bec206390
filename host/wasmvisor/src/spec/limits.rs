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
    /// How long a `wasi:cli` program's whole run (its `main`) may take
    /// before it is interrupted with
    /// [`CrashReason::DeadlineExceeded`](crate::CrashReason::DeadlineExceeded).
    /// [`Limits::call_timeout`] bounds a plugin's calls, not a program's
    /// run. Default: none, so a program that serves runs until it exits.
    pub run_timeout: Option<Duration>,
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
    /// The WebAssembly stack one instance may use, in bytes. Recursing past
    /// it traps with
    /// [`CrashReason::StackOverflow`](crate::CrashReason::StackOverflow).
    /// Between 64 KiB and 64 MiB. Default: 512 KiB (wasmtime's).
    ///
    /// wasmtime sets the stack size per engine, so each distinct value used
    /// on a host costs one more engine, and each plugin is compiled once more
    /// for it (on the first start that needs it).
    pub wasm_stack_bytes: usize,
    /// The most elements a table of one instance may hold (tables hold
    /// function references: `call_indirect` targets, resources). Growing
    /// past it, or instantiating a component whose tables start larger,
    /// traps with [`CrashReason::TableLimit`](crate::CrashReason::TableLimit).
    /// Default: 20,000.
    pub max_table_elements: u64,
}

/// The smallest [`Limits::wasm_stack_bytes`].
pub(crate) const MIN_STACK_BYTES: usize = 64 << 10;
/// The largest [`Limits::wasm_stack_bytes`].
pub(crate) const MAX_STACK_BYTES: usize = 64 << 20;
/// The largest [`Limits::memory_bytes`]: all that a 32-bit WebAssembly
/// memory can address (65,536 pages of 64 KiB).
pub(crate) const MAX_MEMORY_BYTES: u64 = 4 << 30;
/// The largest [`Limits::mailbox_capacity`] (a million and some).
pub(crate) const MAX_MAILBOX_CAPACITY: usize = 1 << 20;
/// The largest [`Limits::max_value_bytes`]: 4 GiB, more than a guest's
/// memory can hold.
pub(crate) const MAX_VALUE_BYTES: u64 = 4 << 30;
/// The largest [`Limits::max_state_bytes`]: 1 TiB.
pub(crate) const MAX_STATE_BYTES: u64 = 1 << 40;
/// The largest [`Limits::max_table_elements`]: ten million (80 MB of
/// references per table).
pub(crate) const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(5),
            run_timeout: None,
            mailbox_capacity: 1024,
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_state_bytes: 64 << 20,
            fuel_per_call: None,
            wasm_stack_bytes: 512 << 10,
            max_table_elements: 20_000,
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

    /// Sets [`Limits::run_timeout`].
    pub fn run_timeout(mut self, timeout: Duration) -> Self {
        self.run_timeout = Some(timeout);
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

    /// Sets [`Limits::wasm_stack_bytes`].
    pub fn wasm_stack_bytes(mut self, bytes: usize) -> Self {
        self.wasm_stack_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_table_elements`].
    pub fn max_table_elements(mut self, elements: u64) -> Self {
        self.max_table_elements = elements;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_duration("call_timeout", self.call_timeout)?;
        if let Some(run_timeout) = self.run_timeout {
            check_duration("run_timeout", run_timeout)?;
            if run_timeout.is_zero() {
                return Err("run_timeout must be more than zero".into());
            }
        }
        if self.call_timeout.is_zero() {
            return Err("call_timeout must be more than zero".into());
        }
        in_range(
            "mailbox_capacity",
            self.mailbox_capacity as u64,
            1,
            MAX_MAILBOX_CAPACITY as u64,
        )?;
        // From one 64 KiB page.
        in_range(
            "memory_bytes",
            self.memory_bytes,
            64 << 10,
            MAX_MEMORY_BYTES,
        )?;
        in_range("max_key_bytes", self.max_key_bytes, 1, u64::from(u32::MAX))?;
        in_range("max_value_bytes", self.max_value_bytes, 1, MAX_VALUE_BYTES)?;
        in_range("max_state_bytes", self.max_state_bytes, 1, MAX_STATE_BYTES)?;
        in_range(
            "max_table_elements",
            self.max_table_elements,
            1,
            MAX_TABLE_ELEMENTS,
        )?;
        if let Some(fuel) = self.fuel_per_call {
            in_range("fuel_per_call", fuel, 1, u64::MAX)?;
        }
        if !(MIN_STACK_BYTES..=MAX_STACK_BYTES).contains(&self.wasm_stack_bytes) {
            return Err(format!(
                "wasm_stack_bytes must be between {MIN_STACK_BYTES} (64 KiB) and \
                 {MAX_STACK_BYTES} (64 MiB), not {}",
                self.wasm_stack_bytes
            ));
        }
        Ok(())
    }
}

/// Refuses `value` of the limit `what` outside `min..=max`, naming the range.
fn in_range(what: &str, value: u64, min: u64, max: u64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be between {min} and {max}, not {value}"
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An embedder's limits get the manifest's bounds: nothing the host
    /// cannot honour (a mailbox that large once panicked in tokio).
    #[test]
    fn limits_past_what_the_host_can_honour_are_refused() {
        let refused = [
            Limits::default().mailbox_capacity(usize::MAX),
            Limits::default().mailbox_capacity(0),
            Limits::default().memory_bytes(u64::MAX),
            Limits::default().max_table_elements(4_000_000_000),
            Limits::default().max_value_bytes(0),
            Limits::default().max_state_bytes(u64::MAX),
            Limits::default().fuel_per_call(0),
        ];
        for limits in refused {
            let error = limits.validate().expect_err("refused");
            assert!(error.contains("must be between"), "{error}");
        }
        assert_eq!(Limits::default().validate(), Ok(()));
        let largest = Limits::default()
            .mailbox_capacity(MAX_MAILBOX_CAPACITY)
            .memory_bytes(MAX_MEMORY_BYTES)
            .max_table_elements(MAX_TABLE_ELEMENTS);
        assert_eq!(largest.validate(), Ok(()));
    }
}
