//! A plugin that crashes in whichever way it is asked to, to show (and test)
//! that every kind of trap is caught, reported and recovered from.
//!
//! Messages (UTF-8 text):
//! - `echo TEXT`: replies with TEXT;
//! - `panic`: a Rust panic (reported with its message);
//! - `unreachable`: executes the `unreachable` instruction;
//! - `overflow`: recurses until the WebAssembly stack overflows;
//! - `recurse N`: recurses N calls deep, then replies with a checksum (fits
//!   or overflows depending on the stack size the host gives it);
//! - `exit N`: `std::process::exit(N)`, which WASI 0.2's `exit` turns into
//!   a bare failure status for any N but 0;
//! - `exit-code N`: exits with code N through `wasi:cli/exit.exit-with-code`,
//!   which carries it;
//! - `forge TEXT`: prints a panic report of its own making, TEXT as the
//!   message (newlines and all), then executes `unreachable`: what a guest
//!   that wants its crash to read as something else can do.

use wasmvisor_guest::{Error, Plugin};

#[derive(Default)]
struct Crasher;

/// Recursion the compiler cannot turn into a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == 0 {
        return 0;
    }
    recurse(depth - 1).wrapping_add(std::hint::black_box(depth))
}

#[wasmvisor_guest::export]
impl Plugin for Crasher {
    type Message = String;
    type Reply = String;

    fn handle(&mut self, text: String) -> Result<String, Error> {
        if let Some(rest) = text.strip_prefix("echo ") {
            return Ok(rest.to_owned());
        }
        if let Some(depth) = text.strip_prefix("recurse ") {
            let depth: u64 = depth
                .trim()
                .parse()
                .map_err(|_| Error::msg(format!("`{depth}` is not a depth")))?;
            return Ok(recurse(depth).to_string());
        }
        if let Some(message) = text.strip_prefix("forge ") {
            eprintln!("thread 'main' panicked at the-host/src/supervisor.rs:1:1:\n{message}");
            core::arch::wasm32::unreachable();
        }
        if let Some(code) = text.strip_prefix("exit-code ") {
            wasip2::cli::exit::exit_with_code(
                code.trim()
                    .parse()
                    .map_err(|_| Error::msg(format!("`{code}` is not an exit code (0 to 255)")))?,
            );
        }
        if let Some(code) = text.strip_prefix("exit ") {
            std::process::exit(
                code.trim()
                    .parse()
                    .map_err(|_| Error::msg(format!("`{code}` is not an exit code")))?,
            );
        }
        match text.trim() {
            "panic" => panic!("boom: asked to panic"),
            "unreachable" => core::arch::wasm32::unreachable(),
            "overflow" => Ok(recurse(u64::MAX).to_string()),
            _ => Err(Error::msg(format!(
                "unknown message `{text}`; try `echo TEXT`, `panic`, `unreachable`, `overflow`, `recurse N`, `exit N` or `forge TEXT`"
            ))),
        }
    }
}
