//! What a child's exit sets off (S4 to S9, S14, S16, S17 of
//! `docs/design/supervision.md`): its restart type decides whether it
//! restarts; the strategy decides who restarts with it; the backoff how long
//! to wait; the restart window whether the supervisor gives up instead; and
//! significant children whether it shuts itself down.

use tokio::time::Instant;

use super::child::ChildState;
use super::handle::Command;
use super::status::SupervisorStatus;
use super::task::SupervisorTask;
use crate::actor::{ActorStatus, Exit, StartReport, Started};
use crate::events::Event;
use crate::spec::{AutoShutdown, RestartType, Strategy};
use crate::util::millis;

impl SupervisorTask {
    /// A restart it did not wait for failed, or was ignored: a failure is
    /// tried again as for a restart it waited for, an ignored start is
    /// [`ignored`](SupervisorTask::ignored); unless the instance is no
    /// longer the child's current one (it was stopped or started again
    /// meanwhile).
    pub(crate) fn on_start_report(&mut self, report: StartReport) {
        let Some(index) = self.index_of(&report.child) else {
            return;
        };
        if self.children[index].current_instance() != Some(report.instance) {
            return;
        }
        self.children[index].up_since = None;
        match report.outcome {
            Err(reason) => self.restart_failed(index, reason),
            Ok(Started::Ignored) => self.ignored(index),
            Ok(Started::Running(_)) => {}
        }
    }

    /// Records why the child at `index` failed to restart and schedules the
    /// next attempt.
    pub(crate) fn restart_failed(&mut self, index: usize, reason: String) {
        let child = &mut self.children[index];
        child.last_start_failure = Some(reason.clone());
        self.context.actor.events.publish(Event::RestartFailed {
            actor: child.spec.id.clone(),
            reason,
        });
        self.schedule_restart(index);
    }

    /// Applies the child's restart type and the strategy to an exit; returns
    /// how the supervisor ends if the exit makes it shut down.
    pub(crate) async fn on_exit(&mut self, exit: Exit) -> Option<SupervisorStatus> {
        let index = self.index_of(&exit.child)?;
        let within = self.within;
        let child = &mut self.children[index];
        if child.current_instance() != Some(exit.instance) {
            // A stale exit of an instance that is no longer current.
            return None;
        }
        if child
            .up_since
            .is_some_and(|since| since.elapsed() >= within)
        {
            child.restarts_in_a_row = 0;
        }
        child.up_since = None;
        let restart = match child.spec.restart {
            RestartType::Permanent => true,
            RestartType::Transient => !exit.reason.is_normal(),
            RestartType::Temporary => false,
        };
        if restart {
            self.children[index].state = ChildState::Restarting;
            let id = exit.child.to_string();
            self.stop_siblings(&id).await;
            if let Some(index) = self.index_of(&id) {
                self.schedule_restart(index);
            }
            return None;
        }
        let reason = format!(
            "{} and is not restarted (restart type {:?})",
            exit.reason, child.spec.restart
        );
        let significant = child.spec.significant;
        if child.spec.restart == RestartType::Temporary || self.policy.dynamic {
            // Nothing waits here: the supervisor goes on while the actor closes.
            drop(self.remove(index, &reason));
        } else {
            self.park(index, &reason);
        }
        if significant {
            return self.auto_shutdown(&exit.child).await;
        }
        None
    }

