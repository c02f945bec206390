//! The wasmtime engine shared by every actor of a host, and its epoch ticker.
//!
//! One [`Engine`] compiles every component and owns one [`Linker`] with the
//! host's imports (WASI 0.2 and the `wasmvisor:plugin` interfaces). A
//! background thread advances the engine's epoch every [`EPOCH_TICK`]; each
//! store checks its call deadline whenever the epoch moves (see `instance`),
//! which is how a guest that never returns is cut off without any cost on
//! the fast path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};

use crate::instance::ActorData;

/// How often the epoch advances: the granularity of call deadlines, and how
/// often a long-running guest yields its thread to other tasks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The host's compilation engine. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    fuel_metering: bool,
    linker: Linker<ActorData>,
    _ticker: EpochTicker,
}

impl Engine {
    /// Builds the engine, the linker with every host import, and starts the
    /// epoch ticker thread (stopped when the last clone is dropped). With
    /// `fuel_metering`, compiled code counts fuel, so that a per-call fuel
    /// limit can be set (at some cost in speed for every guest).
    pub(crate) fn new(fuel_metering: bool) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.consume_fuel(fuel_metering);
        let wasmtime = wasmtime::Engine::new(&config)?;

        let mut linker = Linker::new(&wasmtime);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        crate::bindings::FullPlugin::add_to_linker::<ActorData, HasSelf<ActorData>>(
            &mut linker,
            |data| data,
        )?;

        let ticker = EpochTicker::start(wasmtime.clone())?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                fuel_metering,
                linker,
                _ticker: ticker,
            }),
        })
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    pub(crate) fn fuel_metering(&self) -> bool {
        self.inner.fuel_metering
    }

    pub(crate) fn linker(&self) -> &Linker<ActorData> {
        &self.inner.linker
    }
}

/// A thread that calls `increment_epoch` every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("wasmvisor-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
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
