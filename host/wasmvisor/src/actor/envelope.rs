//! A message on its way through an actor: the bytes, who waits for the
//! answer and how it reaches them, and the crashes of earlier deliveries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use crate::error::{CallError, CrashReason, ExitReason};

/// What a caller gets for a message: the guest's reply or why there is none.
pub(crate) type Outcome = Result<Vec<u8>, CallError>;

/// Who waits for a message's outcome, and how it reaches them.
pub(crate) enum Reply {
    /// Nobody: a cast.
    Nobody,
    /// A caller whose message went through the mailbox, on this channel.
    Channel(oneshot::Sender<Outcome>),
    /// The caller the message was handed off to, which runs the guest
    /// itself: the outcome is returned to it, no channel needed (see
    /// [`ActorCore::serve`]).
    HandedOff,
    /// Nobody either: a message answered by a new version on probation,
    /// handled again by the previous version after a rollback (S21). Its
    /// caller has its answer already; a refusal now is only logged.
    Replayed,
}

impl Reply {
    /// Gives `outcome` to whoever waits for it; returns it instead when that
    /// is the caller the message was handed off to.
    pub(crate) fn send(self, outcome: Outcome) -> Option<Answer> {
        match self {
            Reply::Nobody => None,
            Reply::Channel(reply) => {
                // The caller may have given up waiting; that is its business.
                let _ = reply.send(outcome);
                None
            }
            Reply::HandedOff => Some(Answer::Now(outcome)),
            Reply::Replayed => {
                if let Err(error) = outcome {
                    tracing::warn!(
                        "a message the rolled-back version had answered was not taken \
                         again by the previous version: {error}"
                    );
                }
                None
            }
        }
    }

    /// Readies the reply of a message kept for a later instance: a
    /// handed-off caller waits on a channel from now on, returned here.
    pub(crate) fn wait_later(&mut self) -> Option<Answer> {
        if !matches!(self, Reply::HandedOff) {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        *self = Reply::Channel(reply);
        Some(Answer::Later(answer))
    }
}

/// The answer for a handed-off caller.
pub(crate) enum Answer {
    /// Handled: here is the outcome.
    Now(Outcome),
    /// Kept for a later instance (redelivery): the outcome comes on this.
    Later(oneshot::Receiver<Outcome>),
}

/// What handling a message came to.
pub(crate) struct Handled {
    /// How the instance ended, if the message ended it: a crash, or the
    /// end the guest asked for (`exit.shutdown`).
    pub(crate) exit: Option<ExitReason>,
    /// The answer, when the message was handed off ([`Reply::HandedOff`]);
    /// others are answered on their channel.
    pub(crate) answer: Option<Answer>,
    /// Whether the guest answered it `ok` and its writes were committed.
    pub(crate) acknowledged: bool,
}

pub(crate) struct Envelope {
    pub(crate) message: Vec<u8>,
    pub(crate) reply: Reply,
    /// Why each earlier delivery of this message crashed (with redelivery).
    pub(crate) crashes: Vec<CrashReason>,
    /// Counts it as waiting for the actor task, while it does (`None` for a
    /// handed-off message, until it is kept for redelivery).
    pub(crate) waiting: Option<Waiting>,
}

impl Envelope {
    /// Whether the message is a call whose caller gave up waiting (dropped
    /// its future, or its deadline passed) before any delivery started: it
    /// is then dropped unhandled. One that started once is not: its first
    /// delivery may have had effects, and redelivery or the dead letters
    /// decide what becomes of it.
    pub(crate) fn abandoned(&self) -> bool {
        self.crashes.is_empty() && matches!(&self.reply, Reply::Channel(reply) if reply.is_closed())
    }

    /// A message for the mailbox, counted in `waiting` (the actor's count of
    /// messages that wait for its task).
    pub(crate) fn queued(waiting: &Arc<AtomicUsize>, message: Vec<u8>, reply: Reply) -> Self {
        Envelope {
            message,
            reply,
            crashes: Vec::new(),
            waiting: Some(Waiting::new(waiting)),
        }
    }
}

/// Counts one message waiting for the actor task (in the mailbox, or kept
/// for the next instance) for as long as it exists. A caller hands its
/// message off only when none waits, so that the messages of one caller keep
/// their order (a `cast` then a `call` from one task: the call waits for the
/// cast). It holds the count alone, not the core: envelopes kept for the
/// next instance sit on the core's desk, and must not keep it alive.
pub(crate) struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(Arc::clone(count))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers a message that is not handled: one for an actor that is parked
/// or closed, where only queued and kept messages wait (a kept handed-off
/// message waits on a channel, see [`Reply::wait_later`]).
pub(crate) fn respond(reply: Reply, outcome: Outcome) {
    // Nothing is returned for a queued message.
    let _ = reply.send(outcome);
}
