//! [`ActorRef`]: the cheap, cloneable handle callers hold. A call goes to
//! the guest one of three ways (see `hand_off`'s [`Route`]): handed off to
//! the caller's own task when the actor is idle, kept for the next
//! instance when the current one just ended in a caller's hands, or
//! through the mailbox.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use super::core::ActorCore;
use super::desk::Desk;
use super::envelope::{Answer, Envelope, Reply};
use super::hand_off::{HandOff, Route};
use super::info::{ActorInfo, ActorStatus};
use super::shared::ActorShared;
use crate::error::CallError;
use crate::runtime::{Plugin, World};
use crate::spec::{ChildKind, ChildSpec};

/// A handle to an actor. Cheap to clone, `Send + Sync`, and valid across
/// restarts of the actor: messages sent while it restarts wait for the next
/// instance.
///
/// ```no_run
/// # async fn example(host: wasmvisor::Host) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use wasmvisor::CallError;
///
/// let counter = host.actor("counter").ok_or("no counter")?;
/// let reply = counter.call("inc").await?; // waits for the reply
/// counter.cast("inc").await?; // waits only for room in the mailbox
/// match tokio::time::timeout(Duration::from_secs(1), counter.call("get")).await {
///     Ok(Ok(count)) => println!("{}", String::from_utf8_lossy(&count)),
///     Ok(Err(CallError::Crashed { reason, .. })) => println!("crashed: {reason}"),
///     Ok(Err(other)) => println!("no reply: {other}"),
///     Err(_) => println!("no reply within a second (the message is still handled)"),
/// }
/// # drop(reply); Ok(()) }
/// ```
#[derive(Clone)]
pub struct ActorRef {
    pub(crate) core: Arc<ActorCore>,
    pub(crate) mailbox: mpsc::Sender<Envelope>,
}

impl std::fmt::Debug for ActorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorRef")
            .field("name", &self.core.shared.name)
            .finish()
    }
}

