//! Ending on purpose, in Erlang/OTP's words: [`shutdown`] and
//! [`shutdown_with`] end the instance normally once the current call
//! returns (OTP's `shutdown` and `{shutdown, Reason}`); [`ignore`], from
//! [`Plugin::init`](crate::Plugin::init), answers the start with "nothing
//! to do here" (OTP's `ignore`).
//!
//! A request takes effect when the method that made it returns: a
//! message's reply is still delivered, and its state writes committed when
//! it returns `Ok`. Only a permanent child is restarted after a shutdown;
//! a transient or temporary one is not. [`Plugin::shutdown`](crate::Plugin::shutdown)
//! is not called: do what must be done before asking.
//!
//! ```no_run
//! use wasmvisor_guest::{Error, Plugin, exit};
//!
//! #[derive(Default)]
//! struct Worker;
//!
//! #[wasmvisor_guest::export]
//! impl Plugin for Worker {
//!     type Message = String;
//!     type Reply = String;
//!
//!     fn handle(&mut self, message: String) -> Result<String, Error> {
//!         if message == "done" {
//!             exit::shutdown_with("asked to finish");
//!             return Ok("bye".to_owned());
//!         }
//!         Ok(message)
//!     }
//! }
//! # fn main() {}
//! ```

use crate::bindings::exit as wit;

/// Ends this instance normally, with exit reason `shutdown`, once the
/// current call returns.
pub fn shutdown() {
    wit::shutdown();
}

/// Ends this instance normally, with exit reason `shutdown-with(reason)`,
/// once the current call returns; the reason shows in the host's events,
/// `wasmvisor inspect` and the admin API.
pub fn shutdown_with(reason: &str) {
    wit::shutdown_with(reason);
}

/// Answers the start in progress with "ignored": when
/// [`Plugin::init`](crate::Plugin::init) then returns `Ok`, the instance is
/// discarded and nothing runs (a permanent or transient child stays listed,
/// undefined; a temporary one is removed). Only `init` may call it:
/// anywhere else, the instance traps (a crash).
pub fn ignore() {
    wit::ignore();
}
