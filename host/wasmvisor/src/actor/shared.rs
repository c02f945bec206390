//! What an actor's task, its supervisor and its handles share: the status
//! listings read, the kill switch, and the gauges of its memory and state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::info::{ActorInfo, ActorStatus, ProbationInfo};
use crate::error::ExitReason;
use crate::health::HealthStatus;
use crate::runtime::{Kept, KillSwitch, Plugin, ProgramOutput, World};
use crate::spec::ChildKind;
use crate::util::{lock, millis};

/// What the actor task, its supervisor and its handles share.
pub(crate) struct ActorShared {
    pub(crate) name: Arc<str>,
    status: Mutex<Status>,
    /// Cuts off the guest call in progress when the supervisor kills.
    pub(crate) kill: Arc<KillSwitch>,
    /// The linear memory of the running instance, in bytes.
    pub(crate) memory_bytes: Arc<AtomicU64>,
    /// The size of the committed state, in bytes.
    pub(crate) state_bytes: Arc<AtomicU64>,
}

pub(crate) struct Status {
    pub(crate) state: ActorStatus,
    /// The version of the plugin it runs (workers only).
    pub(crate) version: Option<String>,
    /// The world of the component it runs.
    pub(crate) world: Option<World>,
    /// Where a `wasi:http` actor is served, once it is mounted.
    pub(crate) url: Option<String>,
    /// The version it runs now (a one-off run of it runs this one).
    pub(crate) plugin: Option<Plugin>,
    /// The latest instance's kept output (stdout's, stderr's), where its
    /// [`Stdio`](crate::Stdio) keeps any.
    pub(crate) output: (Option<Arc<Kept>>, Option<Arc<Kept>>),
    pub(crate) instance: Option<u64>,
    pub(crate) restarts: u64,
    pub(crate) health: HealthStatus,
    pub(crate) health_checks: u64,
    pub(crate) health_failures: u32,
    pub(crate) running_since: Option<Instant>,
    pub(crate) last_exit: Option<ExitReason>,
    /// The hot upgrade on probation, if one is.
    pub(crate) probation: Option<ProbationShown>,
}

/// A hot upgrade on probation, as the status keeps it.
pub(crate) struct ProbationShown {
    pub(crate) previous_version: String,
    pub(crate) until: tokio::time::Instant,
    pub(crate) messages_left: u32,
}

impl ActorShared {
    /// A fresh status for `name`, not started yet.
    pub(crate) fn new(name: &str) -> Self {
        ActorShared {
            name: Arc::from(name),
            kill: Arc::default(),
            memory_bytes: Arc::default(),
            state_bytes: Arc::default(),
            status: Mutex::new(Status {
                state: ActorStatus::Starting,
                version: None,
                world: None,
                plugin: None,
                url: None,
                output: (None, None),
                instance: None,
                restarts: 0,
                health: HealthStatus::Unknown,
                health_checks: 0,
                health_failures: 0,
                running_since: None,
                last_exit: None,
                probation: None,
            }),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn info(&self, kind: ChildKind, mailbox_depth: usize) -> ActorInfo {
        let status = self.lock();
        ActorInfo {
            name: self.name.to_string(),
            kind,
            status: status.state.clone(),
            instance: status.instance,
            restarts: status.restarts,
            health: status.health.clone(),
            health_checks: status.health_checks,
            health_failures: status.health_failures,
            uptime_ms: status.running_since.map(|since| millis(since.elapsed())),
            version: status.version.clone(),
            world: status.world,
            url: status.url.clone(),
            output: ProgramOutput::of(&status.output),
            memory_bytes: if status.state == ActorStatus::Running {
                self.memory_bytes.load(Ordering::Relaxed)
            } else {
                0
            },
            state_bytes: self.state_bytes.load(Ordering::Relaxed),
            last_exit: status.last_exit.clone(),
            mailbox_depth,
            probation: status.probation.as_ref().map(|shown| ProbationInfo {
                previous_version: shown.previous_version.clone(),
                remaining_ms: millis(
                    shown
                        .until
                        .saturating_duration_since(tokio::time::Instant::now()),
                ),
                messages_left: shown.messages_left,
            }),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // Status updates are plain field assignments.
        lock(&self.status)
    }
}
