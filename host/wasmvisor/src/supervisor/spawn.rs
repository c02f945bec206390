//! Spawning a child's task from its spec: an actor for a plugin, a nested
//! supervisor's cell for a supervisor spec. Nothing starts until the
//! supervisor sends `Control::Start`.

use std::sync::Arc;

use super::child::{Child, ChildState};
use super::handle::ChildHandle;
use super::nested;
use super::task::SupervisorTask;
use crate::actor;
use crate::spec::{ChildSpec, Runs};

impl SupervisorTask {
    pub(crate) fn new_child(&self, spec: ChildSpec) -> Child {
        let spec = Arc::new(spec);
        let handle = match &spec.runs {
            Runs::Plugin(plugin) => {
                let channels = actor::spawn(
                    self.context.actor.clone(),
                    spec.clone(),
                    plugin.clone(),
                    self.exits_tx.clone(),
                );
                ChildHandle {
                    control: channels.control,
                    shared: channels.actor.shared().clone(),
                    actor: Some(channels.actor),
                    nested: None,
                }
            }
            Runs::Supervisor(sub) => nested::spawn(
                self.context.clone(),
                &spec.id,
                (**sub).clone(),
                self.exits_tx.clone(),
            ),
        };
        Child {
            handle,
            spec,
            state: ChildState::Undefined,
            generation: 0,
            restarts_in_a_row: 0,
            up_since: None,
            timer: None,
            last_start_failure: None,
        }
    }
}
