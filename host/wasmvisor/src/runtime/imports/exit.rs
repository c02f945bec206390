//! `wasmvisor:plugin/exit`: a plugin ending on purpose (OTP's `shutdown`,
//! `{shutdown, Reason}` and `ignore`). The import only records the request;
//! the actor acts on it once the export that made it returns (see
//! [`Instance::asked_exit`](crate::runtime::Instance::asked_exit)).

use wasmtime::component::{HasData, Linker};

use crate::runtime::bindings::exit;

/// What a plugin asked for through `exit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExitRequest {
    /// End normally once the call returns, with the plugin's reason if any.
    Shutdown(Option<String>),
    /// Answer the start in progress with "ignored".
    Ignore,
}

/// What the `exit` import works on: where the request is kept, and whether
/// the instance is starting (`ignore` answers a start, nothing else).
pub(crate) struct ExitCtxView<'a> {
    pub(crate) request: &'a mut Option<ExitRequest>,
    pub(crate) starting: bool,
}

/// A store's data that serves the `exit` import.
pub(crate) trait ExitImportView: Send {
    /// Where the plugin's request goes.
    fn exit(&mut self) -> ExitCtxView<'_>;
}

struct HasExit;

impl HasData for HasExit {
    type Data<'a> = ExitCtxView<'a>;
}

/// Adds the `exit` interface to `linker`.
pub(crate) fn add_to_linker<T: ExitImportView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    exit::add_to_linker::<T, HasExit>(linker, T::exit)
}

impl exit::Host for ExitCtxView<'_> {
    fn shutdown(&mut self) {
        *self.request = Some(ExitRequest::Shutdown(None));
    }

    fn shutdown_with(&mut self, reason: String) {
        *self.request = Some(ExitRequest::Shutdown(Some(reason)));
    }

    fn ignore(&mut self) -> wasmtime::Result<()> {
        if !self.starting {
            wasmtime::bail!(
                "`exit.ignore` answers a start: only `init` may call it (to end an \
                 instance that runs, call `exit.shutdown`)"
            );
        }
        *self.request = Some(ExitRequest::Ignore);
        Ok(())
    }
}