impl ActorRef {
    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.core.shared.name
    }

    /// Kills the running instance at once, even in the middle of a message
    /// (OTP's `exit(Pid, kill)`): no `shutdown` export, no snapshot, the
    /// message's writes discarded and its caller answered
    /// [`CallError::Stopped`]. The exit reason is
    /// [`ExitReason::Killed`](crate::ExitReason::Killed), abnormal: the
    /// supervisor applies the restart type (a permanent or transient child
    /// is restarted, and the restart counts toward the intensity; a
    /// temporary one is removed and its name released). Returns once the
    /// instance is gone and its exit reported, with the id of the instance
    /// it ended, or `None` when none was running (the actor was starting,
    /// restarting or stopped).
    pub async fn kill(&self) -> Option<u64> {
        let (reply, killed) = oneshot::channel();
        {
            // Under the status lock: an instance shown running has not been
            // marked down, so the next one has not reset the switch yet, and
            // the trigger cannot reach a start that comes after.
            let status = self.core.shared.lock();
            if status.state != ActorStatus::Running {
                return None;
            }
            // Asked first, so that whoever the cut-off call returns to finds
            // the request waiting.
            self.core.kills.send(reply).ok()?;
            self.core.shared.kill.trigger();
        }
        killed.await.ok().flatten()
    }

    /// Sends `message` and waits for the reply. Waits for room in the mailbox
    /// when it is full, and for the next instance when the actor is
    /// restarting; wrap it in `tokio::time::timeout` to bound the wait.
    ///
    /// When the actor is idle, the guest runs on the calling task instead of
    /// the actor's (the direct hand-off, see the module docs). Dropping the
    /// returned future (a timeout does) gives up the wait. A message the
    /// actor has not started is then dropped unhandled, counted in
    /// `wasmvisor_messages_abandoned_total`: no one waits for its answer. One
    /// already being handled finishes (on the host's runtime, should the
    /// caller's be shutting down), and its writes are committed.
    ///
    /// # Errors
    ///
    /// [`CallError::Rejected`] when the plugin answered with an error,
    /// [`CallError::Crashed`] when the instance crashed on this message,
    /// [`CallError::Stopped`] when the actor is stopped for good, and
    /// [`CallError::StateCommit`] when the message's state could not be
    /// committed.
    pub async fn call(&self, message: impl Into<Vec<u8>>) -> Result<Vec<u8>, CallError> {
        let message = message.into();
        self.takes_messages()?;
        match self.core.route() {
            Route::HandOff(desk) => self.hand_off(desk, message).await,
            Route::NextInstance(desk) => self.keep_for_next_instance(desk, message).await,
            Route::Mailbox => self.call_queued(message).await,
        }
    }

    /// [`ActorRef::call`] through the mailbox, never handed off: for a
    /// guest calling another actor, whose guest would otherwise run inside
    /// the caller's guest call.
    pub(crate) async fn call_queued(&self, message: Vec<u8>) -> Result<Vec<u8>, CallError> {
        self.takes_messages()?;
        let (reply, answer) = oneshot::channel();
        self.send(Envelope::queued(
            &self.core.waiting,
            message,
            Reply::Channel(reply),
        ))
        .await?;
        // A dropped reply sender means the actor closed with the message unread.
        answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// Handles `message` on this task, with the desk of an idle actor.
    async fn hand_off(
        &self,
        desk: OwnedMutexGuard<Desk>,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let envelope = Envelope {
            message,
            reply: Reply::HandedOff,
            crashes: Vec::new(),
            waiting: None,
        };
        // Allocated before the future is made, so that it is made in place:
        // `Box::pin(serve(..))` made it on the stack and copied it, all
        // 3.5 KB of it (the guest call's future is most of it), with a
        // `rep movsb` that is slow on AMD EPYC: about 0.1 µs a call there.
        let serving = Box::new_uninit();
        let serving = Box::write(serving, Arc::clone(&self.core).serve(desk, envelope));
        let answer = HandOff {
            serving: Some(Box::into_pin(serving)),
            runtime: &self.core.runtime,
        }
        .await;
        match answer {
            Some(Answer::Now(outcome)) => outcome,
            // Dropped unanswered only if the actor closed while the message
            // was kept for redelivery.
            Some(Answer::Later(answer)) => {
                answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
            }
            // Never so: a handed-off message is answered or kept.
            None => Err(self.stopped_error()),
        }
    }

    /// Keeps `message` on the desk for the next instance, which handles it
    /// before the mailbox's messages, and waits for its answer (see
    /// [`Route::NextInstance`]).
    async fn keep_for_next_instance(
        &self,
        mut desk: OwnedMutexGuard<Desk>,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let (reply, answer) = oneshot::channel();
        desk.first.push_back(Envelope::queued(
            &self.core.waiting,
            message,
            Reply::Channel(reply),
        ));
        drop(desk);
        // Dropped unanswered only if the actor closed with it kept.
        answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// Like [`ActorRef::call`], but never waits for room in the mailbox:
    /// when it is full, answers [`CallError::MailboxFull`] at once and sends
    /// nothing (backpressure for callers that would rather shed load).
    ///
    /// # Errors
    ///
    /// [`CallError::MailboxFull`], and those of [`ActorRef::call`].
    pub async fn try_call(&self, message: impl Into<Vec<u8>>) -> Result<Vec<u8>, CallError> {
        let message = message.into();
        self.takes_messages()?;
        match self.core.route() {
            Route::HandOff(desk) => return self.hand_off(desk, message).await,
            // It takes no room in the mailbox.
            Route::NextInstance(desk) => return self.keep_for_next_instance(desk, message).await,
            Route::Mailbox => {}
        }
        let (reply, answer) = oneshot::channel();
        self.try_send(Envelope::queued(
            &self.core.waiting,
            message,
            Reply::Channel(reply),
        ))?;
        answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// Sends `message` without waiting for it to be handled, nor for room in
    /// the mailbox: when the mailbox is full it is refused at once, and
    /// nothing is sent.
    ///
    /// # Errors
    ///
    /// [`CallError::MailboxFull`], and [`CallError::Stopped`] when the actor
    /// is stopped for good.
    pub fn try_cast(&self, message: Vec<u8>) -> Result<(), CallError> {
        self.takes_messages()?;
        self.try_send(Envelope::queued(&self.core.waiting, message, Reply::Nobody))
    }

    /// Puts `envelope` in the mailbox if there is room, without waiting.
    fn try_send(&self, envelope: Envelope) -> Result<(), CallError> {
        self.mailbox
            .try_send(envelope)
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => CallError::MailboxFull {
                    actor: self.core.shared.name.to_string(),
                    capacity: self.mailbox.max_capacity(),
                },
                mpsc::error::TrySendError::Closed(_) => self.stopped_error(),
            })
    }

    /// Sends `message` without waiting for it to be handled. Waits only for
    /// room in the mailbox.
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] when the actor is stopped for good.
    pub async fn cast(&self, message: impl Into<Vec<u8>>) -> Result<(), CallError> {
        self.takes_messages()?;
        self.send(Envelope::queued(
            &self.core.waiting,
            message.into(),
            Reply::Nobody,
        ))
        .await
    }

    /// What the actor is doing now.
    pub fn info(&self) -> ActorInfo {
        let in_mailbox = self.mailbox.max_capacity() - self.mailbox.capacity();
        let taken = usize::from(self.core.taken.load(Ordering::SeqCst));
        self.core.shared.info(ChildKind::Worker, in_mailbox + taken)
    }

    async fn send(&self, envelope: Envelope) -> Result<(), CallError> {
        self.mailbox
            .send(envelope)
            .await
            .map_err(|_| self.stopped_error())
    }

    /// Refuses a message at once when the actor's component takes none: a
    /// `wasi:cli` command runs its `main` and reads no mailbox, a `wasi:http`
    /// proxy answers HTTP requests.
    fn takes_messages(&self) -> Result<(), CallError> {
        match self.core.world {
            World::Command => Err(CallError::Rejected {
                actor: self.core.shared.name.to_string(),
                reason: "it is a `wasi:cli` program, which takes no messages: it runs `main` \
                         once per start (arguments and stdin come from its manifest's \
                         `[program]`, or a one-off run)"
                    .to_owned(),
            }),
            World::HttpProxy => Err(CallError::Rejected {
                actor: self.core.shared.name.to_string(),
                reason: format!(
                    "it is a `wasi:http` proxy, which takes no messages: send it HTTP requests{}",
                    match &self.core.shared.lock().url {
                        Some(url) => format!(" at {url}"),
                        None => String::new(),
                    }
                ),
            }),
            World::Plugin => Ok(()),
        }
    }

    fn stopped_error(&self) -> CallError {
        let reason = match &self.core.shared.lock().state {
            ActorStatus::Stopped(reason) => reason.clone(),
            _ => "the actor is gone".to_owned(),
        };
        CallError::Stopped {
            actor: self.core.shared.name.to_string(),
            reason,
        }
    }

    /// Whether both handles reach the same actor.
    pub(crate) fn same_actor(&self, other: &ActorRef) -> bool {
        Arc::ptr_eq(&self.core.shared, &other.core.shared)
    }

    /// Its child spec, and the version of its component it runs now.
    pub(crate) fn spec_and_plugin(&self) -> (Arc<ChildSpec>, Option<Plugin>) {
        let plugin = self.core.shared.lock().plugin.clone();
        (Arc::clone(&self.core.spec), plugin)
    }

    pub(crate) fn shared(&self) -> &Arc<ActorShared> {
        &self.core.shared
    }
}
