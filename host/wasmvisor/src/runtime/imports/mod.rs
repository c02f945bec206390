//! The host's imports for plugins, one file per WIT interface.
//!
//! Each interface is served from a *view* of the store's data, in the style
//! of wasmtime-wasi's `WasiView`: a small struct borrowing only what the
//! interface needs, handed out by a trait the store's data implements. So
//! the imports never name the store's data type, and the linker is built
//! for any type with the views ([`add_to_linker`]).
//!
//! | interface                  | file        | view                 |
//! |----------------------------|-------------|----------------------|
//! | `wasmvisor:plugin/state`   | `state.rs`  | [`StateImportView`]  |
//! | `wasmvisor:plugin/log`     | `log.rs`    | [`LogImportView`]    |
//! | `wasmvisor:plugin/actors`  | `actors.rs` | [`ActorsImportView`] |
//! | `wasmvisor:plugin/exit`    | `exit.rs`   | [`ExitImportView`]   |
//! | `wasi:http` (outgoing)     | `http.rs`   | wasmtime-wasi-http's `WasiHttpView`, with the allow-list hooks |
//! | WASI 0.2                   | (wasmtime-wasi) | `WasiView`, built by `sandbox` |
//! | `wasi:cli/exit`'s `exit`    | `wasi_exit.rs` | none: it tells a failure status from a code |

pub(crate) mod actors;
pub(crate) mod exit;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod state;
pub(crate) mod wasi_exit;

use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi_http::WasiHttpView;

pub(crate) use self::actors::{ActorsImportView, Peers};
pub(crate) use self::exit::{ExitImportView, ExitRequest};
pub(crate) use self::log::LogImportView;
pub(crate) use self::state::StateImportView;

/// Adds every import a plugin may use to `linker`: WASI 0.2, outgoing
/// `wasi:http`, and the `wasmvisor:plugin` interfaces.
pub(crate) fn add_to_linker<T>(linker: &mut Linker<T>) -> wasmtime::Result<()>
where
    T: WasiView
        + WasiHttpView
        + StateImportView
        + LogImportView
        + ActorsImportView
        + ExitImportView
        + 'static,
{
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasi_exit::add_to_linker(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    state::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    actors::add_to_linker(linker)?;
    exit::add_to_linker(linker)
}
