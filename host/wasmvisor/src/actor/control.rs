//! The protocol between a supervisor and its child's task: what the
//! supervisor asks ([`Control`]), and what the child reports ([`Started`],
//! [`Exit`], [`StartReport`]). A nested supervisor's cell speaks it too.

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

/// How a start that did not fail went (OTP's `{ok, Pid}` and
/// `{ok, undefined}`): what [`SupervisorRef::start_child`] and its siblings
/// return.
///
/// [`SupervisorRef::start_child`]: crate::SupervisorRef::start_child
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// This instance runs.
    Running(u64),
    /// The plugin's `init` answered the start with `exit.ignore` ("nothing
    /// to do here", OTP's `ignore`): nothing runs. A permanent or transient
    /// child stays listed with no instance (undefined); a temporary one, or
    /// any child of a dynamic supervisor, is removed (S3 of
    /// `docs/design/supervision.md`).
    Ignored,
}

impl Started {
    /// The instance that runs, unless the start was ignored.
    pub fn instance(self) -> Option<u64> {
        match self {
            Started::Running(instance) => Some(instance),
            Started::Ignored => None,
        }
    }
}

/// How a start went: started (or ignored), or why it failed.
pub(crate) type StartOutcome = Result<Started, String>;

/// Where the outcome of a [`Control::Start`] goes.
pub(crate) enum StartReply {
    /// To the supervisor, which waits for it: a first start, or a restart
    /// whose siblings start after it.
    Awaited(oneshot::Sender<StartOutcome>),
    /// A restart nobody waits for: the supervisor went on as if the instance
    /// ran, and hears here only if it failed to start or was ignored. Being
    /// told of a success would wake the supervisor's task in the same turn
    /// as the first caller the new instance answers, and with two tasks
    /// woken at once, tokio wakes a second worker thread for one of them.
    Unawaited(mpsc::UnboundedSender<StartReport>),
}

impl StartReply {
    /// Sends how starting instance `instance` of `child` went.
    pub(crate) fn send(self, child: &Arc<str>, instance: u64, outcome: StartOutcome) {
        match (self, outcome) {
            (StartReply::Awaited(reply), outcome) => {
                let _ = reply.send(outcome);
            }
            (StartReply::Unawaited(_), Ok(Started::Running(_))) => {}
            (StartReply::Unawaited(reports), outcome) => {
                // A closed channel means the supervisor is stopping.
                let _ = reports.send(StartReport {
                    child: Arc::clone(child),
                    instance,
                    outcome,
                });
            }
        }
    }
}

/// A start that did not end running (it failed, or was ignored), for a
/// supervisor that did not wait (see [`StartReply::Unawaited`]).
pub(crate) struct StartReport {
    pub(crate) child: Arc<str>,
    pub(crate) instance: u64,
    pub(crate) outcome: StartOutcome,
}

/// An instance exit the actor reports to its supervisor.
pub(crate) struct Exit {
    pub(crate) child: Arc<str>,
    pub(crate) instance: u64,
    pub(crate) reason: ExitReason,
}
