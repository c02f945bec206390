//! The direct hand-off: a call to an idle actor runs the guest on the
//! caller's own task, with the desk, instead of waking the actor's task
//! through the mailbox (see the `actor` module docs).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio::sync::OwnedMutexGuard;

use super::core::ActorCore;
use super::desk::Desk;
use super::envelope::{Answer, Envelope};
use super::spin;
use crate::error::{CrashReason, ExitReason};

/// A handed-off message being handled on its caller's task. Dropped before
/// it is done (the caller gave up waiting, or its runtime went away), it
/// finishes on a task of its own, on the runtime the actor task runs on: a
/// guest call cut off halfway would leave the instance unusable (wasmtime
/// refuses to enter it again), and the message's writes are committed as
/// the actor task would have.
pub(crate) struct HandOff<'a> {
    pub(crate) serving: Option<Pin<Box<dyn Future<Output = Option<Answer>> + Send>>>,
    /// The actor task's runtime: the caller's may be the one going away.
    pub(crate) runtime: &'a tokio::runtime::Handle,
}

impl Future for HandOff<'_> {
    type Output = Option<Answer>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        // Polled again once done (which a future must not be): no answer.
        let Some(serving) = self.serving.as_mut() else {
            return Poll::Ready(None);
        };
        let answer = std::task::ready!(serving.as_mut().poll(cx));
        self.serving = None;
        Poll::Ready(answer)
    }
}

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        // Should that runtime be shutting down as well, the task is dropped
        // unrun, and the instance with the actor task.
        if let Some(serving) = self.serving.take() {
            self.runtime.spawn(serving);
        }
    }
}

/// How a call reaches the guest.
pub(crate) enum Route {
    /// The actor is idle: the caller runs the guest now, with this desk.
    HandOff(OwnedMutexGuard<Desk>),
    /// The instance ended in a caller's hands, and the actor task has not
    /// seen it yet (it will when the supervisor's next request wakes it):
    /// the message is kept on this desk for the next instance. Through the
    /// mailbox it would wake the actor task only for it to find the crash
    /// and wait for the supervisor: a wake-up, often of another thread, on
    /// the way to the restart.
    NextInstance(OwnedMutexGuard<Desk>),
    /// Through the mailbox and the actor task: someone runs the guest, a
    /// message waits for the actor task (which this one must not overtake),
    /// no instance runs, or a new version is on probation (whose every
    /// message the actor task watches).
    Mailbox,
}

impl ActorCore {
    /// How a call reaches the guest now: with the desk when nobody holds it
    /// and no message waits for the actor task (see [`Route`]).
    pub(crate) fn route(&self) -> Route {
        if self.waiting.load(Ordering::SeqCst) != 0 {
            return Route::Mailbox;
        }
        // Held by another caller's message, most likely for a moment more:
        // worth a few spins rather than the mailbox (see `spin`).
        let Some(desk) = spin::lock_soon(&self.desk, spin::DESK_SPINS, || {
            self.waiting.load(Ordering::Relaxed) != 0
        }) else {
            return Route::Mailbox;
        };
        if self.waiting.load(Ordering::SeqCst) != 0 {
            Route::Mailbox
        } else if desk.ended.is_some() {
            Route::NextInstance(desk)
        } else if desk.instance.is_some() && !desk.on_probation {
            Route::HandOff(desk)
        } else {
            Route::Mailbox
        }
    }

    /// Handles a handed-off message and returns its answer, once the desk is
    /// free again. When it ends the instance, drops the instance, reports the
    /// exit to the supervisor at once and leaves the crash on the desk, where
    /// the actor task finds it when it next wakes.
    pub(crate) async fn serve(
        self: Arc<Self>,
        mut desk: OwnedMutexGuard<Desk>,
        envelope: Envelope,
    ) -> Option<Answer> {
        let handled = self.handle(&mut desk, envelope).await;
        if let Some(exit) = handled.exit {
            // Never entered again: dropped here and now, before the restart
            // can begin, as the actor task would have.
            drop(desk.instance.take());
            // A kill is the supervisor's own doing: it is waiting to hear
            // of it as a stop, from the actor task.
            if exit != ExitReason::Crash(CrashReason::Killed) {
                self.report_exit(desk.serving_id, exit.clone());
            }
            // The actor task is not woken for this: the supervisor's next
            // request (start, park, close, or the stop behind a kill) wakes
            // it, and whatever wakes it looks here first. Waking it now
            // would put a thread's wake-up on the way to the restart, for
            // nothing.
            desk.ended = Some(exit);
        }
        handled.answer
    }
}
