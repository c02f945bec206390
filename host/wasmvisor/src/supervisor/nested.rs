//! A supervisor as the child of another: supervision trees.
//!
//! The parent drives a nested supervisor exactly like an actor, through the
//! same control channel: `Start` starts a fresh incarnation of the
//! supervisor with its *initial* children, `Stop` stops it (its children
//! first, in reverse order), and when the nested supervisor gives up on its
//! restart intensity the parent sees an ordinary exit with reason
//! `Shutdown`, to which it applies the child's restart type (OTP's
//! escalation: a permanent child supervisor is restarted, a transient one
//! stays down).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use super::context::SupervisorContext;
use super::handle::{ChildHandle, Incarnation, SupervisorRef};
use super::start::start_boxed;
use super::status::SupervisorStatus;
use crate::actor::{ActorShared, ActorStatus, Control, Exit, Started};
use crate::error::ExitReason;
use crate::events::Event;
use crate::spec::SupervisorSpec;
use crate::util::lock;

const NOT_UPGRADABLE: &str = "a supervisor has no plugin to upgrade; upgrade its children";

/// Spawns the task that runs `sub` as the child `id` of a supervisor whose
/// exits channel is `exits`. Nothing starts until `Control::Start`.
pub(crate) fn spawn(
    context: SupervisorContext,
    id: &str,
    sub: SupervisorSpec,
    exits: mpsc::UnboundedSender<Exit>,
) -> ChildHandle {
    let (control_tx, control) = mpsc::unbounded_channel();
    let shared = Arc::new(ActorShared::new(id));
    let current: Incarnation = Arc::new(Mutex::new(None));
    let cell = NestedCell {
        name: Arc::from(id),
        shared: shared.clone(),
        current: current.clone(),
        context,
        sub,
        control,
        exits,
    };
    tokio::spawn(cell.run());
    ChildHandle {
        control: control_tx,
        shared,
        actor: None,
        nested: Some(current),
    }
}

struct NestedCell {
    name: Arc<str>,
    shared: Arc<ActorShared>,
    current: Incarnation,
    context: SupervisorContext,
    sub: SupervisorSpec,
    control: mpsc::UnboundedReceiver<Control>,
    exits: mpsc::UnboundedSender<Exit>,
}

impl NestedCell {
    async fn run(mut self) {
        while let Some(control) = self.control.recv().await {
            match control {
                Control::Start {
                    instance,
                    restart,
                    reply,
                } => {
                    self.shared.kill.reset();
                    let supervisor = match start_boxed(self.context.clone(), self.sub.clone()).await
                    {
                        Ok(supervisor) => supervisor,
                        Err(error) => {
                            reply.send(&self.name, instance, Err(error.to_string()));
                            continue;
                        }
                    };
                    self.set_running(instance, &supervisor, restart);
                    reply.send(&self.name, instance, Ok(Started::Running(instance)));
                    if !self.supervise(instance, supervisor).await {
                        return;
                    }
                }
                Control::Stop { reply, .. } => {
                    let _ = reply.send(None);
                }
                Control::Upgrade { reply, .. } => {
                    let _ = reply.send(Err(NOT_UPGRADABLE.to_owned()));
                }
                Control::Park { reason } => self.set_stopped(reason),
                Control::Close { reason, done } => {
                    self.set_stopped(reason);
                    drop(done);
                    return;
                }
            }
        }
    }

    /// Watches one incarnation until it ends; false when the cell must end.
    async fn supervise(&mut self, instance: u64, supervisor: SupervisorRef) -> bool {
        loop {
            tokio::select! {
                control = self.control.recv() => match control {
                    Some(Control::Stop { reply, .. }) => {
                        // The parent times the stop by this child's shutdown
                        // spec; when it kills, every child below is killed.
                        let stopped = supervisor.stop();
                        tokio::pin!(stopped);
                        let reason = tokio::select! {
                            biased;
                            () = &mut stopped => ExitReason::Shutdown,
                            () = self.shared.kill.triggered() => {
                                supervisor.kill_children();
                                stopped.await;
                                ExitReason::Killed
                            }
                        };
                        self.set_down(reason.clone());
                        self.publish_exit(instance, reason.clone());
                        let _ = reply.send(Some(reason));
                        return true;
                    }
                    Some(Control::Start { instance, reply, .. }) => {
                        reply.send(&self.name, instance, Err("already running".to_owned()));
                    }
                    Some(Control::Park { .. }) => {}
                    Some(Control::Upgrade { reply, .. }) => {
                        let _ = reply.send(Err(NOT_UPGRADABLE.to_owned()));
                    }
                    Some(Control::Close { reason, done }) => {
                        supervisor.stop().await;
                        self.set_stopped(reason);
                        drop(done);
                        return false;
                    }
                    None => {
                        supervisor.stop().await;
                        return false;
                    }
                },
                status = supervisor.stopped() => {
                    // It gave up (or was stopped from outside): to its parent,
                    // an ordinary exit with reason `Shutdown`; killed, `Killed`.
                    if let SupervisorStatus::GaveUp(reason) = &status {
                        tracing::warn!(supervisor = &*self.name, "escalating: {reason}");
                    }
                    let reason = match status {
                        SupervisorStatus::Killed => ExitReason::Killed,
                        _ => ExitReason::Shutdown,
                    };
                    self.set_down(reason.clone());
                    self.publish_exit(instance, reason.clone());
                    let _ = self.exits.send(Exit {
                        child: self.name.clone(),
                        instance,
                        reason,
                    });
                    return true;
                }
            }
        }
    }

    /// Shows the nested supervisor running (`restart` counts it as a
    /// restart, in the same step), then announces it.
    fn set_running(&self, instance: u64, supervisor: &SupervisorRef, restart: bool) {
        *self.lock_current() = Some(supervisor.clone());
        let mut status = self.shared.lock();
        if restart {
            status.restarts += 1;
        }
        status.state = ActorStatus::Running;
        status.instance = Some(instance);
        status.running_since = Some(Instant::now());
        drop(status);
        self.context.actor.events.publish(Event::ActorStarted {
            actor: self.name.to_string(),
            instance,
            restart,
        });
    }

    fn set_down(&self, reason: ExitReason) {
        *self.lock_current() = None;
        let mut status = self.shared.lock();
        status.state = ActorStatus::Restarting;
        status.instance = None;
        status.running_since = None;
        status.last_exit = Some(reason);
    }

    fn set_stopped(&self, reason: String) {
        *self.lock_current() = None;
        let mut status = self.shared.lock();
        status.state = ActorStatus::Stopped(reason);
        status.instance = None;
        status.running_since = None;
    }

    fn publish_exit(&self, instance: u64, reason: ExitReason) {
        self.context.actor.events.publish(Event::ActorExited {
            actor: self.name.to_string(),
            instance,
            reason,
        });
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<SupervisorRef>> {
        // Only whole-value swaps happen under this lock.
        lock(&self.current)
    }
}
