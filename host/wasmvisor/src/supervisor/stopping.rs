//! Stopping children by their shutdown specs (S10, S11 of
//! `docs/design/supervision.md`): one at a time in reverse start order, or
//! all at once for a dynamic supervisor; a child left undefined (parked),
//! or removed for good with its name released.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::child::{Child, ChildState};
use super::context::SupervisorContext;
use super::task::SupervisorTask;
use crate::actor::{ActorStatus, Control};
use crate::error::ExitReason;
use crate::events::Event;
use crate::runtime::{Engines, KillSwitch};
use crate::spec::Shutdown;

impl Child {
    /// Forgets a pending restart and, if an instance runs, tells it to stop
    /// by the child's shutdown spec (at once, when its supervisor is
    /// `killed`); the receiver completes when it has. The child is undefined
    /// from then on.
    pub(crate) fn signal_stop(&mut self, killed: bool) -> Option<Stopping> {
        self.generation += 1;
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        let running = self.current_instance().is_some();
        self.up_since = None;
        self.state = ChildState::Undefined;
        if !running {
            return None;
        }
        let shutdown = if killed {
            Shutdown::BrutalKill
        } else {
            self.spec.shutdown
        };
        let (reply, stopped) = oneshot::channel();
        let stop = Control::Stop { shutdown, reply };
        self.handle.control.send(stop).ok().map(|()| Stopping {
            stopped,
            shutdown,
            kill: self.handle.shared.kill.clone(),
        })
    }
}

/// A stop sent to a child, to be seen through by its shutdown spec (S10):
/// `BrutalKill` kills at once; `Timeout` waits that long for a graceful
/// stop, then kills; `Infinity` waits (a worker's calls are still bounded
/// by their deadlines).
pub(crate) struct Stopping {
    stopped: oneshot::Receiver<Option<ExitReason>>,
    shutdown: Shutdown,
    kill: Arc<KillSwitch>,
}

impl Stopping {
    /// Waits for the child to stop, counting its shutdown timeout from
    /// `since`, and killing it at once if `supervisor_killed` is triggered.
    /// The timer runs in real time on the engine's ticker, like every guest
    /// deadline.
    async fn finish(
        self,
        engines: &Engines,
        since: std::time::Instant,
        supervisor_killed: &KillSwitch,
    ) -> Option<ExitReason> {
        let Stopping {
            mut stopped,
            shutdown,
            kill,
        } = self;
        let timed_out = async {
            match shutdown {
                Shutdown::BrutalKill => {}
                Shutdown::Timeout(timeout) => {
                    engines
                        .settings()
                        .deadlines
                        .wait_until(since + timeout)
                        .await
                }
                Shutdown::Infinity => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            exit = &mut stopped => return exit.ok().flatten(),
            () = timed_out => {}
            () = supervisor_killed.triggered() => {}
        }
        kill.trigger();
        stopped.await.ok().flatten()
    }
}

impl SupervisorTask {
    /// Stops the child's instance (if running) by its shutdown spec and
    /// forgets a pending restart; the exit is consumed, never a crash.
    pub(crate) async fn stop_one(&mut self, index: usize) {
        let killed = self.shared.kill.is_triggered();
        if let Some(stopping) = self.children[index].signal_stop(killed) {
            let since = std::time::Instant::now();
            stopping
                .finish(&self.context.actor.engines, since, &self.shared.kill)
                .await;
        }
    }

    /// Leaves the child undefined: calls are answered with `reason` until it
    /// is started again.
    pub(crate) fn park(&mut self, index: usize, reason: &str) {
        let child = &mut self.children[index];
        child.state = ChildState::Undefined;
        // A pending restart must not bring it back.
        child.generation += 1;
        if let Some(timer) = child.timer.take() {
            timer.abort();
        }
        let _ = child.handle.control.send(Control::Park {
            reason: reason.to_owned(),
        });
        child.handle.shared.lock().state = ActorStatus::Stopped(reason.to_owned());
        self.context.actor.events.publish(Event::ActorStopped {
            actor: child.spec.id.clone(),
            reason: reason.to_owned(),
        });
    }

    /// Deletes the child: closes its actor for good and releases its name.
    /// The returned receiver completes once its task has let go of
    /// everything.
    pub(crate) fn remove(&mut self, index: usize, reason: &str) -> oneshot::Receiver<()> {
        let child = self.children.remove(index);
        self.publish_children();
        close(&self.context, &child, reason)
    }

    /// Stops every child in reverse start order (a dynamic supervisor: all
    /// at once), then closes them all with `reason` and releases their
    /// names.
    pub(crate) async fn stop_children(&mut self, reason: &str) {
        if self.policy.dynamic {
            self.stop_all_at_once().await;
        }
        for index in (0..self.children.len()).rev() {
            self.stop_one(index).await;
            // Resolves (with an error, as the sender is dropped) once the task is gone.
            let _ = close(&self.context, &self.children[index], reason).await;
        }
    }

    /// Signals every running child to stop, then waits for them all, with
    /// one shutdown timer for all (S11, dynamic supervisors).
    pub(crate) async fn stop_all_at_once(&mut self) {
        let since = std::time::Instant::now();
        let killed = self.shared.kill.is_triggered();
        let stopping: Vec<_> = self
            .children
            .iter_mut()
            .filter_map(|child| child.signal_stop(killed))
            .collect();
        for stopping in stopping {
            stopping
                .finish(&self.context.actor.engines, since, &self.shared.kill)
                .await;
        }
    }
}

/// Closes a child's actor for good and releases its name; the receiver
/// completes once its task has let go of everything.
pub(crate) fn close(
    context: &SupervisorContext,
    child: &Child,
    reason: &str,
) -> oneshot::Receiver<()> {
    let (done, closed) = oneshot::channel();
    let _ = child.handle.control.send(Control::Close {
        reason: reason.to_owned(),
        done: Some(done),
    });
    // Callers see the reason at once, before the task gets to it.
    child.handle.shared.lock().state = ActorStatus::Stopped(reason.to_owned());
    if let Some(actor) = &child.handle.actor {
        context.registry.unregister(actor);
    }
    context.actor.events.publish(Event::ActorStopped {
        actor: child.spec.id.clone(),
        reason: reason.to_owned(),
    });
    closed
}
