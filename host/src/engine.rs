//! The wasmtime engine shared by every actor of a host, and its epoch ticker.
//!
//! One [`Engine`] compiles every component and owns one [`Linker`] with the
//! host's imports (WASI 0.2 and the `wasmvisor:plugin` interfaces). A
//! background thread advances the engine's epoch every [`EPOCH_TICK`]; each
//! store checks its call deadline whenever the epoch moves (see `instance`),
//! which is how a guest that never returns is cut off without any cost on
//! the fast path.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    deadlines: Arc<Deadlines>,
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

        let deadlines = Arc::new(Deadlines::default());
        let ticker = EpochTicker::start(wasmtime.clone(), deadlines.clone())?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                fuel_metering,
                deadlines,
                linker,
                _ticker: ticker,
            }),
        })
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    /// Completes at `deadline`, in real time, even when tokio's clock is
    /// paused (tests) and even while the caller is blocked in a host call.
    pub(crate) fn wait_until(&self, deadline: Instant) -> DeadlineReached {
        DeadlineReached {
            deadlines: self.inner.deadlines.clone(),
            deadline,
            slot: None,
        }
    }

    pub(crate) fn fuel_metering(&self) -> bool {
        self.inner.fuel_metering
    }

    pub(crate) fn linker(&self) -> &Linker<ActorData> {
        &self.inner.linker
    }
}

/// Deadlines being waited for, checked by the ticker thread every tick.
#[derive(Default)]
struct Deadlines {
    waiting: Mutex<Vec<(Instant, Weak<Mutex<Waker>>)>>,
}

impl Deadlines {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Instant, Weak<Mutex<Waker>>)>> {
        // Only pushes and retains happen under this lock.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the waiters whose deadline has passed, and forgets those that
    /// stopped waiting.
    fn wake_due(&self) {
        let now = Instant::now();
        self.lock().retain(|(deadline, slot)| {
            let Some(slot) = slot.upgrade() else {
                return false;
            };
            if now < *deadline {
                return true;
            }
            slot.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .wake_by_ref();
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
                *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = cx.waker().clone();
            }
            None => {
                let slot = Arc::new(Mutex::new(cx.waker().clone()));
                self.deadlines
                    .lock()
                    .push((self.deadline, Arc::downgrade(&slot)));
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

/// A thread that calls `increment_epoch` every [`EPOCH_TICK`], and wakes
/// the deadlines that passed, until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine, deadlines: Arc<Deadlines>) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("wasmvisor-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
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
