//! Lifecycle events: what happened to actors and supervisors, as it happens.
//!
//! Every event is logged (crashes and give-ups at `warn`/`error`), handed to
//! the host's listeners as it is published (the metrics are one: they
//! listen, they are not called), and sent to every subscriber of
//! [`Host::subscribe`](crate::Host::subscribe). A slow subscriber misses
//! events (it is told how many) rather than slowing down the host.
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
use crate::util::{lock, millis};

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
///
/// ```no_run
/// # async fn example(host: wasmvisor::Host) {
/// use wasmvisor::{Event, ExitReason};
///
/// let mut events = host.subscribe();
/// while let Ok(event) = events.recv().await {
///     if let Event::ActorExited { actor, reason: ExitReason::Crash(crash), .. } = &event {
///         eprintln!("{actor} crashed: {crash} ({})", crash.kind());
///     }
/// }
/// # }
/// ```
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
        /// Whether its supervisor restarted it (after an exit), rather than
        /// starting it for the first time or by hand.
        restart: bool,
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
    /// A hot upgrade began: `to` is compiled and about to be started from
    /// the state of `from`, which runs until `to` takes over (S21 of
    /// `docs/design/supervision.md`).
    UpgradeStarted {
        /// The actor's name.
        actor: String,
        /// The running version.
        from: String,
        /// The version that is to take over.
        to: String,
    },
    /// A hot upgrade is kept for good: its new version passed its
    /// probation (or was upgraded with none).
    UpgradeCommitted {
        /// The actor's name.
        actor: String,
        /// The version it runs.
        version: String,
    },
    /// A hot upgrade was undone, and the previous version runs with the
    /// state it had at takeover: refused before the new version took over
    /// (`in_probation: false`: it did not start, restore, or pass its first
    /// health check), or rolled back during its probation (it crashed or
    /// failed a health check; the messages it answered are handled again by
    /// the previous version).
    UpgradeRolledBack {
        /// The actor's name.
        actor: String,
        /// The version that was undone.
        version: String,
        /// Why.
        reason: String,
        /// Whether the new version had taken over (and was on probation).
        in_probation: bool,
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
            Event::UpgradeStarted { .. } => "upgrade-started",
            Event::UpgradeCommitted { .. } => "upgrade-committed",
            Event::UpgradeRolledBack { .. } => "upgrade-rolled-back",
            Event::PluginRejected { .. } => "plugin-rejected",
            Event::DeadLettered { .. } => "dead-lettered",
            Event::SupervisorGaveUp { .. } => "supervisor-gave-up",
        }
    }
}

/// Something that hears of every event as it is published, in the
/// publisher's turn (so that what it records is up to date once the event is
/// out). It must be quick and must not block.
pub(crate) trait EventListener: Send + Sync {
    /// Hears of `event`.
    fn on_event(&self, event: &Event);
}

/// Sends events to the log, the listeners and the subscribers. Cheap to
/// clone.
#[derive(Clone)]
pub(crate) struct EventBus {
    sender: broadcast::Sender<Event>,
    /// The same events, numbered and timestamped, for the admin endpoint.
    recorded: broadcast::Sender<Arc<RecordedEvent>>,
    recent: Arc<Mutex<Recent>>,
    /// Names this run of the host in the event stream's ids.
    boot: u64,
    listeners: Arc<[Arc<dyn EventListener>]>,
}

/// A place in a host's event stream: after event `seq` of the run `boot`
/// (`None`: this run). The event stream's ids are positions, written
/// `BOOT-SEQ` (see [`Position::id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The run of the host (see [`Host::boot_id`](crate::Host::boot_id));
    /// `None` for this run.
    pub boot: Option<u64>,
    /// The number of the last event seen (0: none).
    pub seq: u64,
}

impl Position {
    /// Reads `SEQ` or `BOOT-SEQ` (the event stream's ids: `BOOT` in hex).
    pub fn parse(text: &str) -> Option<Position> {
        let text = text.trim();
        match text.split_once('-') {
            Some((boot, seq)) => Some(Position {
                boot: Some(u64::from_str_radix(boot, 16).ok()?),
                seq: seq.parse().ok()?,
            }),
            None => Some(Position {
                boot: None,
                seq: text.parse().ok()?,
            }),
        }
    }

