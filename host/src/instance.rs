//! One incarnation of an actor: a wasmtime `Store` and the component instance
//! in it.
//!
//! An [`Instance`] is owned by exactly one actor task and never shared. Every
//! guest call goes through [`Instance`]'s methods, which arm the call
//! deadline, run the export, and turn any trap into a [`CrashReason`]. Once a
//! call has trapped the instance is *poisoned*: the actor task drops it and
//! never enters it again.
//!
//! The store's data, [`ActorData`], is what host imports see: the WASI
//! context (nothing granted: no files, no network, no environment; stdout and
//! stderr go to the log), the actor's [`StateView`], the resource limiter and
//! the deadline of the call in progress.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreContextMut, Trap, UpdateDeadline};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::actor::ActorRef;
use crate::bindings::{actors, handler, health, job, lifecycle, log, snapshot, state};
use crate::capabilities::{Capabilities, HttpEgress};
use crate::engine::{EPOCH_TICK, Engine};
use crate::error::CallError;
use crate::error::{CrashReason, millis};
use crate::guest_io::{GuestOutput, Stream};
use crate::health::HealthStatus;
use crate::limits::Limits;
use crate::loader::Compiled;
use crate::registry::Registry;
use crate::state::view::StateView;
use crate::state::{Changes, CommittedState};

/// The data of an actor's store: everything host imports can reach.
pub(crate) struct ActorData {
    actor: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_egress: HttpEgress,
    table: ResourceTable,
    state: StateView,
    limiter: Limiter,
    deadline: Option<Instant>,
    /// The engine's WebAssembly stack size, to name it when it overflows.
    stack_bytes: u64,
    max_key_bytes: u64,
    max_value_bytes: u64,
    max_state_bytes: u64,
    /// The fuel each call gets, when the engine meters fuel.
    fuel: Option<u64>,
    /// For real-time waits in host imports.
    engine: Engine,
    /// Where other actors are found, for the `actors` import.
    registry: Option<Arc<Registry>>,
    stderr: GuestOutput,
    /// Counts this store among the host's live instances until it drops.
    _counted: Option<CountedInstance>,
}

/// How many instances (stores) of a host exist: with every actor settled,
/// one per running actor. More would be a store leaked by some path.
#[derive(Clone, Default)]
pub(crate) struct InstanceCount(Arc<AtomicU64>);

impl InstanceCount {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn enter(&self) -> CountedInstance {
        self.0.fetch_add(1, Ordering::Relaxed);
        CountedInstance(self.0.clone())
    }
}

/// One instance of an [`InstanceCount`], uncounted when dropped.
struct CountedInstance(Arc<AtomicU64>);

impl Drop for CountedInstance {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WasiView for ActorData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ActorData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_egress,
        }
    }
}

impl state::Host for ActorData {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.get(&key).map(<[u8]>::to_vec)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), state::StateError> {
        if key.is_empty() || key.len() as u64 > self.max_key_bytes {
            return Err(state::StateError::InvalidKey(self.max_key_bytes));
        }
        if value.len() as u64 > self.max_value_bytes {
            return Err(state::StateError::ValueTooLarge(self.max_value_bytes));
        }
        if self.state.bytes_after_set(&key, value.len()) > self.max_state_bytes {
            return Err(state::StateError::QuotaExceeded(self.max_state_bytes));
        }
        self.state.set(key, value);
        Ok(())
    }

    fn delete(&mut self, key: String) {
        self.state.delete(key);
    }

    fn list_keys(&mut self, prefix: String) -> Vec<String> {
        self.state.keys_with_prefix(&prefix)
    }
}

