//! Actors: one task per actor, which owns the mailbox and the current
//! instance, and a cheap, cloneable handle to talk to it.
//!
//! ```text
//!  ActorRef::call ──> mailbox (bounded; outlives every instance)
//!                        │
//!                  actor task ── owns the Store; one message at a time
//!                        │        ├─ handle ok   -> commit state, then reply
//!                        │        ├─ handle err  -> drop state writes, reply the error
//!                        │        └─ trap        -> drop writes, reply Crashed,
//!                        │                          report the exit to the supervisor
//!                  supervisor ── Start / Stop / Park / Upgrade / Close over the
//!                                control channel; a kill switch cuts off a
//!                                guest call in progress (brutal kill, timeout)
//! ```
//!
//! **Direct hand-off.** When the actor is idle (its instance is on the
//! desk, nobody holds it, and no message waits in the mailbox or for
//! redelivery), [`ActorRef::call`] runs the guest itself, on the caller's
//! task: no mailbox, no wake-up of the actor task, no reply across threads.
//! The desk's lock says who runs the guest; the mailbox is kept for when the
//! actor is busy. Whoever handles a message does the same thing (commit,
//! reply, redelivery); when a handed-off message ends the instance, the
//! caller drops it, reports the exit to the supervisor and leaves the crash
//! on the desk, where the actor task finds it when the supervisor's next
//! request wakes it; calls made meanwhile wait on the desk for the next
//! instance rather than in the mailbox, which would wake the actor task for
//! nothing. A caller that gives up (a timeout drops its call) does
//! not cut the guest off: what it started finishes on a task of its own, as
//! it would have in the actor task, on the actor task's runtime (the
//! caller's may be the one going away). A guest's call to another actor (the
//! `actors` import) always goes through the mailbox, so that no guest runs
//! inside another's call.
//!
//! The task lives as long as its child spec. Between instances (while the
//! supervisor waits to restart it) it reads no messages, so they wait in the
//! mailbox and the next instance answers them, in order. When the actor is
//! closed for good, every waiting and later message is answered with
//! [`CallError::Stopped`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};

use crate::dead_letters::DeadLetters;
use crate::engine::Engines;
use crate::error::{CallError, CrashReason, ExitReason, millis};
use crate::events::{Event, EventBus};
use crate::health::{FailureCounter, HealthStatus};
use crate::instance::{Instance, InstanceCount, KillSwitch, StartError, StartParams};
use crate::loader::{Compiled, Plugin};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::spin;
use crate::state::StateStore;
use crate::supervisor::{ChildSpec, Shutdown, SnapshotPolicy};

/// A handle to an actor. Cheap to clone, `Send + Sync`, and valid across
/// restarts of the actor: messages sent while it restarts wait for the next
/// instance.
#[derive(Clone)]
pub struct ActorRef {
    core: Arc<ActorCore>,
    mailbox: mpsc::Sender<Envelope>,
}

impl std::fmt::Debug for ActorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorRef")
            .field("name", &self.core.shared.name)
            .finish()
    }
}

/// What a caller gets for a message: the guest's reply or why there is none.
type Outcome = Result<Vec<u8>, CallError>;

/// Who waits for a message's outcome, and how it reaches them.
enum Reply {
    /// Nobody: a cast.
    Nobody,
    /// A caller whose message went through the mailbox, on this channel.
    Channel(oneshot::Sender<Outcome>),
    /// The caller the message was handed off to, which runs the guest
    /// itself: the outcome is returned to it, no channel needed (see
    /// [`ActorCore::serve`]).
    HandedOff,
}

impl Reply {
    /// Gives `outcome` to whoever waits for it; returns it instead when that
    /// is the caller the message was handed off to.
    fn send(self, outcome: Outcome) -> Option<Answer> {
        match self {
            Reply::Nobody => None,
            Reply::Channel(reply) => {
                // The caller may have given up waiting; that is its business.
                let _ = reply.send(outcome);
                None
            }
            Reply::HandedOff => Some(Answer::Now(outcome)),
        }
    }

