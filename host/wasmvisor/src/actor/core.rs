//! The core of an actor: what handling one message takes, shared by the
//! actor's task and the callers it hands the desk to. Whoever handles a
//! message does the same thing: run the guest, commit, reply, and on a
//! crash decide between answering it, keeping it for redelivery, and the
//! dead letters; then report the exit to the supervisor.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::mpsc;

use super::control::Exit;
use super::desk::Desk;
use super::envelope::{Answer, Envelope, Handled, Waiting};
use super::info::ActorStatus;
use super::shared::ActorShared;
use crate::dead_letters::DeadLetters;
use crate::error::{CallError, CrashReason, ExitReason};
use crate::events::{Event, EventBus};
use crate::metrics::Metrics;
use crate::runtime::World;
use crate::spec::ChildSpec;
use crate::state::StateStore;

/// What handling a message takes: shared by the actor task and the callers
/// it hands the instance to (see the module docs).
pub(crate) struct ActorCore {
    pub(crate) spec: Arc<ChildSpec>,
    /// The world of its component, fixed for the actor's life (an upgrade
    /// to another world is refused): a `wasi:cli` command takes no messages.
    pub(crate) world: World,
    pub(crate) shared: Arc<ActorShared>,
    /// Where the instance's exits go (to the supervisor).
    pub(crate) exits: mpsc::UnboundedSender<Exit>,
    // The parts of the `ActorContext` that handling a message needs, not the
    // context itself: every handle holds the core, and the context's peers
    // (the registry) hold every handle, so the whole host would keep itself
    // alive.
    pub(crate) state_store: Arc<dyn StateStore>,
    pub(crate) events: EventBus,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) dead_letters: Arc<DeadLetters>,
    /// Where each message's handling time is recorded (see `metrics`).
    pub(crate) call_latency: Histogram,
    /// Counts the calls dropped because their caller gave up.
    pub(crate) abandoned: Counter,
    /// The runtime the actor task runs on, where a handed-off message whose
    /// caller gave up is finished (see `hand_off`).
    pub(crate) runtime: tokio::runtime::Handle,
    /// The instance and its bookkeeping: whoever holds the lock runs the
    /// guest.
    pub(crate) desk: Arc<tokio::sync::Mutex<Desk>>,
    /// How many messages wait for the actor task (see `envelope`).
    pub(crate) waiting: Arc<AtomicUsize>,
    /// Whether the actor task took a message from the mailbox and waits for
    /// the desk (a caller has it) to handle it: counted in the mailbox's
    /// depth, as it was not started.
    pub(crate) taken: AtomicBool,
    /// Kills asked from outside ([`ActorRef::kill`](super::ActorRef::kill)),
    /// each answered with the instance it ended, if one ran.
    pub(crate) kills: mpsc::UnboundedSender<KillRequest>,
}

/// An outside kill, answered with the instance it ended (`None`: none ran).
pub(crate) type KillRequest = tokio::sync::oneshot::Sender<Option<u64>>;

impl ActorCore {
    /// Handles one message: answers it, or keeps it for the next instance.
    pub(crate) async fn handle(&self, desk: &mut Desk, mut envelope: Envelope) -> Handled {
        if envelope.abandoned() {
            // Its caller was answered `timeout` (or went away): handling it
            // now would be work no one waits for, and a message that crashes
            // or spins would go on doing so long after.
            self.abandoned.inc();
            tracing::debug!(actor = %self.shared.name, "dropped a call whose caller gave up");
            return Handled {
                exit: None,
                answer: None,
                acknowledged: false,
            };
        }
        let started = Instant::now();
        let Some((instance, snapshots)) = desk.serving() else {
            // No instance (never so: the actor task looks at `ended` first):
            // it waits for the next.
            let answer = envelope.reply.wait_later();
            desk.first.push_back(envelope);
            return Handled {
                exit: None,
                answer,
                acknowledged: false,
            };
        };
        let handled = instance.handle(&envelope.message).await;
        let (outcome, crash) = match handled {
            // Stopped by its supervisor, not crashed by the message: no
            // redelivery, no dead letter.
            Err(CrashReason::Killed) => (Err(self.killed_mid_message()), Some(CrashReason::Killed)),
            Ok(Ok(reply)) => match self.commit(instance, snapshots, false).await {
                Ok(()) => (Ok(reply), None),
                Err(crash) => {
                    let error = match &crash {
                        CrashReason::StateCommit(reason) => CallError::StateCommit {
                            actor: self.shared.name.to_string(),
                            reason: reason.clone(),
                        },
                        CrashReason::Killed => self.killed_mid_message(),
                        other => self.crashed(other),
                    };
                    (Err(error), Some(crash))
                }
            },
            Ok(Err(reason)) => {
                instance.discard_changes();
                let rejected = CallError::Rejected {
                    actor: self.shared.name.to_string(),
                    reason,
                };
                (Err(rejected), None)
            }
            Err(crash) => {
                let answer = self.after_crash(&mut desk.first, envelope, &crash).await;
                return Handled {
                    exit: Some(exit_for(crash)),
                    answer,
                    acknowledged: false,
                };
            }
        };
        // The latency of messages the instance survived (answered or
        // rejected), not of those that ended it.
        let exit = match crash {
            Some(crash) => Some(exit_for(crash)),
            None => {
                self.call_latency.observe(started.elapsed().as_secs_f64());
                self.asked_exit(desk).await
            }
        };
        Handled {
            exit,
            acknowledged: outcome.is_ok(),
            answer: envelope.reply.send(outcome),
        }
    }