impl actors::Host for ActorData {
    async fn call(
        &mut self,
        name: String,
        message: Vec<u8>,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, actors::CallError> {
        let target = self.find(&name)?;
        // Never wait past this guest call's own deadline.
        let requested = Duration::from_millis(u64::from(timeout_ms));
        let left = self.deadline.map_or(requested, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let wait = requested.min(left);
        // In real time, like every guest deadline (a paused test clock must
        // not fire it early).
        let expired = self.engine.wait_until(Instant::now() + wait);
        tokio::select! {
            biased;
            answer = target.call_queued(message) => answer.map_err(to_wit_error),
            () = expired => Err(actors::CallError::Timeout(
                u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
            )),
        }
    }

    async fn cast(&mut self, name: String, message: Vec<u8>) -> Result<(), actors::CallError> {
        self.find(&name)?.try_cast(message).map_err(to_wit_error)
    }
}

impl ActorData {
    fn find(&self, name: &str) -> Result<ActorRef, actors::CallError> {
        self.registry
            .as_ref()
            .and_then(|registry| registry.get(name))
            .ok_or_else(|| actors::CallError::NotFound(format!("no actor named `{name}`")))
    }
}

fn to_wit_error(error: CallError) -> actors::CallError {
    let text = error.to_string();
    match error {
        CallError::NotFound(_) => actors::CallError::NotFound(text),
        CallError::Crashed { .. } | CallError::StateCommit { .. } => {
            actors::CallError::Crashed(text)
        }
        CallError::Rejected { reason, .. } => actors::CallError::Rejected(reason),
        CallError::MailboxFull { .. } => actors::CallError::MailboxFull(text),
        CallError::Stopped { .. } => actors::CallError::Stopped(text),
        CallError::DeadLettered { .. } => actors::CallError::Crashed(text),
    }
}

impl log::Host for ActorData {
    fn log(&mut self, level: log::Level, message: String) {
        let actor = &*self.actor;
        match level {
            log::Level::Trace => tracing::trace!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Debug => tracing::debug!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Info => tracing::info!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Warn => tracing::warn!(target: "wasmvisor::guest", actor, "{message}"),
            log::Level::Error => tracing::error!(target: "wasmvisor::guest", actor, "{message}"),
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

/// The trap raised when a guest grows its memory past the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit_bytes} bytes exceeded")]
struct MemoryLimitExceeded {
    limit_bytes: u64,
}

/// The trap raised when a guest grows a table past the limit.
#[derive(Debug, thiserror::Error)]
#[error("table limit of {limit_elements} elements exceeded")]
struct TableLimitExceeded {
    limit_elements: u64,
}

/// The trap raised when the supervisor kills the instance mid-call.
#[derive(Debug, thiserror::Error)]
#[error("killed by its supervisor")]
struct Killed;

/// The trap raised when a call runs past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

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

/// A live instance of a plugin, with the exports it has.
pub(crate) struct Instance {
    store: Store<ActorData>,
    handler: handler::Guest,
    health: Option<health::Guest>,
    lifecycle: Option<lifecycle::Guest>,
    snapshot: Option<snapshot::Guest>,
    job: Option<job::Guest>,
    call_timeout: Duration,
    engine: Engine,
    kill: Arc<KillSwitch>,
}

/// Why an instance could not be started.
#[derive(Debug)]
pub(crate) enum StartError {
    /// Instantiation, `init` or `restore` trapped.
    Crashed(CrashReason),
    /// `init` returned an error.
    Init(String),
    /// `restore` rejected the saved snapshot.
    Restore(String),
    /// A capability could not be granted (a directory that does not exist).
    Capabilities(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Crashed(reason) => write!(f, "{reason}"),
            StartError::Init(reason) => write!(f, "`init` failed: {reason}"),
            StartError::Restore(reason) => {
                write!(f, "`restore` rejected the saved snapshot: {reason}")
            }
            StartError::Capabilities(reason) => write!(f, "{reason}"),
        }
    }
}

/// What the actor needs to start an instance.
pub(crate) struct StartParams<'a> {
    pub(crate) compiled: &'a Compiled,
    pub(crate) kill: &'a Arc<KillSwitch>,
    /// Where the instance's memory size is reported.
    pub(crate) memory_gauge: &'a Arc<AtomicU64>,
    /// Where the size of the committed state is reported.
    pub(crate) state_gauge: &'a Arc<AtomicU64>,
    /// The host's count of live instances, which this one joins.
    pub(crate) instances: &'a InstanceCount,
    pub(crate) actor: &'a Arc<str>,
    pub(crate) limits: &'a Limits,
    pub(crate) config: &'a [(String, String)],
    pub(crate) capabilities: &'a Capabilities,
    pub(crate) registry: &'a Arc<Registry>,
    pub(crate) committed: CommittedState,
}

impl Instance {
    /// Instantiates the plugin with `committed` as its state, then calls
    /// `init` (with the config) and `restore` (with the saved snapshot) when
    /// the plugin exports them.
    pub(crate) async fn start(params: StartParams<'_>) -> Result<Instance, StartError> {
        let snapshot_data = params.committed.snapshot.clone();
        let engine = &params.compiled.engine;
        let mut store = new_store(
            engine,
            params.actor.clone(),
            params.limits,
            params.capabilities,
            StateView::new(params.committed).reporting_size_to(params.state_gauge),
            params.memory_gauge,
        )
        .map_err(StartError::Capabilities)?;
        store.data_mut().registry = Some(params.registry.clone());
        store.data_mut()._counted = Some(params.instances.enter());
        let call_timeout = params.limits.call_timeout;
        let crash = |store: &Store<ActorData>, error| {
            StartError::Crashed(classify(error, store.data(), call_timeout))
        };

        arm(&mut store, call_timeout);
        let loaded = load_exports(params.compiled, &mut store, Some(params.kill)).await;
        disarm(&mut store);
        let mut instance = match loaded {
            Ok(exports) => Instance {
                store,
                handler: exports.0,
                health: exports.1,
                lifecycle: exports.2,
                snapshot: exports.3,
                job: exports.4,
                call_timeout,
                engine: engine.clone(),
                kill: params.kill.clone(),
            },
            Err(error) => return Err(crash(&store, error)),
        };

        if let Some(lifecycle) = instance.lifecycle.clone() {
            let config = params.config.to_vec();
            instance.arm();
            let deadline = instance.deadline();
            let result = {
                let call = pin!(lifecycle.call_init(&mut instance.store, &config));
                bounded(engine, deadline, Some(params.kill), call).await
            };
            instance.disarm();
            match result {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(StartError::Init(reason)),
                Err(error) => return Err(crash(&instance.store, error)),
            }
        }
        if let (Some(snapshot), Some(data)) = (instance.snapshot.clone(), snapshot_data) {
            instance.arm();
            let deadline = instance.deadline();
            let result = {
                let call = pin!(snapshot.call_restore(&mut instance.store, &data));
                bounded(engine, deadline, Some(params.kill), call).await
            };
            instance.disarm();
            match result {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(StartError::Restore(reason)),
                Err(error) => return Err(crash(&instance.store, error)),
            }
        }
        Ok(instance)
    }

    /// Handles one message. `Ok(Err(reason))` is the plugin's own error
    /// reply; `Err(crash)` means the instance is poisoned.
    pub(crate) async fn handle(
        &mut self,
        message: &[u8],
    ) -> Result<Result<Vec<u8>, String>, CrashReason> {
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(self.handler.call_handle(&mut self.store, message));
            bounded(&self.engine, deadline, Some(&self.kill), call).await
        };
        self.finish(result)
    }

    /// Runs the health check, if the plugin exports one.
    pub(crate) async fn check_health(&mut self) -> Option<Result<HealthStatus, CrashReason>> {
        let health = self.health.clone()?;
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(health.call_check(&mut self.store));
            bounded(&self.engine, deadline, Some(&self.kill), call).await
        };
        Some(self.finish(result).map(HealthStatus::from))
    }

    /// Takes a snapshot into the pending changes, if the plugin exports
    /// `snapshot`.
    pub(crate) async fn take_snapshot(&mut self) -> Result<(), CrashReason> {
        let Some(snapshot) = self.snapshot.clone() else {
            return Ok(());
        };
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(snapshot.call_snapshot(&mut self.store));
            bounded(&self.engine, deadline, Some(&self.kill), call).await
        };
        let data = self.finish(result)?;
        self.store.data_mut().state.set_snapshot(data);
        Ok(())
    }

