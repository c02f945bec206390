//! The wasmtime engines shared by every actor of a host, and their epoch
//! ticker.
//!
//! An [`Engine`] compiles components and owns a [`Linker`] with the host's
//! imports (WASI 0.2, `wasi:http` and the `wasmvisor:plugin` interfaces). A
//! background thread advances every engine's epoch every [`EPOCH_TICK`];
//! each store checks its call deadline whenever the epoch moves (see
//! `instance`), which is how a guest that never returns is cut off without
//! any cost on the fast path.
//!
//! wasmtime fixes the WebAssembly stack size per engine, not per store, so
//! a host keeps a small family of [`Engines`]: the default one, and one more
//! for each other stack size some plugin's limits ask for (created on first
//! use). Their compiled code is not interchangeable, so a plugin is compiled
//! once for each engine it runs on (see `loader`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};

use crate::instance::ActorData;
use crate::limits::Limits;

/// How often the epoch advances: the granularity of call deadlines, and how
/// often a long-running guest yields its thread to other tasks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How much larger than the WebAssembly stack the fiber a guest runs on is:
/// the room host functions called by the guest need (wasmtime's default
/// margin between `max_wasm_stack` and `async_stack_size`).
const HOST_STACK_MARGIN: usize = 1536 << 10;

/// Locks a mutex whose data stays consistent even if a holder panicked
/// (every critical section here is a single insert, push or retain).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A host's engines: one per WebAssembly stack size in use. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Engines {
    shared: Arc<Shared>,
    by_stack: Arc<Mutex<BTreeMap<usize, Engine>>>,
    default: Engine,
}

/// What every engine of a family shares.
struct Shared {
    fuel_metering: bool,
    /// Room for this many instances at once in each engine's pool; `None`
    /// allocates every instance on demand.
    instance_pool: Option<u32>,
    /// The address space reserved for each linear memory; `None` keeps
    /// wasmtime's 4 GiB (see [`Engines::new`]).
    memory_reservation: Option<u64>,
    /// Where compiled code is cached on disk, if anywhere.
    compile_cache: Option<wasmtime::Cache>,
    deadlines: Arc<Deadlines>,
    ticked: Arc<Mutex<Vec<wasmtime::Engine>>>,
    _ticker: EpochTicker,
}

impl Engines {
    /// Builds the default engine and starts the epoch ticker thread (stopped
    /// when the last engine is dropped). With `fuel_metering`, compiled code
    /// counts fuel, so that a per-call fuel limit can be set (at some cost in
    /// speed for every guest).
    ///
    /// With `compile_cache`, compiled components are kept in that directory,
    /// keyed by their bytes and the engine's settings (wasmtime's cache: an
    /// entry that does not match, or does not decode, is compiled again and
    /// replaced).
    ///
    /// With `instance_pool`, each engine allocates instances from a pool of
    /// that many slots (see [`instance_pool`]).
    ///
    /// With `memory_reservation`, each linear memory reserves that much
    /// address space instead of 4 GiB: compiled code then checks the bounds
    /// of every memory access (the 4 GiB reservation and its guard are what
    /// let it skip them), and a pool's memory slots are that large, which
    /// also caps how far a pooled memory can grow.
    pub(crate) fn new(
        fuel_metering: bool,
        compile_cache: Option<&std::path::Path>,
        instance_pool: Option<u32>,
        memory_reservation: Option<u64>,
    ) -> anyhow::Result<Self> {
        let compile_cache = match compile_cache {
            Some(dir) => {
                // wasmtime wants an absolute path; a relative one is the
                // caller's working directory's.
                let dir = std::path::absolute(dir)?;
                let mut config = wasmtime::CacheConfig::new();
                config.with_directory(dir);
                Some(wasmtime::Cache::new(config)?)
            }
            None => None,
        };
        let deadlines = Arc::new(Deadlines::default());
        let ticked = Arc::new(Mutex::new(Vec::new()));
        let ticker = EpochTicker::start(ticked.clone(), deadlines.clone())?;
        let shared = Arc::new(Shared {
            fuel_metering,
            instance_pool,
            memory_reservation,
            compile_cache,
            deadlines,
            ticked,
            _ticker: ticker,
        });
        let stack = Limits::default().wasm_stack_bytes;
        let default = Engine::new(shared.clone(), stack)?;
        Ok(Engines {
            shared,
            by_stack: Arc::new(Mutex::new(BTreeMap::from([(stack, default.clone())]))),
            default,
        })
    }

