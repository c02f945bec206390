//! A component compiled, linked and checked for one engine: the cached
//! `InstancePre` every instance comes from, with the places of its exports
//! found once, and the load check that instantiates it once.

use std::pin::pin;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::{cli_run, handler, health, incoming_handler, job, lifecycle, snapshot};
use super::call::{KillSwitch, bounded};
use super::engine::Engine;
use super::store::{StoreData, arm, new_store};
use super::world::World;
use crate::spec::{Capabilities, Limits, Stdio};
use crate::state::view::StateView;

/// A plugin compiled, linked and checked for one engine.
pub(crate) struct Compiled {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<StoreData>,
    pub(crate) exports: ExportIndices,
}

/// Where the component's exports live, found once at load time: the
/// handler and its optional companions for a plugin, `run` for a
/// `wasi:cli` command, the incoming handler (and maybe `health`) for a
/// `wasi:http` proxy.
pub(crate) struct ExportIndices {
    pub(crate) world: World,
    pub(crate) handler: Option<handler::GuestIndices>,
    pub(crate) cli_run: Option<cli_run::GuestIndices>,
    /// A `wasi:http` proxy's handler: loaded per request, not per instance.
    pub(crate) http: Option<incoming_handler::GuestIndices>,
    pub(crate) health: Option<health::GuestIndices>,
    pub(crate) lifecycle: Option<lifecycle::GuestIndices>,
    pub(crate) snapshot: Option<snapshot::GuestIndices>,
    pub(crate) job: Option<job::GuestIndices>,
}

/// The exports of one instance, loaded.
pub(crate) struct LoadedExports {
    pub(crate) handler: Option<handler::Guest>,
    pub(crate) health: Option<health::Guest>,
    pub(crate) lifecycle: Option<lifecycle::Guest>,
    pub(crate) snapshot: Option<snapshot::Guest>,
    pub(crate) job: Option<job::Guest>,
    pub(crate) cli_run: Option<cli_run::Guest>,
}

/// Instantiates `compiled` in `store` (within the store's deadline, and
/// cut off by `kill`) and loads its exports.
pub(crate) async fn load_exports(
    compiled: &Compiled,
    store: &mut Store<StoreData>,
    kill: Option<&KillSwitch>,
) -> wasmtime::Result<LoadedExports> {
    let deadline = store.data().deadline;
    let instance = {
        let instantiate = pin!(compiled.pre.instantiate_async(&mut *store));
        bounded(
            &compiled.engine.settings().deadlines,
            deadline,
            kill,
            instantiate,
        )
        .await?
    };
    let indices = &compiled.exports;
    Ok(LoadedExports {
        handler: load(&indices.handler, store, &instance, |i, s, n| i.load(s, n))?,
        health: load(&indices.health, store, &instance, |i, s, n| i.load(s, n))?,
        lifecycle: load(&indices.lifecycle, store, &instance, |i, s, n| i.load(s, n))?,
        snapshot: load(&indices.snapshot, store, &instance, |i, s, n| i.load(s, n))?,
        job: load(&indices.job, store, &instance, |i, s, n| i.load(s, n))?,
        cli_run: load(&indices.cli_run, store, &instance, |i, s, n| i.load(s, n))?,
    })
}

/// Loads the export `indices` point at, when the component has it.
fn load<I, G>(
    indices: &Option<I>,
    store: &mut Store<StoreData>,
    instance: &wasmtime::component::Instance,
    load: impl Fn(&I, &mut Store<StoreData>, &wasmtime::component::Instance) -> wasmtime::Result<G>,
) -> wasmtime::Result<Option<G>> {
    indices
        .as_ref()
        .map(|indices| load(indices, store, instance))
        .transpose()
}

/// Instantiates `plugin` once in a throwaway store and loads (type-checks)
/// every export it has, without calling any.
pub(crate) async fn probe(compiled: &Compiled) -> wasmtime::Result<()> {
    // No memory or table limit here: a plugin's own limits (its manifest's)
    // are applied when it starts, and may be larger than the defaults.
    let limits = Limits::default()
        .memory_bytes(u64::MAX)
        .max_table_elements(u64::MAX);
    let mut store = new_store(
        &compiled.engine,
        Arc::from("(load check)"),
        &limits,
        (&Capabilities::default(), &Stdio::default()),
        StateView::default(),
        &Arc::default(),
    )
    .map_err(wasmtime::Error::msg)?;
    arm(&mut store, limits.call_timeout);
    load_exports(compiled, &mut store, None).await.map(drop)
}
