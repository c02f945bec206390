//! Host bindings generated from `wit/` (package `wasmvisor:plugin@0.1.1`).
//!
//! The host binds the `full-plugin` world, which names every export it knows.
//! A component needs only `handler`; the loader finds out which of the other
//! exported interfaces it has (see `compiled`), and an instance loads only
//! those. Exports are called asynchronously so that the epoch ticker can
//! interrupt (or let yield) a guest that runs long.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "full-plugin",
    imports: {
        "wasmvisor:plugin/actors": async,
        // Asked outside `init`, `ignore` traps.
        "wasmvisor:plugin/exit.ignore": trappable,
    },
    exports: { default: async },
});

pub(crate) use self::exports::wasmvisor::plugin::{handler, health, job, lifecycle, snapshot};
pub(crate) use self::wasmvisor::plugin::{actors, exit, log, state};
/// `wasi:cli/run`, the export of a `wasi:cli/command` program.
pub(crate) use wasmtime_wasi::p2::bindings::exports::wasi::cli::run as cli_run;
/// `wasi:http/incoming-handler`, the export of a `wasi:http/proxy` handler.
pub(crate) use wasmtime_wasi_http::p2::bindings::exports::wasi::http::incoming_handler;
