//! Lifecycle events: what happened to actors and supervisors, as it happens.
//!
//! Every event is logged (crashes and give-ups at `warn`/`error`) and sent to
//! every subscriber of [`Host::subscribe`](crate::Host::subscribe). A slow
//! subscriber misses events (it is told how many) rather than slowing down
//! the host.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::error::ExitReason;
use crate::health::HealthStatus;
use crate::metrics::Metrics;

/// How many events a subscriber may fall behind before it misses some.
const EVENT_BACKLOG: usize = 4096;

/// Something that happened to an actor or a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// A new instance of the actor is running.
    ActorStarted {
        /// The actor's name.
        actor: String,
        /// The new instance's id.
        instance: u64,
    },
    /// An instance ended.
    ActorExited {
        /// The actor's name.
        actor: String,
        /// The instance that ended.
        instance: u64,
        /// How it ended.
        reason: ExitReason,
    },
    /// The supervisor will restart the actor after `delay_ms`.
    RestartScheduled {
        /// The actor's name.
        actor: String,
        /// The wait before the attempt, in milliseconds.
        delay_ms: u64,
    },
    /// A restart attempt failed; the supervisor will try again (and count it).
    RestartFailed {
        /// The actor's name.
        actor: String,
        /// Why the start failed.
        reason: String,
    },
    /// The actor's health changed.
    HealthChanged {
        /// The actor's name.
        actor: String,
        /// The new status.
        status: HealthStatus,
    },
    /// The actor is stopped for good and will not be restarted.
    ActorStopped {
        /// The actor's name.
        actor: String,
        /// Why.
        reason: String,
    },
    /// The actor runs another version of its plugin from now on (a hot
    /// upgrade, or a new version picked up between instances).
    ActorUpgraded {
        /// The actor's name.
        actor: String,
        /// The new version (see [`Plugin::version`](crate::Plugin::version)).
        version: String,
    },
    /// A hot upgrade was refused; the running version goes on.
    UpgradeFailed {
        /// The actor's name.
        actor: String,
        /// Why, naming the refused version.
        reason: String,
    },
    /// A plugin file in a watched directory could not be loaded or started
    /// (what runs, if anything, goes on).
    PluginRejected {
        /// The plugin's name (its file name without `.wasm`).
        plugin: String,
        /// Why, naming the file.
        reason: String,
    },
    /// A message crashed its actor on every delivery and went to the dead
    /// letters.
    DeadLettered {
        /// The actor.
        actor: String,
        /// The dead letter's id.
        id: u64,
        /// How many deliveries crashed.
        attempts: u32,
    },
    /// A supervisor exceeded its restart intensity, stopped its children and
    /// gave up.
    SupervisorGaveUp {
        /// The supervisor's name.
        supervisor: String,
        /// Why, with the numbers.
        reason: String,
    },
}

impl Event {
    /// The kind of event, as in its JSON form (`actor-started`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ActorStarted { .. } => "actor-started",
            Event::ActorExited { .. } => "actor-exited",
            Event::RestartScheduled { .. } => "restart-scheduled",
            Event::RestartFailed { .. } => "restart-failed",
            Event::HealthChanged { .. } => "health-changed",
            Event::ActorStopped { .. } => "actor-stopped",
            Event::ActorUpgraded { .. } => "actor-upgraded",
            Event::UpgradeFailed { .. } => "upgrade-failed",
            Event::PluginRejected { .. } => "plugin-rejected",
            Event::DeadLettered { .. } => "dead-lettered",
            Event::SupervisorGaveUp { .. } => "supervisor-gave-up",
        }
    }
}

/// Sends events to the log and to subscribers. Cheap to clone.
#[derive(Clone)]
pub(crate) struct EventBus {
    sender: broadcast::Sender<Event>,
    metrics: Arc<Metrics>,
}

impl EventBus {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        EventBus {
            sender: broadcast::channel(EVENT_BACKLOG).0,
            metrics,
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    pub(crate) fn publish(&self, event: Event) {
        match &event {
            Event::ActorStarted { actor, instance } => {
                tracing::info!(actor, instance, "actor started");
            }
            Event::ActorExited {
                actor,
                instance,
                reason,
            } => {
                if reason.is_normal() {
                    tracing::info!(actor, instance, "actor {reason}");
                } else {
                    tracing::warn!(actor, instance, "actor {reason}");
                }
            }
            Event::RestartScheduled { actor, delay_ms } => {
                tracing::info!(actor, delay_ms, "restarting actor");
            }
            Event::RestartFailed { actor, reason } => {
                tracing::warn!(actor, "restart failed: {reason}");
            }
            Event::HealthChanged { actor, status } => {
                tracing::info!(actor, "health: {status}");
            }
            Event::ActorStopped { actor, reason } => {
                tracing::warn!(actor, "actor stopped: {reason}");
            }
            Event::DeadLettered {
                actor,
                id,
                attempts,
            } => {
                tracing::warn!(
                    actor,
                    id,
                    attempts,
                    "poison message moved to the dead letters"
                );
            }
            Event::ActorUpgraded { actor, version } => {
                tracing::info!(actor, version, "actor upgraded");
            }
            Event::UpgradeFailed { actor, reason } => {
                tracing::error!(
                    actor,
                    "upgrade refused, the running version goes on: {reason}"
                );
            }
            Event::PluginRejected { plugin, reason } => {
                tracing::error!(plugin, "{reason}");
            }
            Event::SupervisorGaveUp { supervisor, reason } => {
                tracing::error!(supervisor, "supervisor gave up: {reason}");
            }
        }
        self.metrics.record(&event);
        // No subscribers is fine: the event has been logged.
        let _ = self.sender.send(event);
    }
}