    /// A significant child finished: stop the supervisor if its
    /// `auto_shutdown` says so.
    pub(crate) async fn auto_shutdown(&mut self, finished: &str) -> Option<SupervisorStatus> {
        let any_left = self
            .children
            .iter()
            .any(|c| c.spec.significant && !matches!(c.state, ChildState::Undefined));
        let shut_down = match self.policy.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !any_left,
        };
        if !shut_down {
            return None;
        }
        let reason = format!(
            "auto shutdown: significant child `{finished}` finished ({:?})",
            self.policy.auto_shutdown
        );
        self.stop_children(&format!("supervisor `{}` shut down: {reason}", self.name))
            .await;
        Some(SupervisorStatus::AutoShutdown(reason))
    }

    /// The children a restart of `index` concerns, by the strategy.
    pub(crate) fn group(&self, index: usize) -> std::ops::Range<usize> {
        match self.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        }
    }

    /// Stops the other children of `id`'s group in reverse start order:
    /// temporary ones are deleted, the rest wait for the group's restart.
    pub(crate) async fn stop_siblings(&mut self, id: &str) {
        let Some(index) = self.index_of(id) else {
            return;
        };
        let siblings: Vec<String> = self
            .group(index)
            .rev()
            .map(|i| self.children[i].spec.id.clone())
            .filter(|sibling| sibling != id)
            .collect();
        for sibling in siblings {
            let Some(i) = self.index_of(&sibling) else {
                continue;
            };
            self.stop_one(i).await;
            if self.children[i].spec.restart == RestartType::Temporary {
                let reason = format!("stopped with its group after `{id}` exited");
                drop(self.remove(i, &reason));
            } else {
                self.children[i].state = ChildState::Restarting;
                self.children[i].handle.shared.lock().state = ActorStatus::Restarting;
            }
        }
    }

    pub(crate) fn schedule_restart(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.state = ChildState::Restarting;
        child.restarts_in_a_row = child.restarts_in_a_row.saturating_add(1);
        let delay = self.policy.restart_delay(child.restarts_in_a_row);
        self.context.actor.events.publish(Event::RestartScheduled {
            actor: child.spec.id.clone(),
            delay_ms: millis(delay),
        });
        if delay.is_zero() {
            self.due_now
                .push_back((child.spec.id.clone(), child.generation));
        } else {
            let due = Command::RestartDue {
                child: child.spec.id.clone(),
                generation: child.generation,
            };
            let commands = self.commands.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = commands.send(due);
            });
            if let Some(stale) = child.timer.replace(timer.abort_handle()) {
                stale.abort();
            }
        }
    }

    /// Makes one restart attempt for `id` (and its group); returns the reason
    /// when the supervisor gives up instead.
    pub(crate) async fn restart(&mut self, id: &str, generation: u64) -> Option<String> {
        let index = self.index_of(id)?;
        let child = &mut self.children[index];
        if child.generation != generation || child.state != ChildState::Restarting {
            return None;
        }
        child.timer = None;

        let exceeded = self.shared.intensity().record(Instant::now());
        if exceeded {
            return Some(self.give_up(index).await);
        }

        // A retry after a group restart that failed half-way: stop the ones
        // that did start, and start the group again from the top.
        let running_in_group: Vec<String> = self
            .group(index)
            .filter(|&i| self.children[i].current_instance().is_some())
            .map(|i| self.children[i].spec.id.clone())
            .collect();
        for sibling in running_in_group.iter().rev() {
            if let Some(i) = self.index_of(sibling) {
                self.stop_one(i).await;
                self.children[i].state = ChildState::Restarting;
            }
        }

        let group: Vec<String> = self
            .group(index)
            .map(|i| self.children[i].spec.id.clone())
            .collect();
        // Each waits for the one before it to run, as at a first start; the
        // last is waited for by nobody.
        let last = group.len().saturating_sub(1);
        for (n, member) in group.iter().enumerate() {
            let Some(i) = self.index_of(member) else {
                continue;
            };
            let started = if n == last {
                self.restart_unawaited(i).map(drop)
            } else {
                self.start_one(i, true).await.map(drop)
            };
            if let Err(reason) = started {
                self.restart_failed(i, reason);
                return None;
            }
        }
        None
    }

    /// Stops every child and returns why the supervisor gives up.
    pub(crate) async fn give_up(&mut self, index: usize) -> String {
        let child = &self.children[index];
        let last = match &child.last_start_failure {
            Some(failure) => format!("; last: `{}` failed to restart: {failure}", child.spec.id),
            None => child
                .handle
                .shared
                .lock()
                .last_exit
                .clone()
                .map(|exit| format!("; last: `{}` {exit}", child.spec.id))
                .unwrap_or_default(),
        };
        let reason = format!(
            "restart intensity exceeded: more than {} restarts within {} ms{last}",
            self.max_restarts,
            millis(self.within)
        );
        self.context.actor.events.publish(Event::SupervisorGaveUp {
            supervisor: self.name.clone(),
            reason: reason.clone(),
        });
        self.stop_children(&reason).await;
        reason
    }
}
