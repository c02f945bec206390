//! An engine with the host's imports linked: what a plugin is compiled and
//! checked against.
//!
//! The linker is made once per engine (see `engines`) and names the store's
//! data type, [`StoreData`]; every instance then comes from an
//! `InstancePre` made from it, so a restart links nothing.

use std::sync::Arc;

use wasmtime::component::Linker;

use super::engine::Engine;
use super::imports;
use super::store::StoreData;

/// An engine and its linker. Cheap to clone.
#[derive(Clone)]
pub(crate) struct LinkedEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<StoreData>>,
}

impl LinkedEngine {
    /// `engine` with every import a plugin may use (see `imports`).
    pub(crate) fn new(engine: Engine) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine.wasmtime());
        imports::add_to_linker(&mut linker)?;
        Ok(LinkedEngine {
            engine,
            linker: Arc::new(linker),
        })
    }
}
