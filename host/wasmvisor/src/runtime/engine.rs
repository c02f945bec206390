//! One wasmtime engine of a host: a compilation configuration.
//!
//! wasmtime fixes the WebAssembly stack size per engine, not per store, so
//! a host keeps a small family of engines (see `engines`): one per stack
//! size some plugin's limits ask for. Every engine of a family shares the
//! host's settings ([`EngineSettings`]: fuel metering, the instance pool,
//! the memory reservation, the compile cache) and the epoch ticker (see
//! `clock`). Their compiled code is not interchangeable, so a plugin is
//! compiled once for each engine it runs on (see `loader`).
//!
//! This module knows nothing of the host's imports or of what a store
//! holds: `linker` adds those.

use std::sync::{Arc, Mutex};

use super::clock::{Deadlines, EpochTicker};
use crate::util::lock;

/// How much larger than the WebAssembly stack the fiber a guest runs on is:
/// the room host functions called by the guest need (wasmtime's default
/// margin between `max_wasm_stack` and `async_stack_size`).
const HOST_STACK_MARGIN: usize = 1536 << 10;

/// What every engine of a host shares.
pub(crate) struct EngineSettings {
    pub(crate) fuel_metering: bool,
    /// Room for this many instances at once in each engine's pool; `None`
    /// allocates every instance on demand.
    pub(crate) instance_pool: Option<u32>,
    /// The address space reserved for each linear memory; `None` keeps
    /// wasmtime's 4 GiB.
    pub(crate) memory_reservation: Option<u64>,
    /// Where compiled code is cached on disk, if anywhere.
    pub(crate) compile_cache: Option<wasmtime::Cache>,
    pub(crate) deadlines: Arc<Deadlines>,
    /// Every engine made with these settings, for the ticker.
    ticked: Arc<Mutex<Vec<wasmtime::Engine>>>,
    _ticker: EpochTicker,
}

impl EngineSettings {
    /// The host's settings, and the epoch ticker thread (stopped when the
    /// last engine is dropped). With `fuel_metering`, compiled code counts
    /// fuel, so that a per-call fuel limit can be set (at some cost in speed
    /// for every guest).
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
                // Owner only, as every file of the host's (wasmtime makes
                // what is missing of it otherwise, with the default mode).
                if !dir.exists() {
                    let mut builder = std::fs::DirBuilder::new();
                    builder.recursive(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::DirBuilderExt;
                        builder.mode(0o700);
                    }
                    builder.create(&dir)?;
                }
                let mut config = wasmtime::CacheConfig::new();
                config.with_directory(dir);
                Some(wasmtime::Cache::new(config)?)
            }
            None => None,
        };
        let deadlines = Arc::new(Deadlines::default());
        let ticked = Arc::new(Mutex::new(Vec::new()));
        let ticker = EpochTicker::start(ticked.clone(), deadlines.clone())?;
        Ok(EngineSettings {
            fuel_metering,
            instance_pool,
            memory_reservation,
            compile_cache,
            deadlines,
            ticked,
            _ticker: ticker,
        })
    }

    /// The most linear memory one instance can have, in bytes, when the
    /// host's settings cap it: with an instance pool and a memory
    /// reservation, a memory cannot outgrow its slot.
    pub(crate) fn memory_ceiling(&self) -> Option<u64> {
        self.instance_pool?;
        self.memory_reservation?;
        Some(pooled_memory_bytes(self.memory_reservation))
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
    settings: Arc<EngineSettings>,
}

impl Engine {
    /// An engine with `settings` whose guests get `stack_bytes` of
    /// WebAssembly stack; the ticker advances its epoch from now on.
    pub(crate) fn new(settings: Arc<EngineSettings>, stack_bytes: usize) -> anyhow::Result<Self> {
        let mut config = wasmtime_config(
            settings.instance_pool,
            settings.memory_reservation,
            settings.fuel_metering,
            stack_bytes,
        );
        config.cache(settings.compile_cache.clone());
        let wasmtime = wasmtime::Engine::new(&config)?;
        lock(&settings.ticked).push(wasmtime.clone());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                stack_bytes,
                settings,
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

    /// The settings this engine shares with the rest of its family.
    pub(crate) fn settings(&self) -> &Arc<EngineSettings> {
        &self.inner.settings
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
