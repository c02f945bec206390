//! WASI 0.2's `wasi:cli/exit`, as the host reports it.
//!
//! The interface has two ways out. `exit-with-code(u8)` carries the code
//! the guest gave, and wasmtime-wasi's own import reports it as is. `exit`
//! carries only success or failure: wasmtime-wasi reports a failure as code
//! 1, which reads as if the guest had said 1. Most toolchains exit that way:
//! Rust's `std::process::exit(3)` and C's `exit(3)` on `wasm32-wasip2`
//! become `exit(err)` inside the guest, so the 3 is gone before the host is
//! called. This import says what happened instead:
//! [`CrashReason::ExitFailure`](crate::CrashReason::ExitFailure).

use wasmtime::component::Linker;
use wasmtime_wasi::I32Exit;

/// The error a guest's `exit(err)` ends its call with: a failure status,
/// with no code.
#[derive(Debug)]
pub(crate) struct ExitWithoutCode;

impl std::fmt::Display for ExitWithoutCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the guest exited with a failure status (no code)")
    }
}

impl std::error::Error for ExitWithoutCode {}

/// The instance wasmtime-wasi defines the interface in (the newest 0.2 it
/// implements; guests' imports of older 0.2 versions resolve to it).
const INTERFACE: &str = "wasi:cli/exit@0.2.12";

/// Replaces wasmtime-wasi's `exit` in `linker` (already holding WASI 0.2)
/// with one that tells a failure from a code.
pub(crate) fn add_to_linker<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = linker.instance(INTERFACE).and_then(|mut exit| {
        exit.func_wrap(
            "exit",
            |_, (status,): (Result<(), ()>,)| -> wasmtime::Result<()> {
                match status {
                    Ok(()) => Err(I32Exit(0).into()),
                    Err(()) => Err(ExitWithoutCode.into()),
                }
            },
        )
    });
    linker.allow_shadowing(false);
    defined
}