    /// Readies the reply of a message kept for a later instance: a
    /// handed-off caller waits on a channel from now on, returned here.
    fn wait_later(&mut self) -> Option<Answer> {
        if !matches!(self, Reply::HandedOff) {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        *self = Reply::Channel(reply);
        Some(Answer::Later(answer))
    }
}

/// The answer for a handed-off caller.
enum Answer {
    /// Handled: here is the outcome.
    Now(Outcome),
    /// Kept for a later instance (redelivery): the outcome comes on this.
    Later(oneshot::Receiver<Outcome>),
}

/// What handling a message came to.
struct Handled {
    /// Why the instance ended, if the message ended it.
    crash: Option<CrashReason>,
    /// The answer, when the message was handed off ([`Reply::HandedOff`]);
    /// others are answered on their channel.
    answer: Option<Answer>,
}

struct Envelope {
    message: Vec<u8>,
    reply: Reply,
    /// Why each earlier delivery of this message crashed (with redelivery).
    crashes: Vec<CrashReason>,
    /// Counts it as waiting for the actor task, while it does (`None` for a
    /// handed-off message, until it is kept for redelivery).
    waiting: Option<Waiting>,
}

impl Envelope {
    /// A message for the mailbox, counted as waiting in `core`.
    fn queued(core: &ActorCore, message: Vec<u8>, reply: Reply) -> Self {
        Envelope {
            message,
            reply,
            crashes: Vec::new(),
            waiting: Some(Waiting::new(&core.waiting)),
        }
    }
}

/// Counts one message waiting for the actor task (in the mailbox, or kept
/// for the next instance) for as long as it exists. A caller hands its
/// message off only when none waits, so that the messages of one caller keep
/// their order (a `cast` then a `call` from one task: the call waits for the
/// cast). It holds the count alone, not the core: envelopes kept for the
/// next instance sit on the core's desk, and must not keep it alive.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(Arc::clone(count))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ActorRef {
    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.core.shared.name
    }

    /// Sends `message` and waits for the reply. Waits for room in the mailbox
    /// when it is full, and for the next instance when the actor is
    /// restarting; wrap it in `tokio::time::timeout` to bound the wait.
    ///
    /// When the actor is idle, the guest runs on the calling task instead of
    /// the actor's (the direct hand-off, see the module docs). Dropping the
    /// returned future gives up the wait, never the message: one already
    /// being handled finishes (on the host's runtime, should the caller's
    /// be shutting down), and its writes are committed.
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
        let (reply, answer) = oneshot::channel();
        self.send(Envelope::queued(&self.core, message, Reply::Channel(reply)))
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
        desk.first
            .push_back(Envelope::queued(&self.core, message, Reply::Channel(reply)));
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
        match self.core.route() {
            Route::HandOff(desk) => return self.hand_off(desk, message).await,
            // It takes no room in the mailbox.
            Route::NextInstance(desk) => return self.keep_for_next_instance(desk, message).await,
            Route::Mailbox => {}
        }
        let (reply, answer) = oneshot::channel();
        self.try_send(Envelope::queued(&self.core, message, Reply::Channel(reply)))?;
        answer.await.unwrap_or_else(|_| Err(self.stopped_error()))
    }

    /// Sends `message` without waiting for it to be handled, nor for room in
    /// the mailbox.
    pub(crate) fn try_cast(&self, message: Vec<u8>) -> Result<(), CallError> {
        self.try_send(Envelope::queued(&self.core, message, Reply::Nobody))
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
        self.send(Envelope::queued(&self.core, message.into(), Reply::Nobody))
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

    pub(crate) fn shared(&self) -> &Arc<ActorShared> {
        &self.core.shared
    }
}

/// Whether a child is an actor or a nested supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildKind {
    /// An actor running a plugin.
    Worker,
    /// A supervisor with children of its own.
    Supervisor,
}

/// A snapshot of what an actor (or a nested supervisor) is doing, for
/// listings (`wasmvisor ps`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ActorInfo {
    /// The actor's name (a nested supervisor's: its name).
    pub name: String,
    /// An actor, or a nested supervisor.
    pub kind: ChildKind,
    /// Running, restarting, or stopped.
    pub status: ActorStatus,
    /// The current instance's id, while one runs.
    pub instance: Option<u64>,
    /// How many times the actor was restarted.
    pub restarts: u64,
    /// The last health check's result.
    pub health: HealthStatus,
    /// Health checks run on the current instance.
    pub health_checks: u64,
    /// Failed health checks in a row (the instance restarts at the
    /// threshold).
    pub health_failures: u32,
    /// How long the current instance has been running, in milliseconds.
    pub uptime_ms: Option<u64>,
    /// How the previous instance ended.
    pub last_exit: Option<ExitReason>,
    /// Messages waiting in the mailbox.
    pub mailbox_depth: usize,
    /// The version of the plugin it runs (see
    /// [`Plugin::version`](crate::Plugin::version)); `None` for a nested
    /// supervisor.
    pub version: Option<String>,
    /// The linear memory of the running instance, in bytes (0 while none
    /// runs).
    pub memory_bytes: u64,
    /// The size of its committed state (keys plus values, as counted
    /// against [`Limits::max_state_bytes`](crate::Limits::max_state_bytes)),
    /// as its last instance saw it; 0 before its first start.
    pub state_bytes: u64,
}

/// The state of an actor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum ActorStatus {
    /// Not started yet.
    Starting,
    /// An instance is running.
    Running,
    /// Waiting to be restarted; messages wait in the mailbox.
    Restarting,
    /// Stopped for good (the reason); messages are answered with an error.
    Stopped(String),
}

impl std::fmt::Display for ActorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorStatus::Starting => write!(f, "starting"),
            ActorStatus::Running => write!(f, "running"),
            ActorStatus::Restarting => write!(f, "restarting"),
            ActorStatus::Stopped(reason) => write!(f, "stopped: {reason}"),
        }
    }
}

