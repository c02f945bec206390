//! The supervisor's task: it owns the children and the restart window,
//! and serves exits, start failures and requests one at a time, exits
//! first. What it does with each is in `strategy` (exits and restarts),
//! `management` (requests) and `stopping`.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::child::{Child, ChildState};
use super::context::SupervisorContext;
use super::handle::{Command, SupervisorShared};
use super::status::SupervisorStatus;
use crate::actor::{ActorStatus, Control, Exit, StartOutcome, StartReply, StartReport, Started};
use crate::spec::{RestartType, Strategy, SupervisorSpec};

pub(crate) struct SupervisorTask {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) within: std::time::Duration,
    /// The supervisor's own options (its spec without the children).
    pub(crate) policy: SupervisorSpec,
    pub(crate) children: Vec<Child>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) commands_rx: mpsc::UnboundedReceiver<Command>,
    pub(crate) exits_tx: mpsc::UnboundedSender<Exit>,
    pub(crate) exits: mpsc::UnboundedReceiver<Exit>,
    /// Where restarts it did not wait for report a failure to start (see
    /// [`StartReply::Unawaited`]).
    pub(crate) start_reports_tx: mpsc::UnboundedSender<StartReport>,
    pub(crate) start_reports: mpsc::UnboundedReceiver<StartReport>,
    pub(crate) context: SupervisorContext,
    pub(crate) shared: Arc<SupervisorShared>,
    /// Restarts due now (no backoff), made once the exits and requests
    /// waiting before them are handled (see [`SupervisorTask::supervise`]).
    pub(crate) due_now: VecDeque<(String, u64)>,
}

impl SupervisorTask {
    pub(crate) async fn run(self) {
        let shared = self.shared.clone();
        let name = self.name.clone();
        // Supervised in a task of its own, so that even a panic in it ends
        // with a status: `stop` and `stopped` must never wait forever.
        let end = tokio::spawn(self.supervise())
            .await
            .unwrap_or_else(|panic| {
                tracing::error!(supervisor = name, "supervisor task failed: {panic}");
                SupervisorStatus::GaveUp(format!("the supervisor task failed: {panic}"))
            });
        shared.status.send_replace(end);
    }

    /// Supervises until stopped or given up. Consumes the task, so that
    /// everything it holds is released before its end is announced.
    async fn supervise(mut self) -> SupervisorStatus {
        loop {
            // A restart due now waits for the exits and requests that came
            // before it, as a request would. It is not sent on our own
            // request channel: that woke this very task while it ran, and
            // tokio then queues such a task again once it yields (waking a
            // parked worker thread for it, if one is parked), for nothing.
            if self.exits.is_empty()
                && self.start_reports.is_empty()
                && self.commands_rx.is_empty()
                && let Some((child, generation)) = self.due_now.pop_front()
            {
                if let Some(reason) = self.restart(&child, generation).await {
                    return SupervisorStatus::GaveUp(reason);
                }
                continue;
            }
            tokio::select! {
                // Exits first: a request sees every exit reported before it
                // was made (an actor shows itself down as it reports, and
                // the request may have been made on seeing that).
                biased;
                Some(exit) = self.exits.recv() => {
                    if let Some(end) = self.on_exit(exit).await {
                        return end;
                    }
                }
                Some(report) = self.start_reports.recv() => self.on_start_report(report),
                Some(command) = self.commands_rx.recv() => match command {
                    Command::Stop { reply } => {
                        self.stop_children(&format!("supervisor `{}` stopped", self.name)).await;
                        let _ = reply.send(());
                        return SupervisorStatus::Stopped;
                    }
                    // The kill switch is already triggered: every stop kills.
                    Command::Kill { reply } => {
                        self.stop_children(&format!("supervisor `{}` killed", self.name)).await;
                        let _ = reply.send(());
                        return SupervisorStatus::Killed;
                    }
                    Command::RestartDue { child, generation } => {
                        if let Some(reason) = self.restart(&child, generation).await {
                            return SupervisorStatus::GaveUp(reason);
                        }
                    }
                    Command::StartChild { spec, reply } => {
                        let _ = reply.send(self.start_child(*spec).await);
                    }
                    Command::TerminateChild { id, reply } => {
                        let _ = reply.send(self.terminate_child(&id).await);
                    }
                    Command::RestartChild { id, reply } => {
                        let _ = reply.send(self.restart_child(&id).await);
                    }
                    Command::RestartRunning { id, reply } => {
                        let _ = reply.send(self.restart_running(&id).await);
                    }
                    Command::DeleteChild { id, reply } => {
                        let _ = reply.send(self.delete_child(&id).await);
                    }
                    Command::UpgradeChild { id, plugin, reply } => {
                        let _ = reply.send(self.upgrade_child(&id, plugin).await);
                    }
                },
            }
        }
    }

    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    /// Mirrors the list of children for the handles.
    pub(crate) fn publish_children(&self) {
        *self.shared.children() = self.children.iter().map(|c| c.handle.clone()).collect();
    }

    /// Starts a new instance of the child at `index` and waits until it
    /// runs; `restart` counts it as a restart. A start its plugin ignored
    /// leaves the child undefined, or removes it (see
    /// [`SupervisorTask::ignored`]): `index` may no longer be the child's.
    pub(crate) async fn start_one(&mut self, index: usize, restart: bool) -> StartOutcome {
        let (reply, started) = oneshot::channel();
        self.send_start(index, restart, StartReply::Awaited(reply))?;
        let started = started
            .await
            .unwrap_or_else(|_| Err("the actor task is gone".to_owned()))?;
        match started {
            Started::Running(instance) => self.children[index].running(instance),
            Started::Ignored => self.ignored(index),
        }
        Ok(started)
    }

    /// The child at `index` answered its start with `exit.ignore` (S3 of
    /// `docs/design/supervision.md`, OTP's `ignore`): a temporary child, or
    /// any child of a dynamic supervisor, is removed; any other stays
    /// undefined, with its spec, until started again.
    pub(crate) fn ignored(&mut self, index: usize) {
        let reason = "ignored its start (`exit.ignore` in `init`)";
        if self.children[index].spec.restart == RestartType::Temporary || self.policy.dynamic {
            drop(self.remove(index, reason));
        } else {
            self.park(index, reason);
        }
    }

    /// Restarts the child at `index` without waiting: it is `Starting`
    /// (restarting, to every listing) until it shows the new instance
    /// running, and a failure to start (or an ignored start) comes back on
    /// `start_reports` (see [`StartReply::Unawaited`]). For the last child of a restart: no
    /// sibling starts after it.
    pub(crate) fn restart_unawaited(&mut self, index: usize) -> Result<u64, String> {
        // Before the start is sent, so that the child's own "running" comes after.
        self.children[index].handle.shared.lock().state = ActorStatus::Restarting;
        let reports = StartReply::Unawaited(self.start_reports_tx.clone());
        let instance = self.send_start(index, true, reports)?;
        let child = &mut self.children[index];
        child.running(instance);
        child.state = ChildState::Starting(instance);
        Ok(instance)
    }

    /// Asks the child at `index` to start a new instance; returns its number.
    pub(crate) fn send_start(
        &mut self,
        index: usize,
        restart: bool,
        reply: StartReply,
    ) -> Result<u64, String> {
        let instance = self.context.new_instance_id();
        self.children[index]
            .handle
            .control
            .send(Control::Start {
                instance,
                restart,
                reply,
            })
            .map_err(|_| "the actor task is gone".to_owned())?;
        Ok(instance)
    }
}