    /// Runs the job, if the plugin exports `job`.
    pub(crate) async fn run_job(&mut self) -> Option<Result<Result<(), String>, CrashReason>> {
        let job = self.job.clone()?;
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(job.call_run(&mut self.store));
            bounded(&self.engine, deadline, Some(&self.kill), call).await
        };
        Some(self.finish(result))
    }

    /// Calls the `shutdown` hook, if exported, within `timeout`.
    pub(crate) async fn shutdown(&mut self, timeout: Duration) -> Result<(), CrashReason> {
        let Some(lifecycle) = self.lifecycle.clone() else {
            return Ok(());
        };
        self.arm_for(timeout);
        let deadline = self.deadline();
        let result = {
            let call = pin!(lifecycle.call_shutdown(&mut self.store));
            bounded(&self.engine, deadline, Some(&self.kill), call).await
        };
        self.finish(result)
    }

    pub(crate) fn has_health_check(&self) -> bool {
        self.health.is_some()
    }

    pub(crate) fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    pub(crate) fn has_job(&self) -> bool {
        self.job.is_some()
    }

    /// The pending state changes of the call that just succeeded.
    pub(crate) fn take_changes(&mut self) -> Changes {
        self.store.data_mut().state.take_changes()
    }

    /// Records a successful commit.
    pub(crate) fn committed_as(&mut self, changes: Changes, version: u64) {
        self.store.data_mut().state.committed_as(changes, version);
    }

    /// Drops the pending state changes.
    pub(crate) fn discard_changes(&mut self) {
        self.store.data_mut().state.discard();
    }

    fn arm(&mut self) {
        arm(&mut self.store, self.call_timeout);
    }

    /// The deadline of the call in progress.
    fn deadline(&self) -> Option<Instant> {
        self.store.data().deadline
    }

    fn arm_for(&mut self, timeout: Duration) {
        arm(&mut self.store, timeout);
    }

    fn disarm(&mut self) {
        disarm(&mut self.store);
    }

    fn finish<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, CrashReason> {
        self.disarm();
        result.map_err(|error| classify(error, self.store.data(), self.call_timeout))
    }
}