/// What the actor task, its supervisor and its handles share.
pub(crate) struct ActorShared {
    name: Arc<str>,
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
    pub(crate) instance: Option<u64>,
    pub(crate) restarts: u64,
    pub(crate) health: HealthStatus,
    pub(crate) health_checks: u64,
    pub(crate) health_failures: u32,
    pub(crate) running_since: Option<Instant>,
    pub(crate) last_exit: Option<ExitReason>,
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
                instance: None,
                restarts: 0,
                health: HealthStatus::Unknown,
                health_checks: 0,
                health_failures: 0,
                running_since: None,
                last_exit: None,
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
            memory_bytes: if status.state == ActorStatus::Running {
                self.memory_bytes.load(Ordering::Relaxed)
            } else {
                0
            },
            state_bytes: self.state_bytes.load(Ordering::Relaxed),
            last_exit: status.last_exit.clone(),
            mailbox_depth,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // Status updates are plain field assignments: a poisoned lock is still consistent.
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

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

/// The channels a supervisor keeps for one child.
pub(crate) struct ActorChannels {
    pub(crate) actor: ActorRef,
    pub(crate) control: mpsc::UnboundedSender<Control>,
}

/// Everything an actor task needs from its host.
#[derive(Clone)]
pub(crate) struct ActorContext {
    pub(crate) engines: Engines,
    pub(crate) state_store: Arc<dyn StateStore>,
    pub(crate) events: EventBus,
    pub(crate) metrics: Arc<Metrics>,
    /// Every actor of the host, by name (for the `actors` import).
    pub(crate) registry: Arc<Registry>,
    /// Where poison messages go.
    pub(crate) dead_letters: Arc<DeadLetters>,
    /// How many instances exist.
    pub(crate) instances: InstanceCount,
}

/// Creates the actor's mailbox and control channel and spawns its task. No
/// instance runs until the supervisor sends [`Control::Start`].
pub(crate) fn spawn(
    context: ActorContext,
    spec: Arc<ChildSpec>,
    plugin: Plugin,
    exits: mpsc::UnboundedSender<Exit>,
) -> ActorChannels {
    let (mailbox_tx, mailbox) = mpsc::channel(spec.limits.mailbox_capacity);
    let (control_tx, control) = mpsc::unbounded_channel();
    let shared = Arc::new(ActorShared::new(&spec.id));
    shared.lock().version = Some(plugin.version().to_owned());
    let core = Arc::new(ActorCore {
        call_latency: context.metrics.call_latency(&spec.id),
        runtime: tokio::runtime::Handle::current(),
        state_store: Arc::clone(&context.state_store),
        events: context.events.clone(),
        metrics: Arc::clone(&context.metrics),
        dead_letters: Arc::clone(&context.dead_letters),
        spec,
        shared: Arc::clone(&shared),
        exits,
        desk: Arc::new(tokio::sync::Mutex::new(Desk {
            instance: None,
            serving_id: 0,
            snapshots: SnapshotClock::default(),
            first: VecDeque::new(),
            ended: None,
        })),
        waiting: Arc::default(),
        taken: AtomicBool::new(false),
    });
    let task = ActorTask {
        core: Arc::clone(&core),
        plugin,
        context,
        mailbox,
        control,
        deferred: None,
    };
    tokio::spawn(task.run());
    ActorChannels {
        actor: ActorRef {
            core,
            mailbox: mailbox_tx,
        },
        control: control_tx,
    }
}

/// A handed-off message being handled on its caller's task. Dropped before
/// it is done (the caller gave up waiting, or its runtime went away), it
/// finishes on a task of its own, on the runtime the actor task runs on: a
/// guest call cut off halfway would leave the instance unusable (wasmtime
/// refuses to enter it again), and the message's writes are committed as
/// the actor task would have.
struct HandOff<'a> {
    serving: Option<Pin<Box<dyn Future<Output = Option<Answer>> + Send>>>,
    /// The actor task's runtime: the caller's may be the one going away.
    runtime: &'a tokio::runtime::Handle,
}

impl Future for HandOff<'_> {
    type Output = Option<Answer>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        // Polled again once done (which a future must not be): no answer.
        let Some(serving) = self.serving.as_mut() else {
            return Poll::Ready(None);
        };
        let answer = std::task::ready!(serving.as_mut().poll(cx));
        self.serving = None;
        Poll::Ready(answer)
    }
}

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        // Should that runtime be shutting down as well, the task is dropped
        // unrun, and the instance with the actor task.
        if let Some(serving) = self.serving.take() {
            self.runtime.spawn(serving);
        }
    }
}

/// What handling a message takes: shared by the actor task and the callers
/// it hands the instance to (see the module docs).
struct ActorCore {
    spec: Arc<ChildSpec>,
    shared: Arc<ActorShared>,
    /// Where the instance's exits go (to the supervisor).
    exits: mpsc::UnboundedSender<Exit>,
    // The parts of the `ActorContext` that handling a message needs, not the
    // context itself: every handle holds the core, and the context's
    // registry holds every handle, so the whole host would keep itself alive.
    state_store: Arc<dyn StateStore>,
    events: EventBus,
    metrics: Arc<Metrics>,
    dead_letters: Arc<DeadLetters>,
    /// Where each message's handling time is recorded (see `metrics`).
    call_latency: Histogram,
    /// The runtime the actor task runs on, where a handed-off message whose
    /// caller gave up is finished (see [`HandOff`]).
    runtime: tokio::runtime::Handle,
    /// The instance and its bookkeeping: whoever holds the lock runs the
    /// guest.
    desk: Arc<tokio::sync::Mutex<Desk>>,
    /// How many messages wait for the actor task (see [`Waiting`]).
    waiting: Arc<AtomicUsize>,
    /// Whether the actor task took a message from the mailbox and waits for
    /// the desk (a caller has it) to handle it: counted in the mailbox's
    /// depth, as it was not started.
    taken: AtomicBool,
}

/// How a call reaches the guest.
enum Route {
    /// The actor is idle: the caller runs the guest now, with this desk.
    HandOff(OwnedMutexGuard<Desk>),
    /// The instance ended in a caller's hands, and the actor task has not
    /// seen it yet (it will when the supervisor's next request wakes it):
    /// the message is kept on this desk for the next instance. Through the
    /// mailbox it would wake the actor task only for it to find the crash
    /// and wait for the supervisor: a wake-up, often of another thread, on
    /// the way to the restart.
    NextInstance(OwnedMutexGuard<Desk>),
    /// Through the mailbox and the actor task: someone runs the guest, a
    /// message waits for the actor task (which this one must not overtake),
    /// or no instance runs.
    Mailbox,
}