    /// The id of `seq` in the run `boot`, as the event stream sends it.
    pub fn id(boot: u64, seq: u64) -> String {
        format!("{boot:016x}-{seq}")
    }
}

/// What a reader of the event stream gets (see
/// [`Host::replay_events`](crate::Host::replay_events)): the kept events
/// after its position, then every later one, none missed and none twice.
#[derive(Debug)]
#[non_exhaustive]
pub struct Replay {
    /// The kept events after its position, oldest first.
    pub kept: Vec<Arc<RecordedEvent>>,
    /// Events after its position that are no longer kept.
    pub missed: u64,
    /// Every event after the kept ones.
    pub live: broadcast::Receiver<Arc<RecordedEvent>>,
}

/// The last [`RECENT_EVENTS`] events and the next event's number.
#[derive(Default)]
struct Recent {
    next_seq: u64,
    events: VecDeque<Arc<RecordedEvent>>,
}

impl EventBus {
    /// A bus that hands every event to `listeners` too.
    pub(crate) fn new(listeners: Vec<Arc<dyn EventListener>>) -> Self {
        EventBus {
            sender: broadcast::channel(EVENT_BACKLOG).0,
            recorded: broadcast::channel(EVENT_BACKLOG).0,
            recent: Arc::new(Mutex::new(Recent {
                next_seq: 1,
                events: VecDeque::new(),
            })),
            boot: random_boot_id(),
            listeners: listeners.into(),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // Pushes and pops only: a poisoned lock still holds whole events.
        lock(&self.recent)
    }

    /// This run of the host, as the event stream's ids name it: event
    /// numbers start again at 1 when the host restarts.
    pub(crate) fn boot(&self) -> u64 {
        self.boot
    }

    /// The kept events after `since` (none for `None`), oldest first, how
    /// many after it are no longer kept, and a subscription to every event
    /// after the kept ones: none missed, none twice. A position from another
    /// run of the host (another boot, or a number this run has not reached)
    /// gets every kept event.
    pub(crate) fn replay(&self, since: Option<Position>) -> Replay {
        // Under the lock that `publish` numbers and sends under.
        let recent = self.recent();
        let (kept, missed) = match since {
            None => (Vec::new(), 0),
            Some(position) => {
                let other_run = position.boot.is_some_and(|boot| boot != self.boot)
                    || position.seq >= recent.next_seq;
                let after = if other_run { 0 } else { position.seq };
                let kept: Vec<_> = recent
                    .events
                    .iter()
                    .filter(|recorded| recorded.seq > after)
                    .cloned()
                    .collect();
                let oldest = kept.first().map_or(recent.next_seq, |first| first.seq);
                (kept, oldest.saturating_sub(after.saturating_add(1)))
            }
        };
        Replay {
            kept,
            missed,
            live: self.recorded.subscribe(),
        }
    }

    pub(crate) fn publish(&self, event: Event) {
        match &event {
            Event::ActorStarted {
                actor,
                instance,
                restart,
            } => {
                tracing::info!(actor, instance, restart, "actor started");
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
            Event::UpgradeStarted { actor, from, to } => {
                tracing::info!(actor, from, to, "upgrade started");
            }
            Event::UpgradeCommitted { actor, version } => {
                tracing::info!(actor, version, "upgrade committed");
            }
            Event::UpgradeRolledBack {
                actor,
                version,
                reason,
                in_probation: false,
            } => {
                tracing::error!(
                    actor,
                    version,
                    "upgrade refused, the running version goes on: {reason}"
                );
            }
            Event::UpgradeRolledBack {
                actor,
                version,
                reason,
                in_probation: true,
            } => {
                tracing::error!(
                    actor,
                    version,
                    "upgrade rolled back to the previous version and the state it had at takeover: {reason}"
                );
            }
            Event::PluginRejected { plugin, reason } => {
                tracing::error!(plugin, "{reason}");
            }
            Event::SupervisorGaveUp { supervisor, reason } => {
                tracing::error!(supervisor, "supervisor gave up: {reason}");
            }
        }
        for listener in self.listeners.iter() {
            listener.on_event(&event);
        }
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, millis);
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

/// A random id for this run; a clock reading if the system has no
/// randomness to give (it only needs to differ between runs).
fn random_boot_id() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(instance: u64) -> Event {
        Event::ActorStarted {
            actor: "a".into(),
            instance,
            restart: false,
        }
    }

    fn seqs(events: &[Arc<RecordedEvent>]) -> Vec<u64> {
        events.iter().map(|recorded| recorded.seq).collect()
    }

    fn at(seq: u64) -> Option<Position> {
        Some(Position { boot: None, seq })
    }

    #[test]
    fn the_bus_keeps_the_last_events_numbered_and_hands_over_to_live_ones() {
        let bus = EventBus::new(Vec::new());
        let total = RECENT_EVENTS as u64 + 5;
        for instance in 1..=total {
            bus.publish(started(instance));
        }
        let all = bus.replay(at(0));
        assert_eq!(all.kept.len(), RECENT_EVENTS);
        assert_eq!(all.kept[0].seq, 6, "the oldest ones make room");
        assert_eq!(all.kept[0].event, started(6));
        assert!(all.kept[0].at_ms > 0);
        assert_eq!(all.missed, 5);
        assert_eq!(bus.replay(at(3)).missed, 2);

        let mut after = bus.replay(at(total - 2));
        assert_eq!(seqs(&after.kept), [total - 1, total]);
        assert_eq!(after.missed, 0);
        bus.publish(started(0));
        assert_eq!(after.live.try_recv().unwrap().seq, total + 1);

        // Nothing kept for a subscription from now on.
        let now = bus.replay(None);
        assert!(now.kept.is_empty() && now.missed == 0);
        // Everything kept for a position from another run of the host.
        let boot = bus.boot();
        for other_run in [
            at(total + 100),
            at(u64::MAX),
            Some(Position {
                boot: Some(boot ^ 1),
                seq: total,
            }),
        ] {
            let replay = bus.replay(other_run);
            assert_eq!(replay.kept.len(), RECENT_EVENTS, "{other_run:?}");
            assert_eq!(replay.missed, 6, "{other_run:?}");
        }
        let same_run = Position::parse(&Position::id(boot, total)).unwrap();
        assert_eq!(seqs(&bus.replay(Some(same_run)).kept), [total + 1]);
    }

    #[test]
    fn positions_read_back_as_the_stream_writes_them() {
        assert_eq!(Position::parse(" 42 "), at(42));
        assert_eq!(
            Position::parse(&Position::id(0xabc, 7)),
            Some(Position {
                boot: Some(0xabc),
                seq: 7
            })
        );
        assert_eq!(Position::parse("x-1"), None);
        assert_eq!(Position::parse(""), None);
    }

    #[test]
    fn events_published_while_readers_join_reach_each_reader_once_in_order() {
        let bus = EventBus::new(Vec::new());
        let publisher = {
            let bus = bus.clone();
            std::thread::spawn(move || {
                for instance in 1..=2_000 {
                    bus.publish(started(instance));
                }
            })
        };
        let mut readers = Vec::new();
        while !publisher.is_finished() && readers.len() < 500 {
            readers.push(bus.replay(at(0)));
        }
        publisher.join().unwrap();
        for mut reader in readers {
            // Kept ones, then live ones: 1, 2, 3... with no gap or repeat
            // (only the oldest may have made room).
            let mut seen = seqs(&reader.kept);
            while let Ok(recorded) = reader.live.try_recv() {
                seen.push(recorded.seq);
            }
            let first = seen.first().copied().unwrap_or(2_001);
            assert_eq!(reader.missed, first - 1);
            let expected: Vec<u64> = (first..=2_000).collect();
            assert_eq!(seen, expected);
        }
    }
}
