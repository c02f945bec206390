//! Real time for guests: the epoch ticker, and deadlines that fire in real
//! time.
//!
//! A background thread advances every engine's epoch every [`EPOCH_TICK`];
//! each store checks its call deadline whenever the epoch moves (see
//! `store`), which is how a guest that never returns is cut off without any
//! cost on the fast path. The same thread wakes the [`DeadlineReached`]
//! futures whose time has come: deadlines that hold even when tokio's clock
//! is paused (tests) and while a guest waits in a host call.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::lock;

/// How often the epoch advances: the granularity of call deadlines, and how
/// often a long-running guest yields its thread to other tasks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Deadlines being waited for, checked by the ticker thread every tick.
#[derive(Default)]
pub(crate) struct Deadlines {
    waiting: Mutex<Vec<(Instant, Weak<Mutex<Waker>>)>>,
}

impl Deadlines {
    /// Completes at `deadline`, in real time, even when tokio's clock is
    /// paused and while the caller is blocked in a host call.
    pub(crate) fn wait_until(self: &Arc<Self>, deadline: Instant) -> DeadlineReached {
        DeadlineReached {
            deadlines: self.clone(),
            deadline,
            slot: None,
        }
    }

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

/// Completes at its deadline, in real time (see [`Deadlines::wait_until`]).
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
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(
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
