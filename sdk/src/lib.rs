//! Write [wasmvisor](https://example.invalid/wasmvisor) plugins in Rust.
//!
//! A plugin is a type that implements [`Plugin`], with the
//! [`#[wasmvisor_guest::export]`](export) attribute on that `impl`. The
//! attribute turns the crate (a `cdylib`, built with
//! `cargo build --release --target wasm32-wasip2`) into a component of the
//! `wasmvisor:plugin` WIT package: it exports `handler` always, and `health`,
//! `lifecycle`, `snapshot` or `job` for the [`Plugin`] methods the `impl`
//! defines, and nothing else, so the host calls only what you wrote.
//!
//! ```no_run
//! use serde::Deserialize;
//! use wasmvisor_guest::{Error, Health, Json, Plugin, state::Key};
//!
//! /// The count, kept in the host's state store: it survives crashes,
//! /// restarts and (with the durable store) restarts of the host.
//! const COUNT: Key<u64> = Key::new("count");
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "kebab-case")]
//! enum Command {
//!     Inc,
//!     Add(u64),
//!     Get,
//! }
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! #[wasmvisor_guest::export]
//! impl Plugin for Counter {
//!     type Message = Json<Command>; // `inc`, `get` or `{"add": 5}`
//!     type Reply = Json<u64>;
//!
//!     fn handle(&mut self, Json(command): Json<Command>) -> Result<Json<u64>, Error> {
//!         let count = match command {
//!             Command::Inc => COUNT.update(|count| *count += 1)?,
//!             Command::Add(n) => COUNT.update(|count| *count += n)?,
//!             Command::Get => COUNT.get()?.unwrap_or(0),
//!         };
//!         Ok(Json(count))
//!     }
//!
//!     fn health(&self) -> Health {
//!         Health::Healthy
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! # What the host does with it
//!
//! - **One instance, one message at a time.** The plugin value is created
//!   with [`Default`] on the first call into a new instance, and lives as
//!   long as the instance. Fields of `self` are linear memory: they are lost in a crash
//!   unless the plugin keeps them in [`state`] or defines
//!   [`snapshot`](Plugin::snapshot) and [`restore`](Plugin::restore).
//! - **Errors and crashes.** Returning `Err` from `handle` is an ordinary
//!   error reply: the message's state writes are dropped and the instance
//!   keeps running ([`bail!`] returns one). A panic is a crash: the host discards the instance and
//!   restarts the plugin from its committed state. Panic for bugs, return
//!   errors for bad input.
//! - **State** ([`state`]): typed values under string keys. A message's
//!   writes commit together when `handle` returns `Ok`, and vanish if it
//!   fails or panics.
//!
//! # Encodings
//!
//! - A message arrives as bytes and is decoded into [`Plugin::Message`] by
//!   [`FromMessage`]: `Vec<u8>` takes the bytes as they are, `String`
//!   requires UTF-8, and [`Json<T>`] reads JSON (serde), where a bare word
//!   such as `inc` also reads as the JSON string `"inc"`, so unit enum
//!   variants can be sent as plain words from `wasmvisor call`.
//! - A reply is encoded by [`IntoReply`]: bytes and strings as they are,
//!   [`Json<T>`] as JSON, `()` as an empty reply.
//! - State values are JSON (see [`state`]), so `wasmvisor state get` shows
//!   them as text and plugins in other languages can read them.
//!
//! Logging is [`info!`] and its siblings (into the host's log, tagged with
//! the actor's name); other actors are reached through [`actors`]; a plugin
//! ends itself, or answers its start with "ignore", through [`exit`].

mod bindings;
mod error;
mod message;
mod plugin;

pub mod actors;
pub mod exit;
pub mod log;
pub mod state;

#[doc(hidden)]
pub mod __private;

pub use error::Error;
pub use message::{FromMessage, IntoReply, Json};
pub use plugin::{Config, Health, Plugin};

/// Turns an `impl Plugin for T` into the plugin's component exports.
///
/// Put it on the one `impl` of [`Plugin`] in the crate. It exports the WIT
/// interface `handler`, and for the methods the `impl` defines:
///
/// | methods defined | interface exported | what the host then does |
/// |---|---|---|
/// | `health` | `health` | calls it on the plugin's health schedule |
/// | `init`, `shutdown` (either) | `lifecycle` | `init` at every start, `shutdown` on a graceful stop |
/// | `snapshot` and `restore` (both) | `snapshot` | snapshots after messages, restores after a restart |
/// | `run` | `job` | runs it once per instance: the plugin is a job |
///
/// A method left to its default is not exported at all.
pub use wasmvisor_guest_macros::export;

/// The wit-bindgen runtime the generated exports use (not part of the API).
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;
