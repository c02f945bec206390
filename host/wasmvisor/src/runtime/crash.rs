//! Why an instance ended: the error a guest call returned (a wasmtime trap,
//! one of the host's own [`traps`](super::traps), a `wasi:cli/exit`) turned
//! into the [`CrashReason`] the supervisor reports. Both kinds of instance
//! use it: an actor's [`Instance`](super::instance::Instance) and the fresh
//! instance of one HTTP request.

use std::time::Duration;

use wasmtime::Trap;
use wasmtime_wasi::I32Exit;

use super::store::StoreData;
use super::traps::{DeadlineExceeded, Killed, MemoryLimitExceeded, TableLimitExceeded};
use crate::error::CrashReason;
use crate::util::millis;

/// Turns a trap (or a fatal host error) into the reason reported for the
/// crash; `deadline` is the limit the call was armed with.
pub(crate) fn classify(
    error: wasmtime::Error,
    data: &StoreData,
    deadline: Duration,
) -> CrashReason {
    if error.is::<Killed>() {
        return CrashReason::Killed;
    }
    if error.is::<DeadlineExceeded>() {
        return CrashReason::DeadlineExceeded {
            limit_ms: millis(deadline),
        };
    }
    if let Some(limit) = error.downcast_ref::<MemoryLimitExceeded>() {
        return CrashReason::MemoryLimit {
            limit_bytes: limit.limit_bytes,
        };
    }
    if let Some(limit) = error.downcast_ref::<TableLimitExceeded>() {
        return CrashReason::TableLimit {
            limit_elements: limit.limit_elements,
        };
    }
    if let Some(full) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return CrashReason::Trap(format!(
            "the instance pool is full ({full}): give the host more slots \
             (`HostBuilder::instance_pool`, `wasmvisor run --instance-pool`)"
        ));
    }
    if error
        .downcast_ref::<super::imports::wasi_exit::ExitWithoutCode>()
        .is_some()
    {
        return CrashReason::ExitFailure;
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return CrashReason::Exit(exit.0);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => match data.stderr.panic_message() {
            Some(message) => CrashReason::Panic(message),
            None => CrashReason::Unreachable,
        },
        Some(Trap::StackOverflow) => CrashReason::StackOverflow {
            limit_bytes: data.stack_bytes,
        },
        Some(Trap::MemoryOutOfBounds | Trap::TableOutOfBounds | Trap::HeapMisaligned) => {
            CrashReason::OutOfBounds
        }
        Some(Trap::OutOfFuel) => CrashReason::FuelExhausted {
            limit: data.fuel.unwrap_or(u64::MAX),
        },
        Some(Trap::Interrupt) => CrashReason::DeadlineExceeded {
            limit_ms: millis(deadline),
        },
        Some(trap) => CrashReason::Trap(trap.to_string()),
        None => CrashReason::Trap(format!("{error:#}")),
    }
}