    /// The engine plugins are compiled with when they are loaded.
    pub(crate) fn default_engine(&self) -> &Engine {
        &self.default
    }

    /// The engine whose guests get `stack_bytes` of WebAssembly stack,
    /// created on first use.
    pub(crate) fn for_stack(&self, stack_bytes: usize) -> anyhow::Result<Engine> {
        let mut engines = lock(&self.by_stack);
        if let Some(engine) = engines.get(&stack_bytes) {
            return Ok(engine.clone());
        }
        let engine = Engine::new(self.shared.clone(), stack_bytes)?;
        engines.insert(stack_bytes, engine.clone());
        Ok(engine)
    }

    pub(crate) fn fuel_metering(&self) -> bool {
        self.shared.fuel_metering
    }

    /// The most linear memory one instance can have, in bytes, when the
    /// host's settings cap it: with an instance pool and a memory
    /// reservation, a memory cannot outgrow its slot.
    pub(crate) fn memory_ceiling(&self) -> Option<u64> {
        self.shared.instance_pool?;
        self.shared.memory_reservation?;
        Some(pooled_memory_bytes(self.shared.memory_reservation))
    }

    /// Whether `engine` is one of this family's.
    pub(crate) fn owns(&self, engine: &Engine) -> bool {
        Arc::ptr_eq(&self.shared, &engine.inner.shared)
    }
}

/// One compilation configuration of a host. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    stack_bytes: usize,
    linker: Linker<ActorData>,
    shared: Arc<Shared>,
}

impl Engine {
    fn new(shared: Arc<Shared>, stack_bytes: usize) -> anyhow::Result<Self> {
        let mut config = wasmtime_config(
            shared.instance_pool,
            shared.memory_reservation,
            shared.fuel_metering,
            stack_bytes,
        );
        config.cache(shared.compile_cache.clone());
        let wasmtime = wasmtime::Engine::new(&config)?;

        let mut linker = Linker::new(&wasmtime);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::FullPlugin::add_to_linker::<ActorData, HasSelf<ActorData>>(
            &mut linker,
            |data| data,
        )?;

        lock(&shared.ticked).push(wasmtime.clone());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                stack_bytes,
                linker,
                shared,
            }),
        })
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    /// The WebAssembly stack this engine's guests get, in bytes.
    pub(crate) fn stack_bytes(&self) -> usize {
        self.inner.stack_bytes
    }

    /// Completes at `deadline`, in real time, even when tokio's clock is
    /// paused (tests) and even while the caller is blocked in a host call.
    pub(crate) fn wait_until(&self, deadline: Instant) -> DeadlineReached {
        DeadlineReached {
            deadlines: self.inner.shared.deadlines.clone(),
            deadline,
            slot: None,
        }
    }

    pub(crate) fn fuel_metering(&self) -> bool {
        self.inner.shared.fuel_metering
    }

    pub(crate) fn linker(&self) -> &Linker<ActorData> {
        &self.inner.linker
    }

    /// Whether two handles are the same engine.
    pub(crate) fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The wasmtime settings of an engine: the host's (`instance_pool`,
/// `memory_reservation`, `fuel_metering`) and a stack of `stack_bytes` for
/// guests, with the host's own calls' margin on top.
pub(crate) fn wasmtime_config(
    instance_pool_slots: Option<u32>,
    memory_reservation: Option<u64>,
    fuel_metering: bool,
    stack_bytes: usize,
) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Plugins target WASI 0.2, which has no component-model async: without
    // the structures for concurrent guests, every call takes wasmtime's
    // direct path (see docs/benchmarks.md for what it bought).
    config.concurrency_support(false);
    if let Some(bytes) = memory_reservation {
        config.memory_reservation(bytes);
    }
    if let Some(slots) = instance_pool_slots {
        config.allocation_strategy(instance_pool(slots, memory_reservation));
    }
    config.consume_fuel(fuel_metering);
    config.max_wasm_stack(stack_bytes);
    config.async_stack_size(stack_bytes + HOST_STACK_MARGIN);
    config
}