/// The running instance, and what goes with it from one message to the next.
struct Desk {
    /// The running instance: on the desk only while it serves.
    instance: Option<Instance>,
    /// Its number (see [`Control::Start`]).
    serving_id: u64,
    snapshots: SnapshotClock,
    /// Messages for the next instance, before the mailbox's: one kept for
    /// redelivery, any the actor task took from the mailbox just as a
    /// handed-off message ended the instance, and calls made after that,
    /// before the actor task saw it (see [`Route::NextInstance`]).
    first: VecDeque<Envelope>,
    /// How the instance ended in a caller's hands (taken off the desk with
    /// it, in the same turn of the lock): the actor task stops serving when
    /// it finds this.
    ended: Option<CrashReason>,
}

impl Desk {
    /// The serving instance and its snapshot clock. The actor task puts the
    /// instance on the desk before serving and takes it off after (a caller
    /// takes off one that crashed in its hands, setting `ended`), and a
    /// caller gets the desk only with one on.
    fn serving(&mut self) -> Option<(&mut Instance, &mut SnapshotClock)> {
        let instance = self.instance.as_mut()?;
        Some((instance, &mut self.snapshots))
    }
}

impl ActorCore {
    /// How a call reaches the guest now: with the desk when nobody holds it
    /// and no message waits for the actor task (see [`Route`]).
    fn route(&self) -> Route {
        if self.waiting.load(Ordering::SeqCst) != 0 {
            return Route::Mailbox;
        }
        // Held by another caller's message, most likely for a moment more:
        // worth a few spins rather than the mailbox (see `spin`).
        let Some(desk) = spin::lock_soon(&self.desk, spin::DESK_SPINS, || {
            self.waiting.load(Ordering::Relaxed) != 0
        }) else {
            return Route::Mailbox;
        };
        if self.waiting.load(Ordering::SeqCst) != 0 {
            Route::Mailbox
        } else if desk.ended.is_some() {
            Route::NextInstance(desk)
        } else if desk.instance.is_some() {
            Route::HandOff(desk)
        } else {
            Route::Mailbox
        }
    }

    /// Handles a handed-off message and returns its answer, once the desk is
    /// free again. When it ends the instance, drops the instance, reports the
    /// exit to the supervisor at once and leaves the crash on the desk, where
    /// the actor task finds it when it next wakes.
    async fn serve(
        self: Arc<Self>,
        mut desk: OwnedMutexGuard<Desk>,
        envelope: Envelope,
    ) -> Option<Answer> {
        let handled = self.handle(&mut desk, envelope).await;
        if let Some(crash) = handled.crash {
            // Never entered again: dropped here and now, before the restart
            // can begin, as the actor task would have.
            drop(desk.instance.take());
            // A kill is the supervisor's own doing: it is waiting to hear
            // of it as a stop, from the actor task.
            if crash != CrashReason::Killed {
                self.report_exit(desk.serving_id, exit_for(crash.clone()));
            }
            // The actor task is not woken for this: the supervisor's next
            // request (start, park, close, or the stop behind a kill) wakes
            // it, and whatever wakes it looks here first. Waking it now
            // would put a thread's wake-up on the way to the restart, for
            // nothing.
            desk.ended = Some(crash);
        }
        handled.answer
    }

