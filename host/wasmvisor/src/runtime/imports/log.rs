//! `wasmvisor:plugin/log`: levelled logging into the host's log, each line
//! tagged with the actor's name (target `wasmvisor::guest`).

use wasmtime::component::{HasData, Linker};

use crate::runtime::bindings::log;

/// What the `log` import works on: the name lines are tagged with.
pub(crate) struct LogCtxView<'a> {
    pub(crate) actor: &'a str,
}

/// A store's data that serves the `log` import.
pub(crate) trait LogImportView: Send {
    /// Who is logging.
    fn log(&mut self) -> LogCtxView<'_>;
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = LogCtxView<'a>;
}

/// Adds the `log` interface to `linker`.
pub(crate) fn add_to_linker<T: LogImportView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, HasLog>(linker, T::log)
}

impl log::Host for LogCtxView<'_> {
    fn log(&mut self, level: log::Level, message: String) {
        let actor = self.actor;
        match level {
            log::Level::Trace => tracing::trace!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Debug => tracing::debug!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Info => tracing::info!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Warn => tracing::warn!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Error => tracing::error!(target: "wasmvisor::guest", actor, "{message}"),
        }
    }
}