type LoadedExports = (
    handler::Guest,
    Option<health::Guest>,
    Option<lifecycle::Guest>,
    Option<snapshot::Guest>,
    Option<job::Guest>,
);

async fn load_exports(
    compiled: &Compiled,
    store: &mut Store<ActorData>,
    kill: Option<&KillSwitch>,
) -> wasmtime::Result<LoadedExports> {
    let deadline = store.data().deadline;
    let instance = {
        let instantiate = pin!(compiled.pre.instantiate_async(&mut *store));
        bounded(&compiled.engine, deadline, kill, instantiate).await?
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

fn new_store(
    engine: &Engine,
    actor: Arc<str>,
    limits: &Limits,
    capabilities: &Capabilities,
    state: StateView,
    memory_gauge: &Arc<AtomicU64>,
) -> Result<Store<ActorData>, String> {
    let stderr = GuestOutput::new(actor.clone(), Stream::Stderr);
    // Only what `capabilities` grants: by default no directories, no
    // environment, no arguments, no sockets. Clocks and random always work.
    let mut builder = WasiCtx::builder();
    builder
        .stdout(GuestOutput::new(actor.clone(), Stream::Stdout))
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    capabilities.apply(&mut builder, &actor)?;
    let wasi = builder.build();
    let data = ActorData {
        http_egress: capabilities.http_egress(&actor)?,
        http: WasiHttpCtx::new(),
        actor,
        wasi,
        table: ResourceTable::new(),
        state,
        limiter: Limiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.max_table_elements,
            memory_gauge: memory_gauge.clone(),
        },
        deadline: None,
        stack_bytes: engine.stack_bytes() as u64,
        max_key_bytes: limits.max_key_bytes,
        max_value_bytes: limits.max_value_bytes,
        max_state_bytes: limits.max_state_bytes,
        fuel: engine
            .fuel_metering()
            .then(|| limits.fuel_per_call.unwrap_or(u64::MAX)),
        registry: None,
        engine: engine.clone(),
        stderr,
        _counted: None,
    };
    let mut store = Store::new(engine.wasmtime(), data);
    store.limiter(|data| &mut data.limiter);
    store.epoch_deadline_callback(on_epoch);
    Ok(store)
}

/// Runs a guest call, but never past `deadline`, even when the guest waits
/// in a host call (a WASI sleep, a pollable) where the epoch check cannot
/// reach it. Running out of time is a `DeadlineExceeded` trap; the call is
/// abandoned, and its instance must not be entered again (it never is: a
/// trap discards the instance). The wait is in real time, watched by the
/// engine's ticker thread, so a paused tokio clock cannot fire it early.
///
/// The call comes pinned where its caller made it: a guest call's future is
/// over a kilobyte, and taken by value it was copied twice per message
/// (into this future, then into the `select!`).
async fn bounded<T>(
    engine: &Engine,
    deadline: Option<Instant>,
    kill: Option<&KillSwitch>,
    call: Pin<&mut impl Future<Output = wasmtime::Result<T>>>,
) -> wasmtime::Result<T> {
    let killed = async {
        match kill {
            Some(kill) => kill.triggered().await,
            None => std::future::pending().await,
        }
    };
    let expired = async {
        match deadline {
            // A little after the epoch check, which reports a running guest itself.
            Some(deadline) => engine.wait_until(deadline + 2 * EPOCH_TICK).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        result = call => result,
        () = expired => Err(wasmtime::Error::new(DeadlineExceeded)),
        () = killed => Err(wasmtime::Error::new(Killed)),
    }
}

/// Lets a supervisor cut off its child's guest call at once: a brutal
/// kill, or a shutdown timeout that ran out while a message, health check
/// or `shutdown` call was still running. Shared by the supervisor and the
/// actor task; armed until the next instance starts.
#[derive(Default)]
pub(crate) struct KillSwitch {
    killed: AtomicBool,
    notify: Notify,
}

impl KillSwitch {
    /// Interrupts the guest call in progress (and any later one) with a
    /// [`CrashReason::Killed`].
    pub(crate) fn trigger(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Disarms the switch for a new instance.
    pub(crate) fn reset(&self) {
        self.killed.store(false, Ordering::SeqCst);
    }

    pub(crate) fn is_triggered(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Completes once the switch is triggered.
    pub(crate) async fn triggered(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a trigger in between is not missed.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}

/// Called whenever the epoch advances while the guest runs: interrupt the
/// call if its deadline has passed, otherwise let other tasks run a little.
fn on_epoch(store: StoreContextMut<'_, ActorData>) -> wasmtime::Result<UpdateDeadline> {
    match store.data().deadline {
        Some(deadline) if Instant::now() >= deadline => Err(wasmtime::Error::new(DeadlineExceeded)),
        _ => Ok(UpdateDeadline::Yield(1)),
    }
}

fn arm(store: &mut Store<ActorData>, timeout: Duration) {
    let data = store.data_mut();
    data.deadline = Some(Instant::now() + timeout);
    data.stderr.clear_recent();
    if let Some(fuel) = data.fuel {
        // Fails only when the engine does not meter fuel, which `fuel` rules out.
        let _ = store.set_fuel(fuel);
    }
    store.set_epoch_deadline(1);
}

fn disarm(store: &mut Store<ActorData>) {
    store.data_mut().deadline = None;
}

/// Turns a trap (or a fatal host error) into the reason reported for the crash.
fn classify(error: wasmtime::Error, data: &ActorData, call_timeout: Duration) -> CrashReason {
    if error.is::<Killed>() {
        return CrashReason::Killed;
    }
    if error.is::<DeadlineExceeded>() {
        return CrashReason::DeadlineExceeded {
            limit_ms: millis(call_timeout),
        };
    }
    if let Some(limit) = error.downcast_ref::<MemoryLimitExceeded>() {
        return CrashReason::MemoryLimit {
            limit_bytes: limit.limit_bytes,
        };
    }
    if let Some(limit) = error.downcast_ref::<TableLimitExceeded>() {
        return CrashReason::TableLimit {
            limit_elements: limit.limit_elements,
        };
    }
    if let Some(full) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return CrashReason::Trap(format!(
            "the instance pool is full ({full}): give the host more slots \
             (`HostBuilder::instance_pool`, `wasmvisor run --instance-pool`)"
        ));
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return CrashReason::Exit(exit.0);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => match data.stderr.panic_message() {
            Some(message) => CrashReason::Panic(message),
            None => CrashReason::Unreachable,
        },
        Some(Trap::StackOverflow) => CrashReason::StackOverflow {
            limit_bytes: data.stack_bytes,
        },
        Some(Trap::MemoryOutOfBounds | Trap::TableOutOfBounds | Trap::HeapMisaligned) => {
            CrashReason::OutOfBounds
        }
        Some(Trap::OutOfFuel) => CrashReason::FuelExhausted {
            limit: data.fuel.unwrap_or(u64::MAX),
        },
        Some(Trap::Interrupt) => CrashReason::DeadlineExceeded {
            limit_ms: millis(call_timeout),
        },
        Some(trap) => CrashReason::Trap(trap.to_string()),
        None => CrashReason::Trap(format!("{error:#}")),
    }
}