    /// Handles one message: answers it, or keeps it for the next instance.
    async fn handle(&self, desk: &mut Desk, mut envelope: Envelope) -> Handled {
        let started = Instant::now();
        let Some((instance, snapshots)) = desk.serving() else {
            // No instance (never so: the actor task looks at `ended` first):
            // it waits for the next.
            let answer = envelope.reply.wait_later();
            desk.first.push_back(envelope);
            return Handled {
                crash: None,
                answer,
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
                    crash: Some(crash),
                    answer,
                };
            }
        };
        // The latency of messages the instance survived (answered or
        // rejected), not of those that ended it.
        if crash.is_none() {
            self.call_latency.observe(started.elapsed().as_secs_f64());
        }
        Handled {
            crash,
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

    /// Snapshots the guest (if it exports `snapshot`, and the snapshot
    /// policy says it is time, or `force`) and commits the changes. A
    /// failure here is a crash: the instance's view of its state can no
    /// longer be trusted.
    async fn commit(
        &self,
        instance: &mut Instance,
        snapshots: &mut SnapshotClock,
        force: bool,
    ) -> Result<(), CrashReason> {
        if instance.has_snapshot() {
            snapshots.messages_since += 1;
            if force || snapshots.due(self.spec.snapshot) {
                instance.take_snapshot().await?;
                *snapshots = SnapshotClock::default();
            }
        }
        self.commit_changes(instance).await
    }

    /// Commits the pending state changes, without a new snapshot.
    async fn commit_changes(&self, instance: &mut Instance) -> Result<(), CrashReason> {
        let changes = instance.take_changes();
        self.commit_these(instance, changes).await
    }

    /// Commits `changes`, taken from `instance`'s pending ones.
    async fn commit_these(
        &self,
        instance: &mut Instance,
        changes: crate::state::Changes,
    ) -> Result<(), CrashReason> {
        if changes.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        match self
            .state_store
            .commit(&self.shared.name, changes.clone())
            .await
        {
            Ok(version) => {
                self.metrics
                    .observe_commit(&self.shared.name, started.elapsed());
                instance.committed_as(changes, version);
                Ok(())
            }
            Err(error) => Err(CrashReason::StateCommit(error.to_string())),
        }
    }

    /// Shows the actor as down after `instance` ended (if it is still the
    /// one shown).
    fn mark_down(&self, instance: u64, reason: ExitReason) {
        let mut status = self.shared.lock();
        if status.instance == Some(instance) {
            status.state = ActorStatus::Restarting;
            status.instance = None;
            status.running_since = None;
            status.last_exit = Some(reason);
        }
    }

    /// Marks the actor down and tells the supervisor how `instance` ended.
    fn report_exit(&self, instance: u64, reason: ExitReason) {
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

    /// The answer to a message whose instance its supervisor killed: the
    /// actor was stopped, the message did not crash it (no redelivery, no
    /// dead letter).
    fn killed_mid_message(&self) -> CallError {
        CallError::Stopped {
            actor: self.shared.name.to_string(),
            reason: "killed by its supervisor while handling this message \
                     (its writes were discarded)"
                .to_owned(),
        }
    }

    fn crashed(&self, reason: &CrashReason) -> CallError {
        CallError::Crashed {
            actor: self.shared.name.to_string(),
            reason: reason.clone(),
        }
    }
}

/// When the current instance was last snapshotted.
struct SnapshotClock {
    messages_since: u32,
    taken_at: Instant,
}

impl Default for SnapshotClock {
    fn default() -> Self {
        SnapshotClock {
            messages_since: 0,
            taken_at: Instant::now(),
        }
    }
}

impl SnapshotClock {
    fn due(&self, policy: SnapshotPolicy) -> bool {
        match policy {
            SnapshotPolicy::EveryMessage => true,
            SnapshotPolicy::EveryMessages(n) => self.messages_since >= n,
            SnapshotPolicy::Interval(interval) => self.taken_at.elapsed() >= interval,
        }
    }
}

struct ActorTask {
    core: Arc<ActorCore>,
    plugin: Plugin,
    context: ActorContext,
    mailbox: mpsc::Receiver<Envelope>,
    control: mpsc::UnboundedReceiver<Control>,
    /// A control request taken just as a handed-off message ended the
    /// instance: handled first, once that exit is reported.
    deferred: Option<Control>,
}

/// What one health probe means for the instance.
enum Probe {
    Passed,
    Crashed(CrashReason),
    /// The failures in a row reached the threshold (the last failure).
    FailedTooOften(String),
}

/// How a hot upgrade went.
enum Upgraded {
    /// The new version runs (it is on the desk now).
    Done,
    /// The new version was refused (why); the old instance goes on.
    Refused(String),
    /// The old instance failed while handing over its state.
    OldCrashed(CrashReason),
}

/// How serving one instance ended.
enum Served {
    /// The instance ended by itself: report it to the supervisor.
    Exited(ExitReason),
    /// A handed-off message ended it, and its caller reported the exit.
    Reported,
    /// The supervisor stopped it; `reply` is owed the exit reason.
    Stopped(ExitReason, oneshot::Sender<Option<ExitReason>>),
    /// The supervisor closed the actor for good while it ran.
    Closed(String, Option<oneshot::Sender<()>>),
}

impl ActorTask {
    async fn run(mut self) {
        // Set while the actor is undefined: messages get this answer.
        let mut parked: Option<String> = None;
        loop {
            let control = match (self.deferred.take(), &parked) {
                (Some(control), _) => Some(control),
                (None, None) => self.control.recv().await,
                (None, Some(reason)) => tokio::select! {
                    control = self.control.recv() => control,
                    Some(envelope) = self.mailbox.recv() => {
                        respond(envelope.reply, Err(CallError::Stopped {
                            actor: self.core.shared.name.to_string(),
                            reason: reason.clone(),
                        }));
                        continue;
                    }
                },
            };
            let Some(control) = control else {
                break;
            };
            match control {
                Control::Start {
                    instance,
                    restart,
                    reply,
                } => match self.start(instance, restart).await {
                    Ok(running) => {
                        parked = None;
                        reply.send(&self.core.shared.name, instance, Ok(()));
                        match self.serve(instance, running).await {
                            Served::Exited(reason) => self.core.report_exit(instance, reason),
                            Served::Reported => {}
                            Served::Stopped(reason, reply) => {
                                self.core.mark_down(instance, reason.clone());
                                self.context.events.publish(Event::ActorExited {
                                    actor: self.core.shared.name.to_string(),
                                    instance,
                                    reason: reason.clone(),
                                });
                                let _ = reply.send(Some(reason));
                            }
                            Served::Closed(reason, done) => {
                                self.close(reason).await;
                                drop(done);
                                return;
                            }
                        }
                    }
                    Err(reason) => reply.send(&self.core.shared.name, instance, Err(reason)),
                },
                // Nothing runs: nothing to stop.
                Control::Stop { reply, .. } => {
                    let _ = reply.send(None);
                }
                Control::Upgrade { plugin, reply } => {
                    self.adopt(plugin);
                    let _ = reply.send(Ok(()));
                }
                Control::Park { reason } => {
                    // Messages kept for the next instance will not get one.
                    let first = std::mem::take(&mut self.core.desk.lock().await.first);
                    for envelope in first {
                        respond(
                            envelope.reply,
                            Err(CallError::Stopped {
                                actor: self.core.shared.name.to_string(),
                                reason: reason.clone(),
                            }),
                        );
                    }
                    parked = Some(reason);
                }
                Control::Close { reason, done } => {
                    self.close(reason).await;
                    drop(done);
                    return;
                }
            }
        }
        // The supervisor is gone without closing us (it panicked): do not
        // leave callers waiting forever.
        self.close("its supervisor is gone".to_owned()).await;
    }

    /// The next control request: the deferred one first.
    async fn next_control(&mut self) -> Option<Control> {
        match self.deferred.take() {
            Some(control) => Some(control),
            None => self.control.recv().await,
        }
    }

    /// `plugin` compiled for the engine with this actor's stack size.
    async fn compiled(&self, plugin: &Plugin) -> Result<Arc<Compiled>, String> {
        let stack = self.core.spec.limits.wasm_stack_bytes;
        let engine = self
            .context
            .engines
            .for_stack(stack)
            .map_err(|e| format!("cannot set up an engine with a {stack} byte stack: {e:#}"))?;
        plugin.compiled_for(&engine).await
    }

    /// Starts instance `instance`; `restart` counts it in `restarts`, in the
    /// same step that shows it running, before anything can observe it.
    async fn start(&mut self, instance: u64, restart: bool) -> Result<Instance, String> {
        self.core.shared.kill.reset();
        let mut running = self.instantiate(&self.plugin.clone()).await?;
        // What `init` wrote is committed before the first message.
        self.core
            .commit_changes(&mut running)
            .await
            .map_err(|crash| crash.to_string())?;
        self.core.desk.lock().await.snapshots = SnapshotClock::default();
        {
            let mut status = self.core.shared.lock();
            status.state = ActorStatus::Running;
            status.instance = Some(instance);
            status.running_since = Some(Instant::now());
            status.health = HealthStatus::Unknown;
            status.health_checks = 0;
            status.health_failures = 0;
            if restart {
                status.restarts += 1;
            }
        }
        self.context.events.publish(Event::ActorStarted {
            actor: self.core.shared.name.to_string(),
            instance,
        });
        Ok(running)
    }

    /// Starts an instance of `plugin` on the committed state (`init` and
    /// `restore` included); what `init` wrote is pending, not committed.
    async fn instantiate(&self, plugin: &Plugin) -> Result<Instance, String> {
        let committed = self
            .context
            .state_store
            .load(&self.core.shared.name)
            .await
            .map_err(|e| format!("cannot load its state: {e}"))?;
        let compiled = self.compiled(plugin).await?;
        let spec = &self.core.spec;
        let started = Instance::start(StartParams {
            compiled: &compiled,
            kill: &self.core.shared.kill,
            memory_gauge: &self.core.shared.memory_bytes,
            state_gauge: &self.core.shared.state_bytes,
            instances: &self.context.instances,
            actor: &self.core.shared.name,
            limits: &spec.limits,
            config: &spec.config,
            capabilities: &spec.capabilities,
            registry: &self.context.registry,
            committed,
        })
        .await;
        match started {
            Ok(running) => Ok(running),
            Err(error @ StartError::Restore(_)) => Err(format!(
                "{error} (the saved state is kept; fix or remove it before restarting)"
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    /// A hot upgrade of the instance on `desk` to `plugin`, between two
    /// messages (the mailbox is not touched: the messages waiting in it go
    /// to whichever version runs after this).
    ///
    /// 1. The old instance is snapshotted and its state committed.
    /// 2. An instance of the new version starts from that state (`init`,
    ///    `restore`), and passes one health check if it exports one.
    /// 3. Then its `init` writes are committed and it takes over; the old
    ///    instance is dropped without `shutdown` (the new one carries on its
    ///    work). Otherwise the new instance is dropped, nothing it did is
    ///    kept, and the old one goes on serving.
    async fn upgrade(&mut self, desk: &mut Desk, plugin: Plugin) -> Upgraded {
        let Some((old, snapshots)) = desk.serving() else {
            return Upgraded::Refused("no instance is running".to_owned());
        };
        if let Err(crash) = self.core.commit(old, snapshots, true).await {
            return Upgraded::OldCrashed(crash);
        }
        let refused =
            |why: String| Upgraded::Refused(format!("version {}: {why}", plugin.version()));
        let mut new = match self.instantiate(&plugin).await {
            Ok(new) => new,
            Err(why) => return refused(format!("it failed to start: {why}")),
        };
        // Kept aside while the health check runs, whose own writes are dropped.
        let init_writes = new.take_changes();
        match new.check_health().await {
            None | Some(Ok(HealthStatus::Healthy | HealthStatus::Degraded(_))) => {}
            Some(Ok(status)) => return refused(format!("its first health check said {status}")),
            Some(Err(crash)) => return refused(format!("its first health check crashed: {crash}")),
        }
        new.discard_changes();
        if let Err(crash) = self.core.commit_these(&mut new, init_writes).await {
            return refused(format!("its `init` writes could not be committed: {crash}"));
        }
        self.adopt(plugin);
        desk.snapshots = SnapshotClock::default();
        desk.instance = Some(new);
        Upgraded::Done
    }

    /// Makes `plugin` the version this actor runs from now on.
    fn adopt(&mut self, plugin: Plugin) {
        self.core.shared.lock().version = Some(plugin.version().to_owned());
        self.context.events.publish(Event::ActorUpgraded {
            actor: self.core.shared.name.to_string(),
            version: plugin.version().to_owned(),
        });
        self.plugin = plugin;
    }

    /// Serves messages, health checks and control requests until instance
    /// number `id` ends.
    async fn serve(&mut self, id: u64, instance: Instance) -> Served {
        let served = self.serve_on_desk(id, instance).await;
        // Off the desk (a crashed instance is dropped here): nobody can be
        // handed it any more.
        let ended = self.core.desk.lock().await.instance.take();
        drop(ended);
        match served {
            // The supervisor killed it mid-call, and its stop request is
            // waiting: answer that instead of reporting a crash.
            Served::Exited(ExitReason::Crash(CrashReason::Killed)) => self.after_kill().await,
            served => served,
        }
    }

    /// The health-check schedule of the fresh instance on `desk` (none
    /// without a `health` export).
    fn health_timer(&self, desk: &Desk) -> Option<Interval> {
        let instance = desk.instance.as_ref()?;
        instance.has_health_check().then(|| {
            let health = &self.core.spec.health;
            let first =
                tokio::time::Instant::now() + health.initial_delay.unwrap_or(health.interval);
            let mut timer = tokio::time::interval_at(first, health.interval);
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
            timer
        })
    }

    /// Waits for the stop (or close) that came with a kill.
    async fn after_kill(&mut self) -> Served {
        loop {
            match self.next_control().await {
                Some(Control::Stop { reply, .. }) => {
                    return Served::Stopped(ExitReason::Killed, reply);
                }
                Some(Control::Close { reason, done }) => return Served::Closed(reason, done),
                Some(Control::Start {
                    instance, reply, ..
                }) => reply.send(
                    &self.core.shared.name,
                    instance,
                    Err("already running".to_owned()),
                ),
                Some(Control::Park { .. }) => {}
                Some(Control::Upgrade { reply, .. }) => {
                    let _ = reply.send(Err("the actor is being stopped".to_owned()));
                }
                None => return Served::Closed("its supervisor is gone".to_owned(), None),
            }
        }
    }

    /// Puts `instance` on the desk and serves until it ends; it is left on
    /// the desk unless it was stopped.
    async fn serve_on_desk(&mut self, id: u64, instance: Instance) -> Served {
        let core = Arc::clone(&self.core);
        let mut desk = core.desk.lock().await;
        let has_job = instance.has_job();
        desk.instance = Some(instance);
        desk.serving_id = id;
        if has_job && let Some(exit) = self.run_job(&mut desk).await {
            return Served::Exited(exit);
        }
        let mut health_timer = self.health_timer(&desk);
        let mut failures = FailureCounter::default();
        // Messages that crashed the previous instance (or were taken just
        // as it ended) go first.
        while let Some(envelope) = desk.first.pop_front() {
            if let Some(crash) = core.handle(&mut desk, envelope).await.crash {
                return Served::Exited(exit_for(crash));
            }
        }
        drop(desk);
        loop {
            tokio::select! {
                biased;
                // (A deferred request is set only as this loop returns.)
                control = self.control.recv() => {
                    let mut desk = core.desk.lock().await;
                    if let Some(crash) = desk.ended.take() {
                        self.deferred = control;
                        return ended_in_hand(crash);
                    }
                    match control {
                        Some(Control::Stop { shutdown, reply }) => {
                            let reason = self.stop_instance(&mut desk, shutdown, true).await;
                            return Served::Stopped(reason, reply);
                        }
                        Some(Control::Start { instance, reply, .. }) => reply.send(
                            &self.core.shared.name,
                            instance,
                            Err("already running".to_owned()),
                        ),
                        Some(Control::Upgrade { plugin, reply }) => {
                            match self.upgrade(&mut desk, plugin).await {
                                Upgraded::Done => {
                                    health_timer = self.health_timer(&desk);
                                    failures = FailureCounter::default();
                                    let _ = reply.send(Ok(()));
                                }
                                Upgraded::Refused(why) => {
                                    self.context.events.publish(Event::UpgradeFailed {
                                        actor: self.core.shared.name.to_string(),
                                        reason: why.clone(),
                                    });
                                    let _ = reply.send(Err(why));
                                }
                                Upgraded::OldCrashed(crash) => {
                                    let _ = reply.send(Err(format!(
                                        "the running version crashed while handing over: {crash}"
                                    )));
                                    return Served::Exited(exit_for(crash));
                                }
                            }
                        }
                        // Only meaningful between instances.
                        Some(Control::Park { .. }) => {}
                        Some(Control::Close { reason, done }) => {
                            self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Closed(reason, done);
                        }
                        None => {
                            self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Closed("its supervisor is gone".to_owned(), None);
                        }
                    }
                },
                due = next_tick(&mut health_timer) => {
                    let mut desk = core.desk.lock().await;
                    if let Some(crash) = desk.ended.take() {
                        return ended_in_hand(crash);
                    }
                    let Some((instance, _)) = desk.serving() else {
                        continue;
                    };
                    match self.probe(instance, &mut failures, due).await {
                        Probe::Passed => {}
                        Probe::Crashed(crash) => return Served::Exited(exit_for(crash)),
                        Probe::FailedTooOften(last) => {
                            // No snapshot of an unhealthy instance: the next one
                            // would only restore what made this one sick.
                            self.stop_instance(&mut desk, self.core.spec.shutdown, false).await;
                            return Served::Exited(ExitReason::HealthCheckFailed(last));
                        }
                    }
                }
                envelope = self.mailbox.recv() => {
                    core.taken.store(envelope.is_some(), Ordering::SeqCst);
                    let mut desk = core.desk.lock().await;
                    core.taken.store(false, Ordering::SeqCst);
                    if let Some(crash) = desk.ended.take() {
                        // For the next instance, after any kept for redelivery.
                        desk.first.extend(envelope);
                        return ended_in_hand(crash);
                    }
                    match envelope {
                        Some(envelope) => {
                            if let Some(crash) = core.handle(&mut desk, envelope).await.crash {
                                return Served::Exited(exit_for(crash));
                            }
                        }
                        // Every handle is gone, the registry's too: nobody can
                        // send again, so the instance can end.
                        None => {
                            let reason =
                                self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Exited(reason);
                        }
                    }
                },
            }
        }
    }

    async fn run_job(&mut self, desk: &mut Desk) -> Option<ExitReason> {
        let (instance, snapshots) = desk.serving()?;
        match instance.run_job().await? {
            Ok(Ok(())) => Some(match self.core.commit(instance, snapshots, true).await {
                Ok(()) => ExitReason::Normal,
                Err(crash) => ExitReason::Crash(crash),
            }),
            Ok(Err(reason)) => Some(ExitReason::Crash(CrashReason::GuestError(reason))),
            Err(crash) => Some(exit_for(crash)),
        }
    }

    /// Runs one health probe that was due at `due`, and records its result.
    async fn probe(
        &self,
        instance: &mut Instance,
        failures: &mut FailureCounter,
        due: tokio::time::Instant,
    ) -> Probe {
        let health = &self.core.spec.health;
        let status = match instance.check_health().await {
            None => return Probe::Passed,
            Some(Ok(status)) => status,
            Some(Err(crash)) => return Probe::Crashed(crash),
        };
        // A health check observes; whatever it wrote is not kept.
        instance.discard_changes();
        let late = due.elapsed();
        let status = if late > health.timeout {
            HealthStatus::Unhealthy(format!(
                "no answer within {} ms (answered after {} ms)",
                millis(health.timeout),
                millis(late)
            ))
        } else {
            status
        };
        let failed_too_often = failures.record(&status, health.threshold);
        let changed = {
            let mut shared = self.core.shared.lock();
            let changed = shared.health != status;
            shared.health = status.clone();
            shared.health_checks += 1;
            shared.health_failures = failures.in_a_row();
            changed
        };
        if changed {
            self.context.events.publish(Event::HealthChanged {
                actor: self.core.shared.name.to_string(),
                status: status.clone(),
            });
        }
        if failed_too_often {
            let last = match &status {
                HealthStatus::Unhealthy(reason) => reason.clone(),
                other => other.to_string(),
            };
            return Probe::FailedTooOften(format!(
                "{last} ({} checks in a row)",
                failures.in_a_row()
            ));
        }
        Probe::Passed
    }

    /// Takes the instance off the desk and stops it following `shutdown`;
    /// returns how it ended. A graceful stop commits the guest's last writes
    /// and, with `snapshot`, snapshots it first (not an unhealthy instance:
    /// the next one would only restore what made this one sick).
    async fn stop_instance(
        &self,
        desk: &mut Desk,
        shutdown: Shutdown,
        snapshot: bool,
    ) -> ExitReason {
        let Some(mut instance) = desk.instance.take() else {
            return ExitReason::Shutdown;
        };
        let timeout = match shutdown {
            Shutdown::BrutalKill => return ExitReason::Killed,
            Shutdown::Timeout(timeout) => timeout,
            // A guest call never outlives its deadline, even here.
            Shutdown::Infinity => self.core.spec.limits.call_timeout,
        };
        let reason = match instance.shutdown(timeout).await {
            Ok(()) => {
                let committed = if snapshot {
                    self.core
                        .commit(&mut instance, &mut desk.snapshots, true)
                        .await
                } else {
                    self.core.commit_changes(&mut instance).await
                };
                match committed {
                    Ok(()) => ExitReason::Shutdown,
                    Err(CrashReason::Killed) => ExitReason::Killed,
                    Err(crash) => ExitReason::Crash(crash),
                }
            }
            Err(CrashReason::DeadlineExceeded { .. } | CrashReason::Killed) => ExitReason::Killed,
            Err(crash) => ExitReason::Crash(crash),
        };
        drop(instance);
        reason
    }

    /// Answers every waiting message with `Stopped` and ends the task; later
    /// sends fail, and are answered the same way by the handle.
    async fn close(mut self, reason: String) {
        {
            let mut status = self.core.shared.lock();
            status.state = ActorStatus::Stopped(reason.clone());
            status.instance = None;
            status.running_since = None;
        }
        self.mailbox.close();
        let kept = std::mem::take(&mut self.core.desk.lock().await.first);
        let waiting = std::iter::from_fn(|| self.mailbox.try_recv().ok());
        for envelope in kept.into_iter().chain(waiting) {
            respond(
                envelope.reply,
                Err(CallError::Stopped {
                    actor: self.core.shared.name.to_string(),
                    reason: reason.clone(),
                }),
            );
        }
    }
}

/// How serving ended when a handed-off message ended the instance: its
/// caller reported the exit, except a kill's, which the supervisor's stop
/// request answers.
fn ended_in_hand(crash: CrashReason) -> Served {
    match crash {
        CrashReason::Killed => Served::Exited(ExitReason::Crash(CrashReason::Killed)),
        _ => Served::Reported,
    }
}

/// A guest that exits with code 0 finished normally; any other trap is a crash.
fn exit_for(crash: CrashReason) -> ExitReason {
    match crash {
        CrashReason::Exit(0) => ExitReason::Normal,
        crash => ExitReason::Crash(crash),
    }
}

/// Answers a message that is not handled: one for an actor that is parked
/// or closed, where only queued and kept messages wait (a kept handed-off
/// message waits on a channel, see [`Reply::wait_later`]).
fn respond(reply: Reply, outcome: Outcome) {
    // Nothing is returned for a queued message.
    let _ = reply.send(outcome);
}

/// The next health tick, or never when the plugin has no health check.
async fn next_tick(timer: &mut Option<Interval>) -> tokio::time::Instant {
    match timer {
        Some(timer) => timer.tick().await,
        None => std::future::pending().await,
    }
}
