//! A plugin compiled, linked and checked for one engine: the cached
//! `InstancePre` every instance comes from, with the places of its exports
//! found once, and the load check that instantiates it once.

use std::pin::pin;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::{handler, health, job, lifecycle, snapshot};
use super::call::{KillSwitch, bounded};
use super::engine::Engine;
use super::store::{StoreData, arm, new_store};
use crate::spec::{Capabilities, Limits};
use crate::state::view::StateView;

/// A plugin compiled, linked and checked for one engine.
pub(crate) struct Compiled {
    pub(crate) engine: Engine,
    pub(crate) pre: InstancePre<StoreData>,
    pub(crate) exports: ExportIndices,
}

/// Where the plugin's exports live, found once at load time.
pub(crate) struct ExportIndices {
    pub(crate) handler: handler::GuestIndices,
    pub(crate) health: Option<health::GuestIndices>,
    pub(crate) lifecycle: Option<lifecycle::GuestIndices>,
    pub(crate) snapshot: Option<snapshot::GuestIndices>,
    pub(crate) job: Option<job::GuestIndices>,
}

/// The exports of one instance, loaded.
pub(crate) type LoadedExports = (
    handler::Guest,
    Option<health::Guest>,
    Option<lifecycle::Guest>,
    Option<snapshot::Guest>,
    Option<job::Guest>,
);

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
    let handler = indices.handler.load(&mut *store, &instance)?;
    let health = match &indices.health {
        Some(i) => Some(i.load(&mut *store, &instance)?),
        None => None,
    };
    let lifecycle = match &indices.lifecycle {
        Some(i) => Some(i.load(&mut *store, &instance)?),
        None => None,
    };
    let snapshot = match &indices.snapshot {
        Some(i) => Some(i.load(&mut *store, &instance)?),
        None => None,
    };
    let job = match &indices.job {
        Some(i) => Some(i.load(&mut *store, &instance)?),
        None => None,
    };
    Ok((handler, health, lifecycle, snapshot, job))
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
        &Capabilities::default(),
        StateView::default(),
        &Arc::default(),
    )
    .map_err(wasmtime::Error::msg)?;
    arm(&mut store, limits.call_timeout);
    load_exports(compiled, &mut store, None).await.map(drop)
}
