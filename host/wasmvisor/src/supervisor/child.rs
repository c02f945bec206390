//! A child as its supervisor's task keeps it: its spec, its handle, its
//! state (running, restarting, undefined) and its restart bookkeeping.

use std::sync::Arc;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::handle::ChildHandle;
use crate::actor::ActorStatus;
use crate::spec::ChildSpec;

pub(crate) struct Child {
    pub(crate) spec: Arc<ChildSpec>,
    pub(crate) handle: ChildHandle,
    pub(crate) state: ChildState,
    /// Bumped whenever a pending restart must be forgotten.
    pub(crate) generation: u64,
    pub(crate) restarts_in_a_row: u32,
    pub(crate) up_since: Option<Instant>,
    /// The pending restart of this child (and its group), if any.
    pub(crate) timer: Option<AbortHandle>,
    /// Why the last restart attempt failed, until one succeeds.
    pub(crate) last_start_failure: Option<String>,
}

impl Child {
    /// Shows instance `instance` running, up since now.
    pub(crate) fn running(&mut self, instance: u64) {
        self.state = ChildState::Running(instance);
        self.up_since = Some(Instant::now());
        self.last_start_failure = None;
    }

    /// Its state as a management call must see it: a start nobody waited
    /// for is `Running` once the child shows that instance running, and
    /// `Restarting` until then.
    pub(crate) fn settled(&self) -> ChildState {
        match self.state {
            ChildState::Starting(instance) => {
                let status = self.handle.shared.lock();
                if status.state == ActorStatus::Running && status.instance == Some(instance) {
                    ChildState::Running(instance)
                } else {
                    ChildState::Restarting
                }
            }
            state => state,
        }
    }

    /// The instance that is (or is becoming) the child's current one: its
    /// exits and start failures are not stale (S16).
    pub(crate) fn current_instance(&self) -> Option<u64> {
        match self.state {
            ChildState::Running(instance) | ChildState::Starting(instance) => Some(instance),
            ChildState::Restarting | ChildState::Undefined => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildState {
    Running(u64),
    /// Asked to start this instance by a restart that does not wait for it
    /// (`SupervisorTask::restart_unawaited`): restarting, as every listing
    /// and management call sees it, until the child shows it running.
    Starting(u64),
    Restarting,
    /// Not running and not going to be restarted (OTP's `undefined` pid).
    Undefined,
}
