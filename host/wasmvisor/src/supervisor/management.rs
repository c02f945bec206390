//! The management calls of a supervisor (S12, S13 of
//! `docs/design/supervision.md`): start, terminate, restart, delete and
//! upgrade a child, with OTP's error cases. None counts toward the restart
//! intensity.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::child::ChildState;
use super::start::{check_plugin, check_plugins};
use super::stopping::close;
use super::task::SupervisorTask;
use crate::actor::{ActorRef, Control, Started};
use crate::error::{ChildError, Error};
use crate::runtime::Plugin;
use crate::spec::{ChildSpec, RestartType, Runs, Strategy};

impl SupervisorTask {
    pub(crate) async fn start_child(&mut self, spec: ChildSpec) -> Result<Started, ChildError> {
        if let Some(index) = self.index_of(&spec.id) {
            return Err(match self.children[index].settled() {
                ChildState::Running(instance) => ChildError::AlreadyStarted {
                    id: spec.id,
                    instance,
                },
                _ => ChildError::AlreadyPresent(spec.id),
            });
        }
        if let Some(max) = self.policy.max_children
            && self.children.len() >= max
        {
            return Err(ChildError::MaxChildren(max));
        }
        spec.validate()
            .map_err(|e| ChildError::Invalid(e.to_string()))?;
        self.policy
            .check_significance(&spec)
            .map_err(|e| ChildError::Invalid(e.to_string()))?;
        check_plugin(&self.context, &spec).map_err(ChildError::Invalid)?;
        if let Runs::Supervisor(sub) = &spec.runs {
            check_plugins(&self.context, sub).map_err(|e| ChildError::Invalid(e.to_string()))?;
        }
        let child = self.new_child(spec);
        let actors: Vec<ActorRef> = child.handle.actor.iter().cloned().collect();
        if let Err(error) = self.context.registry.register_all(&actors) {
            drop(close(&self.context, &child, &error.to_string()));
            return Err(match error {
                Error::DuplicateName(name) => ChildError::NameTaken {
                    instance: self
                        .context
                        .registry
                        .get(&name)
                        .and_then(|other| other.info().instance),
                    name,
                },
                Error::TooManyActors { limit } => ChildError::TooManyActors(limit),
                other => ChildError::Invalid(other.to_string()),
            });
        }
        self.children.push(child);
        self.publish_children();
        let index = self.children.len() - 1;
        match self.start_one(index, false).await {
            Ok(started) => Ok(started),
            Err(reason) => {
                let id = self.children[index].spec.id.clone();
                let _ = self
                    .remove(index, &format!("failed to start: {reason}"))
                    .await;
                Err(ChildError::StartFailed { id, reason })
            }
        }
    }

    pub(crate) async fn upgrade_child(
        &mut self,
        id: &str,
        plugin: Plugin,
    ) -> Result<(), ChildError> {
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        check_plugin(&self.context, &self.children[index].spec)
            .and_then(|()| {
                if !self.context.actor.engines.owns(plugin.engine()) {
                    return Err("the new version was loaded by another host".to_owned());
                }
                let running = match &self.children[index].spec.runs {
                    Runs::Plugin(running) => running.world(),
                    Runs::Supervisor(_) => return Ok(()),
                };
                if running == plugin.world() {
                    Ok(())
                } else {
                    // An actor's world decides how it is reached (messages,
                    // none, HTTP): it is fixed for the actor's life.
                    Err(format!(
                        "the new version is a {} component and the running one a {running}; \
                         a component of another world is another actor: remove this one and \
                         add it",
                        plugin.world()
                    ))
                }
            })
            .map_err(|reason| ChildError::UpgradeFailed {
                id: id.to_owned(),
                reason,
            })?;
        let (reply, answer) = oneshot::channel();
        let child = &self.children[index];
        let sent = child.handle.control.send(Control::Upgrade {
            plugin: plugin.clone(),
            reply,
        });
        let outcome = match sent {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err("the actor task is gone".to_owned())),
            Err(_) => Err("the actor task is gone".to_owned()),
        };
        outcome.map_err(|reason| ChildError::UpgradeFailed {
            id: id.to_owned(),
            reason,
        })?;
        // The spec follows, for listings and for anything rebuilt from it.
        let child = &mut self.children[index];
        let mut spec = (*child.spec).clone();
        spec.runs = Runs::Plugin(plugin);
        child.spec = Arc::new(spec);
        Ok(())
    }

    pub(crate) async fn terminate_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        self.stop_cancelling(index, "terminate_child").await;
        let reason = "terminated by its supervisor (terminate_child)";
        if self.children[index].spec.restart == RestartType::Temporary || self.policy.dynamic {
            let _ = self.remove(index, reason).await;
        } else {
            self.park(index, reason);
        }
        Ok(())
    }

    pub(crate) async fn restart_child(&mut self, id: &str) -> Result<Started, ChildError> {
        let index = self.undefined_child(id, "restart_child")?;
        match self.start_one(index, false).await {
            Ok(started) => Ok(started),
            Err(reason) => {
                self.park(index, &format!("restart_child failed: {reason}"));
                Err(ChildError::StartFailed {
                    id: id.to_owned(),
                    reason,
                })
            }
        }
    }

    /// Stops the child at `index` by its shutdown spec, or cancels its
    /// pending restart; when that restart was a group's (one-for-all,
    /// rest-for-one), the siblings waiting for it stay down (undefined), as
    /// `what` cancelled it.
    async fn stop_cancelling(&mut self, index: usize, what: &str) {
        let cancels_a_group_restart = self.children[index].state == ChildState::Restarting
            && self.strategy != Strategy::OneForOne;
        self.stop_one(index).await;
        if cancels_a_group_restart {
            let id = self.children[index].spec.id.clone();
            for i in 0..self.children.len() {
                if i != index && self.children[i].state == ChildState::Restarting {
                    self.park(
                        i,
                        &format!("its group restart was cancelled ({what} `{id}`)"),
                    );
                }
            }
        }
    }

    /// See [`SupervisorRef::restart_running`](super::SupervisorRef::restart_running).
    pub(crate) async fn restart_running(&mut self, id: &str) -> Result<Started, ChildError> {
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        self.stop_cancelling(index, "restart by hand").await;
        match self.start_one(index, false).await {
            Ok(started) => Ok(started),
            Err(reason) => {
                let why = format!("restarted by hand, it failed to start: {reason}");
                if self.policy.dynamic {
                    drop(self.remove(index, &why));
                } else {
                    self.park(index, &why);
                }
                Err(ChildError::StartFailed {
                    id: id.to_owned(),
                    reason,
                })
            }
        }
    }

    pub(crate) async fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.undefined_child(id, "delete_child")?;
        let _ = self
            .remove(index, "deleted by its supervisor (delete_child)")
            .await;
        Ok(())
    }

    /// The index of child `id` if `operation` may act on it: it exists, is
    /// neither running nor restarting, and the supervisor is not dynamic.
    pub(crate) fn undefined_child(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<usize, ChildError> {
        if self.policy.dynamic {
            return Err(ChildError::Unsupported(operation));
        }
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        match self.children[index].settled() {
            ChildState::Running(_) => Err(ChildError::Running(id.to_owned())),
            ChildState::Restarting | ChildState::Starting(_) => {
                Err(ChildError::Restarting(id.to_owned()))
            }
            ChildState::Undefined => Ok(index),
        }
    }
}
