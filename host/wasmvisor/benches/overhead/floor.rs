//! The floor: raw wasmtime on an engine with the host's settings (made by
//! the host's own code, `wasmvisor::benchmarking::floor_config`), one
//! linker with just the imports a plugin needs, and stores that are nothing
//! but a WASI context and a map.

use std::collections::BTreeMap;

use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "full-plugin",
    imports: { "wasmvisor:plugin/actors": async },
    exports: { default: async },
});

pub(crate) use self::exports::wasmvisor::plugin::{handler, health};
use self::wasmvisor::plugin::{actors, exit, log, state};

/// Raw wasmtime: one engine and one linker with just the imports a plugin
/// needs; stores are nothing but a WASI context and a map.
pub(crate) struct Floor {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Raw>,
}

impl Floor {
    pub(crate) fn new(pool: Option<u32>) -> Self {
        Floor::with_reservation(pool, None)
    }

    pub(crate) fn with_reservation(pool: Option<u32>, reservation: Option<u64>) -> Self {
        let engine =
            Engine::new(&::wasmvisor::benchmarking::floor_config(pool, reservation)).unwrap();
        let mut linker: Linker<Raw> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        FullPlugin::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |raw| raw).unwrap();
        Floor { engine, linker }
    }

    pub(crate) fn pre(&self, component: &[u8]) -> InstancePre<Raw> {
        self.linker
            .instantiate_pre(&Component::new(&self.engine, component).unwrap())
            .unwrap()
    }

    pub(crate) fn store(&self, entries: BTreeMap<String, Vec<u8>>) -> Store<Raw> {
        let mut store = Store::new(
            &self.engine,
            Raw {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                entries,
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        store
    }
}

/// The counter on the floor: its pre-instance and its `handler` export.
pub(crate) struct RawCounter {
    pub(crate) floor: Floor,
    pub(crate) pre: InstancePre<Raw>,
    pub(crate) handler: handler::GuestIndices,
}

impl RawCounter {
    /// The counter on a floor of its own, allocating as a host with
    /// `pool` does.
    pub(crate) fn new(counter: &[u8], pool: Option<u32>) -> Self {
        RawCounter::on(Floor::new(pool), counter)
    }

    /// The counter on `floor`.
    pub(crate) fn on(floor: Floor, counter: &[u8]) -> Self {
        let pre = floor.pre(counter);
        RawCounter {
            handler: handler::GuestIndices::new(&pre).unwrap(),
            floor,
            pre,
        }
    }

    /// A new instance whose state is `entries`.
    pub(crate) async fn instance(
        &self,
        entries: BTreeMap<String, Vec<u8>>,
    ) -> (Store<Raw>, handler::Guest) {
        let mut store = self.floor.store(entries);
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        let handler = self.handler.load(&mut store, &instance).unwrap();
        (store, handler)
    }
}

/// The floor's store data: just enough for the plugins' imports.
pub(crate) struct Raw {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) entries: BTreeMap<String, Vec<u8>>,
}

impl WasiView for Raw {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl state::Host for Raw {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.entries.get(&key).cloned()
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), state::StateError> {
        self.entries.insert(key, value);
        Ok(())
    }
    fn delete(&mut self, key: String) {
        self.entries.remove(&key);
    }
    fn list_keys(&mut self, prefix: String) -> Vec<String> {
        self.entries
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    }
}

/// The floor has no other actors.
impl actors::Host for Raw {
    async fn call(
        &mut self,
        name: String,
        _message: Vec<u8>,
        _timeout_ms: u32,
    ) -> Result<Vec<u8>, actors::CallError> {
        Err(actors::CallError::NotFound(name))
    }
    async fn cast(&mut self, name: String, _message: Vec<u8>) -> Result<(), actors::CallError> {
        Err(actors::CallError::NotFound(name))
    }
}

impl log::Host for Raw {
    fn log(&mut self, _level: log::Level, _message: String) {}
}

/// The bench's guests never end themselves.
impl exit::Host for Raw {
    fn shutdown(&mut self) {}
    fn shutdown_with(&mut self, _reason: String) {}
    fn ignore(&mut self) {}
}
