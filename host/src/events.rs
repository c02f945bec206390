//! Lifecycle events: what happened to actors and supervisors, as it happens.
//!
//! Every event is logged (crashes and give-ups at `warn`/`error`) and sent to
//! every subscriber of [`Host::subscribe`](crate::Host::subscribe). A slow
//! subscriber misses events (it is told how many) rather than slowing down
//! the host.
//!
//! The host also keeps the last [`RECENT_EVENTS`] events, numbered and
//! timestamped ([`RecordedEvent`]), so that a page or a command opened after
//! a crash can still see it ([`Host::recent_events`](crate::Host::recent_events),
//! and the admin endpoint's `/v1/events?since=N`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::error::ExitReason;
use crate::health::HealthStatus;
use crate::metrics::Metrics;

/// How many events a subscriber may fall behind before it misses some.
const EVENT_BACKLOG: usize = 4096;
/// How many past events the host keeps.
pub const RECENT_EVENTS: usize = 1000;

/// An event, numbered and timestamped by the host that published it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RecordedEvent {
    /// Counts up from 1 with every event the host publishes.
    pub seq: u64,
    /// When it was published, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

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
    /// The same events, numbered and timestamped, for the admin endpoint.
    recorded: broadcast::Sender<Arc<RecordedEvent>>,
    recent: Arc<Mutex<Recent>>,
    metrics: Arc<Metrics>,
}

/// The last [`RECENT_EVENTS`] events and the next event's number.
#[derive(Default)]
struct Recent {
    next_seq: u64,
    events: VecDeque<Arc<RecordedEvent>>,
}

impl EventBus {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        EventBus {
            sender: broadcast::channel(EVENT_BACKLOG).0,
            recorded: broadcast::channel(EVENT_BACKLOG).0,
            recent: Arc::new(Mutex::new(Recent {
                next_seq: 1,
                events: VecDeque::new(),
            })),
            metrics,
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // Pushes and pops only: a poisoned lock still holds whole events.
        self.recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept events numbered after `since` (none for `None`), oldest
    /// first, and a subscription to every event after them: none missed,
    /// none twice. A `since` this host has not reached yet (a number from
    /// an earlier run of the host) gets every kept event.
    pub(crate) fn since(
        &self,
        since: Option<u64>,
    ) -> (
        Vec<Arc<RecordedEvent>>,
        broadcast::Receiver<Arc<RecordedEvent>>,
    ) {
        // Under the lock that `publish` numbers and sends under.
        let recent = self.recent();
        let kept = match since {
            None => Vec::new(),
            Some(since) => {
                let since = if since >= recent.next_seq { 0 } else { since };
                recent
                    .events
                    .iter()
                    .filter(|recorded| recorded.seq > since)
                    .cloned()
                    .collect()
            }
        };
        (kept, self.recorded.subscribe())
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
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, crate::error::millis);
        {
            let mut recent = self.recent();
            let recorded = Arc::new(RecordedEvent {
                seq: recent.next_seq,
                at_ms,
                event: event.clone(),
            });
            recent.next_seq += 1;
            if recent.events.len() == RECENT_EVENTS {
                recent.events.pop_front();
            }
            recent.events.push_back(recorded.clone());
            // Sent under the lock, so that `since` sees each event either
            // in the kept ones or in its subscription.
            let _ = self.recorded.send(recorded);
        }
        // No subscribers is fine: the event has been logged.
        let _ = self.sender.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(instance: u64) -> Event {
        Event::ActorStarted {
            actor: "a".into(),
            instance,
        }
    }

    fn seqs(events: &[Arc<RecordedEvent>]) -> Vec<u64> {
        events.iter().map(|recorded| recorded.seq).collect()
    }

    #[test]
    fn the_bus_keeps_the_last_events_numbered_and_hands_over_to_live_ones() {
        let bus = EventBus::new(Arc::new(Metrics::new()));
        let total = RECENT_EVENTS as u64 + 5;
        for instance in 1..=total {
            bus.publish(started(instance));
        }
        let (kept, _) = bus.since(Some(0));
        assert_eq!(kept.len(), RECENT_EVENTS);
        assert_eq!(kept[0].seq, 6, "the oldest ones make room");
        assert_eq!(kept[0].event, started(6));
        assert!(kept[0].at_ms > 0);

        let (after, mut live) = bus.since(Some(total - 2));
        assert_eq!(seqs(&after), [total - 1, total]);
        bus.publish(started(0));
        assert_eq!(live.try_recv().unwrap().seq, total + 1);

        // Nothing kept from a subscription from now on; everything kept for
        // a number from an earlier run of the host.
        assert!(bus.since(None).0.is_empty());
        assert_eq!(bus.since(Some(total + 100)).0.len(), RECENT_EVENTS);
    }
}