/// wasmtime's pooling allocator with room for `slots` plugin instances at
/// once: memories, tables, instance data and fiber stacks are reserved
/// once, when the engine is made, and a slot is reused (reset, its memory
/// image kept mapped) rather than mapped and unmapped again for every
/// instance. That makes a restart faster and keeps the process's count of
/// memory mappings low (Linux caps it at `vm.max_map_count`, 65,530 by
/// default), at the cost of reserving about 4 GiB of address space per
/// slot up front (not memory: nothing is committed until used).
///
/// A slot is taken by each running instance, and for a moment by each
/// plugin load check and hot-upgrade candidate; an instance that finds the
/// pool full fails to start, saying so.
///
/// With a `memory_reservation`, each memory slot is that large instead of
/// 4 GiB, and no memory grows past it.
fn instance_pool(slots: u32, memory_reservation: Option<u64>) -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    // A component is several core instances (the plugin's module and the
    // small adapter modules the component model adds), each with a table
    // or two; a component with one memory is the usual case.
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(16))
        .total_memories(slots)
        .total_tables(slots.saturating_mul(16))
        .total_stacks(slots)
        .max_tables_per_module(8)
        .max_memories_per_module(1)
        // The actor's own limits (`Limits`) bound memories and tables; the
        // pool only has to be as large as WebAssembly allows, or as the
        // reservation, which wasmtime's slots cannot exceed.
        .max_memory_size(
            usize::try_from(pooled_memory_bytes(memory_reservation)).unwrap_or(usize::MAX),
        )
        .table_elements(MAX_POOLED_TABLE_ELEMENTS)
        // A freed slot is reset in place: the pages its instance wrote (up
        // to these sizes) are found with Linux's `PAGEMAP_SCAN` (6.7 and
        // later) and set back to their image, instead of being handed back
        // to the kernel with `madvise`, which on a multi-threaded process
        // interrupts every core to flush its TLB. The restart's next
        // instance then takes the slot without page faults. A freed slot
        // stays resident up to these sizes (only the pages written, with
        // `PAGEMAP_SCAN`).
        .linear_memory_keep_resident(POOL_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(POOL_TABLE_KEEP_RESIDENT)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}

/// How much of a freed pool slot's linear memory is reset in place
/// (see [`instance_pool`]): a small guest's written pages fit.
const POOL_MEMORY_KEEP_RESIDENT: usize = 64 << 10;

/// How much of a freed pool slot's tables is reset in place.
const POOL_TABLE_KEEP_RESIDENT: usize = 16 << 10;

/// The largest memory a pool slot holds: a 32-bit memory's 4 GiB, or the
/// memory reservation if that is smaller (wasmtime's slots cannot exceed it).
fn pooled_memory_bytes(memory_reservation: Option<u64>) -> u64 {
    const MAX_32_BIT_MEMORY: u64 = 1 << 32;
    memory_reservation.map_or(MAX_32_BIT_MEMORY, |bytes| bytes.min(MAX_32_BIT_MEMORY))
}

/// The largest table a pooled instance may have: the room the pool
/// reserves for each table (8 bytes an element, reserved, not committed).
const MAX_POOLED_TABLE_ELEMENTS: usize = 1 << 20;

/// Deadlines being waited for, checked by the ticker thread every tick.
#[derive(Default)]
struct Deadlines {
    waiting: Mutex<Vec<(Instant, Weak<Mutex<Waker>>)>>,
}

impl Deadlines {
    /// Wakes the waiters whose deadline has passed, and forgets those that
    /// stopped waiting.
    fn wake_due(&self) {
        let now = Instant::now();
        lock(&self.waiting).retain(|(deadline, slot)| {
            let Some(slot) = slot.upgrade() else {
                return false;
            };
            if now < *deadline {
                return true;
            }
            lock(&slot).wake_by_ref();
            false
        });
    }
}

/// The future of [`Engine::wait_until`].
pub(crate) struct DeadlineReached {
    deadlines: Arc<Deadlines>,
    deadline: Instant,
    /// Where the ticker finds the current waker; registered on first poll.
    slot: Option<Arc<Mutex<Waker>>>,
}

impl Future for DeadlineReached {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.slot {
            Some(slot) => {
                *lock(slot) = cx.waker().clone();
            }
            None => {
                let slot = Arc::new(Mutex::new(cx.waker().clone()));
                lock(&self.deadlines.waiting).push((self.deadline, Arc::downgrade(&slot)));
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

/// A thread that calls `increment_epoch` on every engine of a family every
/// [`EPOCH_TICK`], and wakes the deadlines that passed, until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(
        engines: Arc<Mutex<Vec<wasmtime::Engine>>>,
        deadlines: Arc<Deadlines>,
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("wasmvisor-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        for engine in lock(&engines).iter() {
                            engine.increment_epoch();
                        }
                        deadlines.wake_due();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread wakes within one tick; a panic in it has nothing to report.
            let _ = thread.join();
        }
    }
}
