//! The protocol between a supervisor and its child's task: what the
//! supervisor asks ([`Control`]), and what the child reports ([`Exit`],
//! [`StartFailure`]). A nested supervisor's cell speaks it too.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::ExitReason;
use crate::runtime::Plugin;
use crate::spec::Shutdown;

/// What a supervisor tells its actor task.
pub(crate) enum Control {
    /// Start a new instance with this id; answer as `reply` says, when it
    /// runs (or why not).
    Start {
        instance: u64,
        /// Whether this start is a restart: counted in the actor's
        /// `restarts` before the new instance answers anything, so a caller
        /// served by it never sees the old count.
        restart: bool,
        reply: StartReply,
    },
    /// Stop the running instance (if any) following `shutdown`; answer with
    /// how it ended. A stop is never reported as an exit.
    Stop {
        shutdown: Shutdown,
        reply: oneshot::Sender<Option<ExitReason>>,
    },
    /// Switch to another version of the plugin (a hot upgrade, see
    /// [`ActorTask::upgrade`]); answer whether it took. Between instances,
    /// the next start uses it.
    Upgrade {
        plugin: Plugin,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// While no instance runs, answer every message with
    /// [`CallError::Stopped`] and `reason` (instead of keeping it for the
    /// next instance), until the next `Start`.
    Park { reason: String },
    /// Stop for good: answer every waiting and later message with
    /// [`CallError::Stopped`], and end the task; `done` is dropped once the
    /// task has let go of everything it held (the state store among them).
    Close {
        reason: String,
        done: Option<oneshot::Sender<()>>,
    },
}

/// Where the outcome of a [`Control::Start`] goes.
pub(crate) enum StartReply {
    /// To the supervisor, which waits for it: a first start, or a restart
    /// whose siblings start after it.
    Awaited(oneshot::Sender<Result<(), String>>),
    /// A restart nobody waits for: the supervisor went on as if the instance
    /// ran, and hears here only if it failed to start. Being told of a
    /// success would wake the supervisor's task in the same turn as the
    /// first caller the new instance answers, and with two tasks woken at
    /// once, tokio wakes a second worker thread for one of them.
    Unawaited(mpsc::UnboundedSender<StartFailure>),
}

impl StartReply {
    /// Sends how starting instance `instance` of `child` went.
    pub(crate) fn send(self, child: &Arc<str>, instance: u64, outcome: Result<(), String>) {
        match (self, outcome) {
            (StartReply::Awaited(reply), outcome) => {
                let _ = reply.send(outcome);
            }
            (StartReply::Unawaited(failures), Err(reason)) => {
                // A closed channel means the supervisor is stopping.
                let _ = failures.send(StartFailure {
                    child: Arc::clone(child),
                    instance,
                    reason,
                });
            }
            (StartReply::Unawaited(_), Ok(())) => {}
        }
    }
}

/// An instance that failed to start, for a supervisor that did not wait
/// (see [`StartReply::Unawaited`]).
pub(crate) struct StartFailure {
    pub(crate) child: Arc<str>,
    pub(crate) instance: u64,
    pub(crate) reason: String,
}

/// An instance exit the actor reports to its supervisor.
pub(crate) struct Exit {
    pub(crate) child: Arc<str>,
    pub(crate) instance: u64,
    pub(crate) reason: ExitReason,
}