    /// Decides what becomes of a message that crashed the instance: answered
    /// with the crash (the default), kept for the next instance (with
    /// redelivery), or, on its last attempt, moved to the dead letters.
    /// Returns the answer for a handed-off caller (see [`Handled`]).
    async fn after_crash(
        &self,
        first: &mut VecDeque<Envelope>,
        mut envelope: Envelope,
        crash: &CrashReason,
    ) -> Option<Answer> {
        let Some(max_attempts) = self.spec.redelivery else {
            return envelope.reply.send(Err(self.crashed(crash)));
        };
        envelope.crashes.push(crash.clone());
        let attempts = u32::try_from(envelope.crashes.len()).unwrap_or(u32::MAX);
        if attempts < max_attempts {
            // It waits for the next instance now, and goes before the others.
            envelope
                .waiting
                .get_or_insert_with(|| Waiting::new(&self.waiting));
            let answer = envelope.reply.wait_later();
            first.push_front(envelope);
            return answer;
        }
        let added = self
            .dead_letters
            .add(&self.shared.name, envelope.message, envelope.crashes)
            .await;
        let id = match added {
            Ok(id) => id,
            Err(e) => {
                // The letter could not be kept: its caller must not be told
                // it was. It gets the crash, as without redelivery.
                tracing::error!(actor = &*self.shared.name, "cannot keep a dead letter: {e}");
                return envelope.reply.send(Err(self.crashed(crash)));
            }
        };
        self.events.publish(Event::DeadLettered {
            actor: self.shared.name.to_string(),
            id,
            attempts,
        });
        envelope.reply.send(Err(CallError::DeadLettered {
            actor: self.shared.name.to_string(),
            attempts,
            id,
            last: crash.clone(),
        }))
    }

    /// Shows the actor as down after `instance` ended (if it is still the
    /// one shown).
    pub(crate) fn mark_down(&self, instance: u64, reason: ExitReason) {
        let mut status = self.shared.lock();
        if status.instance == Some(instance) {
            status.state = ActorStatus::Restarting;
            status.instance = None;
            status.running_since = None;
            status.last_exit = Some(reason);
        }
    }

    /// Marks the actor down and tells the supervisor how `instance` ended.
    pub(crate) fn report_exit(&self, instance: u64, reason: ExitReason) {
        self.mark_down(instance, reason.clone());
        self.events.publish(Event::ActorExited {
            actor: self.shared.name.to_string(),
            instance,
            reason: reason.clone(),
        });
        // A closed channel means the supervisor is stopping; it will close us.
        let _ = self.exits.send(Exit {
            child: Arc::clone(&self.shared.name),
            instance,
            reason,
        });
    }

    /// The answer to a message whose instance was killed (by its supervisor,
    /// or from outside): the message did not crash it (no redelivery, no
    /// dead letter).
    pub(crate) fn killed_mid_message(&self) -> CallError {
        CallError::Stopped {
            actor: self.shared.name.to_string(),
            reason: "killed while handling this message (its writes were discarded)".to_owned(),
        }
    }

    pub(crate) fn crashed(&self, reason: &CrashReason) -> CallError {
        CallError::Crashed {
            actor: self.shared.name.to_string(),
            reason: reason.clone(),
        }
    }
}

/// A guest that exits with code 0 finished normally; any other trap is a crash.
pub(crate) fn exit_for(crash: CrashReason) -> ExitReason {
    match crash {
        CrashReason::Exit(0) => ExitReason::Normal,
        crash => ExitReason::Crash(crash),
    }
}
