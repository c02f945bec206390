//! One guest call, bounded: by its deadline, and by the kill switch its
//! supervisor holds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::Notify;

use super::clock::{Deadlines, EPOCH_TICK};
use super::traps::{DeadlineExceeded, Killed};

/// Runs a guest call, but never past `deadline`, even when the guest waits
/// in a host call (a WASI sleep, a pollable) where the epoch check cannot
/// reach it. Running out of time is a `DeadlineExceeded` trap; the call is
/// abandoned, and its instance must not be entered again (it never is: a
/// trap discards the instance). The wait is in real time, watched by the
/// ticker thread (see `clock`), so a paused tokio clock cannot fire it early.
///
/// The call comes pinned where its caller made it: a guest call's future is
/// over a kilobyte, and taken by value it was copied twice per message
/// (into this future, then into the `select!`).
pub(crate) async fn bounded<T>(
    deadlines: &Arc<Deadlines>,
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
            Some(deadline) => deadlines.wait_until(deadline + 2 * EPOCH_TICK).await,
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
