//! The data of one instance's store: everything the host's imports reach,
//! and the limits and deadline wasmtime checks while the guest runs.
//!
//! [`StoreData`] hands each import the view it needs (see `imports`): the
//! WASI context (only what the capabilities grant; see `sandbox`), the
//! `wasi:http` hooks, the actor's [`StateView`], its name for logging, and
//! the other actors with the call's deadline. It also holds the resource
//! limiter and the deadline of the call in progress, which the epoch
//! callback checks whenever the epoch advances (see `clock`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::clock::Deadlines;
use super::engine::Engine;
use super::guest_io::{GuestOutput, Kept};
use super::imports::actors::{ActorsCtxView, ActorsImportView, Peers};
use super::imports::exit::{ExitCtxView, ExitImportView, ExitRequest};
use super::imports::http::HttpEgress;
use super::imports::log::{LogCtxView, LogImportView};
use super::imports::state::{StateCtxView, StateImportView, StateLimits};
use super::sandbox;
use super::traps::{DeadlineExceeded, MemoryLimitExceeded, TableLimitExceeded};
use crate::spec::{Capabilities, Limits, Stdio};
use crate::state::view::StateView;

/// The data of an instance's store.
pub(crate) struct StoreData {
    actor: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_egress: HttpEgress,
    table: ResourceTable,
    pub(crate) state: StateView,
    state_limits: StateLimits,
    limiter: Limiter,
    /// The deadline of the guest call in progress.
    pub(crate) deadline: Option<Instant>,
    /// The engine's WebAssembly stack size, to name it when it overflows.
    pub(crate) stack_bytes: u64,
    /// The fuel each call gets, when the engine meters fuel.
    pub(crate) fuel: Option<u64>,
    /// For real-time waits in host imports.
    deadlines: Arc<Deadlines>,
    /// The other actors, for the `actors` import (none for a load check).
    pub(crate) peers: Option<Arc<dyn Peers>>,
    pub(crate) stderr: GuestOutput,
    /// The output kept in memory (stdout's, stderr's), where [`Stdio`]
    /// keeps it.
    pub(crate) kept: (Option<Arc<Kept>>, Option<Arc<Kept>>),
    /// Counts this store among the host's live instances until it drops.
    pub(crate) counted: Option<CountedInstance>,
    /// What the plugin asked through the `exit` import, not yet acted on.
    pub(crate) exit: Option<ExitRequest>,
    /// Whether the instance is starting (`init`, `restore`): the only time
    /// `exit.ignore` may be asked.
    pub(crate) starting: bool,
}

/// How many instances (stores) of a host exist: with every actor settled,
/// one per running actor. More would be a store leaked by some path.
#[derive(Clone, Default)]
pub(crate) struct InstanceCount(Arc<AtomicU64>);

impl InstanceCount {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn enter(&self) -> CountedInstance {
        self.0.fetch_add(1, Ordering::Relaxed);
        CountedInstance(self.0.clone())
    }
}

/// One instance of an [`InstanceCount`], uncounted when dropped.
pub(crate) struct CountedInstance(Arc<AtomicU64>);

impl Drop for CountedInstance {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_egress,
        }
    }
}

impl StateImportView for StoreData {
    fn state(&mut self) -> StateCtxView<'_> {
        StateCtxView {
            view: &mut self.state,
            limits: self.state_limits,
        }
    }
}

impl LogImportView for StoreData {
    fn log(&mut self) -> LogCtxView<'_> {
        LogCtxView { actor: &self.actor }
    }
}

impl ExitImportView for StoreData {
    fn exit(&mut self) -> ExitCtxView<'_> {
        ExitCtxView {
            request: &mut self.exit,
            starting: self.starting,
        }
    }
}

impl ActorsImportView for StoreData {
    fn actors(&mut self) -> ActorsCtxView<'_> {
        ActorsCtxView {
            peers: self.peers.as_ref(),
            deadline: self.deadline,
            deadlines: &self.deadlines,
        }
    }
}

/// Refuses memory or table growth past the actor's limits with a trap that
/// says so.
struct Limiter {
    memory_bytes: u64,
    table_elements: u64,
    /// The size the memory grew to, for listings and metrics.
    memory_gauge: Arc<AtomicU64>,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_bytes: self.memory_bytes,
            }));
        }
        self.memory_gauge.store(desired as u64, Ordering::Relaxed);
        Ok(true)
    }

    // Also called for each table's initial size when an instance is created.
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.table_elements {
            return Err(wasmtime::Error::new(TableLimitExceeded {
                limit_elements: self.table_elements,
            }));
        }
        Ok(true)
    }
}

/// A new store on `engine` for an instance of `actor`, with its limits,
/// capabilities and stdio, seeing `state`; its memory size is reported to
/// `memory_gauge`.
///
/// # Errors
///
/// A capability that cannot be granted (a directory that does not exist),
/// or a stdio file that cannot be opened.
pub(crate) fn new_store(
    engine: &Engine,
    actor: Arc<str>,
    limits: &Limits,
    (capabilities, stdio): (&Capabilities, &Stdio),
    state: StateView,
    memory_gauge: &Arc<AtomicU64>,
) -> Result<Store<StoreData>, String> {
    let streams = sandbox::streams(&actor, stdio)?;
    let wasi = sandbox::wasi_ctx(&actor, capabilities, &stdio.args, &streams)?;
    let stderr = streams.stderr;
    let kept = streams.kept;
    let settings = engine.settings();
    let data = StoreData {
        http_egress: sandbox::http_egress(&actor, capabilities)?,
        http: WasiHttpCtx::new(),
        actor,
        wasi,
        table: ResourceTable::new(),
        state,
        state_limits: StateLimits {
            max_key_bytes: limits.max_key_bytes,
            max_value_bytes: limits.max_value_bytes,
            max_state_bytes: limits.max_state_bytes,
        },
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.max_table_elements,
            memory_gauge: memory_gauge.clone(),
        },
        deadline: None,
        stack_bytes: engine.stack_bytes() as u64,
        fuel: settings
            .fuel_metering
            .then(|| limits.fuel_per_call.unwrap_or(u64::MAX)),
        deadlines: settings.deadlines.clone(),
        peers: None,
        stderr,
        kept,
        counted: None,
        exit: None,
        starting: false,
    };
    let mut store = Store::new(engine.wasmtime(), data);
    store.limiter(|data| &mut data.limiter);
    store.epoch_deadline_callback(on_epoch);
    Ok(store)
}

/// Called whenever the epoch advances while the guest runs: interrupt the
/// call if its deadline has passed, otherwise let other tasks run a little.
fn on_epoch(store: StoreContextMut<'_, StoreData>) -> wasmtime::Result<UpdateDeadline> {
    match store.data().deadline {
        Some(deadline) if Instant::now() >= deadline => Err(wasmtime::Error::new(DeadlineExceeded)),
        _ => Ok(UpdateDeadline::Yield(1)),
    }
}

/// Arms the store for a guest call of at most `timeout`: its deadline, a
/// fresh fuel allowance, and the output of this call only kept for a crash
/// report.
pub(crate) fn arm(store: &mut Store<StoreData>, timeout: Duration) {
    let data = store.data_mut();
    data.deadline = Some(Instant::now() + timeout);
    data.stderr.clear_recent();
    if let Some(fuel) = data.fuel {
        // Fails only when the engine does not meter fuel, which `fuel` rules out.
        let _ = store.set_fuel(fuel);
    }
    store.set_epoch_deadline(1);
}

/// Ends the call's deadline.
pub(crate) fn disarm(store: &mut Store<StoreData>) {
    store.data_mut().deadline = None;
}
