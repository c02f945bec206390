//! Supervisors: start actors, watch them, restart them by OTP's rules.
//!
//! ```text
//!        SupervisorRef (stop, which_children, start/terminate/restart/delete child)
//!              │ commands
//!        supervisor task ── restart history (one sliding window)
//!         │    ▲ exits: (child, instance, reason)
//!         │    │ start failures of restarts it did not wait for
//!    Start/Stop/Park/Close
//!         ▼    │
//!     actor task   actor task   ...   (children, in start order)
//! ```
//!
//! The rules, traced to Erlang/OTP's `supervisor` (see
//! `shared/supervision-semantics.md` in the design notes):
//!
//! - Children start one at a time, in order; if one fails to start, those
//!   already started are stopped in reverse order and the supervisor fails
//!   to start, naming the child.
//! - When an instance ends, its child's restart type decides: permanent
//!   always restarts, transient only after an abnormal exit, temporary never
//!   (and its spec is deleted). A child that is not restarted and not deleted
//!   is *undefined*: its name stays, calls to it are answered with the
//!   reason, and `restart_child` can start it again.
//! - The strategy decides who restarts with it: one-for-one only the child;
//!   one-for-all every child; rest-for-one the child and those started after
//!   it. Siblings are stopped in reverse start order, then all are started in
//!   start order; temporary siblings are dropped, and every other child in
//!   the range is started, even one that was undefined. If one fails to
//!   start, the ones already started stay up and the retry applies the
//!   strategy again. The supervisor waits for each child of a restart to
//!   run before it starts the next, but not for the last: that one counts
//!   as running at once, and reports only a failure to start, which is
//!   then handled as if the supervisor had waited (so a restart does not
//!   wake the supervisor's task a second time, on the way to its first
//!   answer).
//! - Every restart *attempt* is recorded in one window per supervisor (a
//!   group restart counts once); the attempt that would make more than
//!   `max_restarts` within `within` is not made: the supervisor stops every
//!   child (reverse order) and gives up, saying why.
//! - A restart waits for the backoff delay first (one delay for a group);
//!   the wait is not a restart. A failed restart is retried, and counts
//!   again.
//! - An exit of an instance that is no longer the child's current one is
//!   stale and ignored; an instance the supervisor stops itself is never
//!   reported as an exit, so it cannot cause a restart. Management calls
//!   (`start_child`, `terminate_child`, `restart_child`, `delete_child`)
//!   never count toward the intensity.

mod nested;
mod spec;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

pub(crate) use self::spec::ChildKind as ChildSpecKind;
pub use self::spec::{
    AutoShutdown, Backoff, ChildSpec, RestartType, Shutdown, SnapshotPolicy, Strategy,
    SupervisorSpec,
};

use crate::actor::{
    self, ActorContext, ActorInfo, ActorRef, ActorShared, ActorStatus, ChildKind, Control, Exit,
    StartFailure, StartReply,
};
use crate::engine::Engines;
use crate::error::{Error, ExitReason, millis};
use crate::events::Event;
use crate::instance::KillSwitch;
use crate::loader::Plugin;
use crate::registry::Registry;

/// What a supervisor needs from its host.
#[derive(Clone)]
pub(crate) struct SupervisorContext {
    pub(crate) actor: ActorContext,
    pub(crate) registry: Arc<Registry>,
    pub(crate) next_instance: Arc<AtomicU64>,
}

impl SupervisorContext {
    fn new_instance_id(&self) -> u64 {
        self.next_instance.fetch_add(1, Ordering::Relaxed)
    }
}

/// Whether a supervisor is still supervising.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum SupervisorStatus {
    /// Supervising its children.
    Running,
    /// Exceeded its restart intensity and stopped its children (why).
    GaveUp(String),
    /// Stopped on request.
    Stopped,
    /// Stopped by itself: its significant children finished (why).
    AutoShutdown(String),
}

impl std::fmt::Display for SupervisorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupervisorStatus::Running => write!(f, "running"),
            SupervisorStatus::GaveUp(reason) => write!(f, "gave up: {reason}"),
            SupervisorStatus::Stopped => write!(f, "stopped"),
            SupervisorStatus::AutoShutdown(reason) => write!(f, "shut itself down: {reason}"),
        }
    }
}

/// How many children a supervisor has, OTP's `count_children`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ChildCounts {
    /// Child specs, whether running or not.
    pub specs: usize,
    /// Children with a live instance (not restarting, not undefined).
    pub active: usize,
    /// Specs that are supervisors.
    pub supervisors: usize,
    /// Specs that are workers (actors).
    pub workers: usize,
}

/// Why a management call on a supervisor was refused (OTP's error cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChildError {
    /// The supervisor has no child with this id.
    #[error("no child `{0}`")]
    NotFound(String),
    /// `start_child`: a child with this id is already running.
    #[error("child `{id}` is already started (instance {instance})")]
    AlreadyStarted {
        /// The child.
        id: String,
        /// Its running instance.
        instance: u64,
    },
    /// `start_child`: a child with this id exists but is not running; use
    /// `restart_child`, or `delete_child` first.
    #[error("child `{0}` is already present (not running): restart or delete it")]
    AlreadyPresent(String),
    /// `restart_child`/`delete_child`: the child is running.
    #[error("child `{0}` is running")]
    Running(String),
    /// `restart_child`/`delete_child`: the child is waiting to be restarted.
    #[error("child `{0}` is restarting")]
    Restarting(String),
    /// `start_child`: the child's name is registered by another actor
    /// (OTP's `already_started(Other)` for a registered name). Nothing was
    /// added.
    #[error("the name `{name}` belongs to another running actor (instance {instance:?})")]
    NameTaken {
        /// The name.
        name: String,
        /// The other actor's current instance (`None` while it restarts).
        instance: Option<u64>,
    },
    /// The host runs as many actors as it may
    /// ([`HostBuilder::max_actors`](crate::HostBuilder::max_actors)).
    #[error("the host may run at most {0} actors")]
    TooManyActors(usize),
    /// The child's spec is invalid.
    #[error("invalid child: {0}")]
    Invalid(String),
    /// The child failed to start (and was not kept, for `start_child`).
    #[error("child `{id}` failed to start: {reason}")]
    StartFailed {
        /// The child.
        id: String,
        /// Why.
        reason: String,
    },
    /// `upgrade_child`: the new version was refused; the running one goes
    /// on.
    #[error("child `{id}` was not upgraded: {reason}")]
    UpgradeFailed {
        /// The child.
        id: String,
        /// Why.
        reason: String,
    },
    /// The supervisor is stopped or has given up.
    #[error("supervisor `{0}` is not running")]
    SupervisorDown(String),
    /// A dynamic supervisor does not support this call.
    #[error("a dynamic supervisor does not support {0}")]
    Unsupported(&'static str),
    /// A dynamic supervisor has as many children as its cap allows.
    #[error("the supervisor already has its maximum of {0} children")]
    MaxChildren(usize),
}

/// A handle to a running supervisor. Cheap to clone.
#[derive(Clone)]
pub struct SupervisorRef {
    shared: Arc<SupervisorShared>,
    commands: mpsc::UnboundedSender<Command>,
}

struct SupervisorShared {
    name: String,
    /// The children's handles, in start order (kept by the task).
    children: Mutex<Vec<ChildHandle>>,
    status: watch::Sender<SupervisorStatus>,
    /// Set when this supervisor, as a nested child, is killed by its
    /// parent: the children it is stopping are killed at once too.
    kill: Arc<KillSwitch>,
    strategy: Strategy,
    max_restarts: u32,
    within: std::time::Duration,
    /// When each recent restart attempt was made, oldest first (kept by the
    /// task; read for [`SupervisorRef::restart_budget`]).
    restart_history: Mutex<VecDeque<Instant>>,
}

impl SupervisorShared {
    fn children(&self) -> std::sync::MutexGuard<'_, Vec<ChildHandle>> {
        // Only whole-vector updates happen under this lock.
        self.children
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn restart_history(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        // Only pushes and pops happen under this lock.
        self.restart_history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How many restarts a supervisor may still make before it gives up: its
/// restart intensity (at most `max_restarts` within `within_ms`) less the
/// restarts made in the window that ends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RestartBudget {
    /// The most restarts allowed within the window.
    pub max_restarts: u32,
    /// The window, in milliseconds.
    pub within_ms: u64,
    /// Restarts made within the window that ends now.
    pub used: u32,
}

impl RestartBudget {
    /// Restarts left before the next one makes the supervisor give up.
    pub fn left(&self) -> u32 {
        self.max_restarts.saturating_sub(self.used)
    }
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl SupervisorRef {
    /// Whether both handles are the same supervisor.
    pub fn same(&self, other: &SupervisorRef) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether it is still supervising, and if not, why.
    pub fn status(&self) -> SupervisorStatus {
        self.shared.status.borrow().clone()
    }

    /// Which children restart when one has to.
    pub fn strategy(&self) -> Strategy {
        self.shared.strategy
    }

    /// Its restart intensity and how much of it the recent restarts used.
    pub fn restart_budget(&self) -> RestartBudget {
        let now = Instant::now();
        let within = self.shared.within;
        let used = self
            .shared
            .restart_history()
            .iter()
            .filter(|&&attempt| now.duration_since(attempt) <= within)
            .count();
        RestartBudget {
            max_restarts: self.shared.max_restarts,
            within_ms: millis(within),
            used: u32::try_from(used).unwrap_or(u32::MAX),
        }
    }

    /// Its children, in start order.
    pub fn which_children(&self) -> Vec<ActorInfo> {
        self.shared
            .children()
            .iter()
            .map(ChildHandle::info)
            .collect()
    }

    /// Every actor in this supervisor's tree, depth first in start order
    /// (nested supervisors are listed too, before their children).
    pub fn all_children(&self) -> Vec<ActorInfo> {
        let children: Vec<ChildHandle> = self.shared.children().clone();
        let mut all = Vec::new();
        for child in children {
            all.push(child.info());
            if let Some(nested) = child.incarnation() {
                all.extend(nested.all_children());
            }
        }
        all
    }

    /// The running incarnation of the nested supervisor `id`, if any.
    pub fn child_supervisor(&self, id: &str) -> Option<SupervisorRef> {
        let children = self.shared.children();
        let child = children.iter().find(|c| c.shared.name() == id)?;
        child.incarnation()
    }

    /// How many children it has, and how many run.
    pub fn count_children(&self) -> ChildCounts {
        let children = self.which_children();
        let supervisors = children
            .iter()
            .filter(|c| c.kind == ChildKind::Supervisor)
            .count();
        ChildCounts {
            specs: children.len(),
            active: children
                .iter()
                .filter(|c| c.status == ActorStatus::Running)
                .count(),
            supervisors,
            workers: children.len() - supervisors,
        }
    }

    /// Adds a child at the end and starts it; returns its instance id.
    ///
    /// # Errors
    ///
    /// [`ChildError::AlreadyStarted`] or [`ChildError::AlreadyPresent`] when
    /// the id exists, [`ChildError::Invalid`] for a bad spec or a taken name,
    /// and [`ChildError::StartFailed`] (the spec is then discarded).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<u64, ChildError> {
        self.ask(|reply| Command::StartChild {
            spec: Box::new(spec),
            reply,
        })
        .await
    }

    /// Stops the child by its shutdown spec, and cancels a pending restart.
    /// Its spec is kept (undefined; calls to it are answered with an error)
    /// unless it is temporary. Stopping a child that is not running is fine.
    /// Never counts toward the intensity and never restarts anything.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`].
    pub async fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::TerminateChild { id, reply })
            .await
    }

    /// Starts an undefined child again; returns its instance id. Not counted
    /// toward the intensity; a failure leaves it undefined, without retries.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`], or [`ChildError::StartFailed`].
    pub async fn restart_child(&self, id: &str) -> Result<u64, ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::RestartChild { id, reply }).await
    }

    /// Switches the worker `id` to another version of its plugin without
    /// losing a message. When it runs, this is a hot upgrade between two
    /// messages: the running instance is snapshotted and its state
    /// committed, the new version starts from that state (`init`,
    /// `restore`) and takes over the same mailbox. When it does not run,
    /// its next start uses the new version. Not a restart: nothing is
    /// counted. If the new version fails to start, to restore the state or
    /// to pass its first health check, the running version goes on and the
    /// error says why.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`], [`ChildError::UpgradeFailed`].
    pub async fn upgrade_child(&self, id: &str, plugin: Plugin) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::UpgradeChild { id, plugin, reply })
            .await
    }

    /// Deletes an undefined child's spec and releases its name.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`] or
    /// [`ChildError::NotFound`].
    pub async fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::DeleteChild { id, reply }).await
    }

    /// Stops every child (in reverse start order, each by its shutdown spec)
    /// and the supervisor. Returns when all are stopped; a supervisor that
    /// already stopped or gave up returns at once.
    pub async fn stop(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Stop { reply }).is_ok() {
            // An error means the task ended meanwhile: stopped either way.
            let _ = done.await;
        }
        self.stopped().await;
    }

    /// Kills every child this supervisor is stopping (or will stop) at once,
    /// whatever their shutdown specs: its own parent's shutdown timeout ran
    /// out, or its parent kills it brutally.
    pub(crate) fn kill(&self) {
        self.shared.kill.trigger();
    }

    /// Waits until the supervisor has stopped or given up, and returns how.
    pub async fn stopped(&self) -> SupervisorStatus {
        let mut status = self.shared.status.subscribe();
        // `wait_for` fails only if the sender is gone, which it never is
        // while `self` holds it.
        let _ = status
            .wait_for(|s| !matches!(s, SupervisorStatus::Running))
            .await;
        self.status()
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, ChildError>>) -> Command,
    ) -> Result<T, ChildError> {
        let down = || ChildError::SupervisorDown(self.shared.name.to_string());
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| down())?;
        answer.await.unwrap_or_else(|_| Err(down()))
    }
}

type Reply<T> = oneshot::Sender<Result<T, ChildError>>;

enum Command {
    Stop {
        reply: oneshot::Sender<()>,
    },
    RestartDue {
        child: String,
        generation: u64,
    },
    StartChild {
        spec: Box<ChildSpec>,
        reply: Reply<u64>,
    },
    TerminateChild {
        id: String,
        reply: Reply<()>,
    },
    RestartChild {
        id: String,
        reply: Reply<u64>,
    },
    DeleteChild {
        id: String,
        reply: Reply<()>,
    },
    UpgradeChild {
        id: String,
        plugin: Plugin,
        reply: Reply<()>,
    },
}

/// How a supervisor reaches one child, actor or nested supervisor.
#[derive(Clone)]
pub(crate) struct ChildHandle {
    control: mpsc::UnboundedSender<Control>,
    shared: Arc<ActorShared>,
    /// The actor, for a worker (its name is registered).
    actor: Option<ActorRef>,
    /// The running incarnation, for a nested supervisor.
    nested: Option<nested::Incarnation>,
}

impl ChildHandle {
    fn info(&self) -> ActorInfo {
        match &self.actor {
            Some(actor) => actor.info(),
            None => self.shared.info(ChildKind::Supervisor, 0),
        }
    }

    fn incarnation(&self) -> Option<SupervisorRef> {
        let nested = self.nested.as_ref()?;
        // Only whole-value swaps happen under this lock.
        nested
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

struct Child {
    spec: Arc<ChildSpec>,
    handle: ChildHandle,
    state: ChildState,
    /// Bumped whenever a pending restart must be forgotten.
    generation: u64,
    restarts_in_a_row: u32,
    up_since: Option<Instant>,
    /// The pending restart of this child (and its group), if any.
    timer: Option<AbortHandle>,
    /// Why the last restart attempt failed, until one succeeds.
    last_start_failure: Option<String>,
}

impl Child {
    /// Shows instance `instance` running, up since now.
    fn running(&mut self, instance: u64) {
        self.state = ChildState::Running(instance);
        self.up_since = Some(Instant::now());
        self.last_start_failure = None;
    }

    /// Forgets a pending restart and, if an instance runs, tells it to stop
    /// by the child's shutdown spec; the receiver completes when it has.
    /// The child is undefined from then on.
    fn signal_stop(&mut self) -> Option<Stopping> {
        self.generation += 1;
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        let running = matches!(self.state, ChildState::Running(_));
        self.up_since = None;
        self.state = ChildState::Undefined;
        if !running {
            return None;
        }
        let (reply, stopped) = oneshot::channel();
        let stop = Control::Stop {
            shutdown: self.spec.shutdown,
            reply,
        };
        self.handle.control.send(stop).ok().map(|()| Stopping {
            stopped,
            shutdown: self.spec.shutdown,
            kill: self.handle.shared.kill.clone(),
        })
    }
}

/// A stop sent to a child, to be seen through by its shutdown spec (S10):
/// `BrutalKill` kills at once; `Timeout` waits that long for a graceful
/// stop, then kills; `Infinity` waits (a worker's calls are still bounded
/// by their deadlines).
struct Stopping {
    stopped: oneshot::Receiver<Option<ExitReason>>,
    shutdown: Shutdown,
    kill: Arc<KillSwitch>,
}

impl Stopping {
    /// Waits for the child to stop, counting its shutdown timeout from
    /// `since`, and killing it at once if `supervisor_killed` is triggered.
    /// The timer runs in real time on the engine's ticker, like every guest
    /// deadline.
    async fn finish(
        self,
        engines: &Engines,
        since: std::time::Instant,
        supervisor_killed: &KillSwitch,
    ) -> Option<ExitReason> {
        let Stopping {
            mut stopped,
            shutdown,
            kill,
        } = self;
        let timed_out = async {
            match shutdown {
                Shutdown::BrutalKill => {}
                Shutdown::Timeout(timeout) => {
                    engines.default_engine().wait_until(since + timeout).await
                }
                Shutdown::Infinity => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            exit = &mut stopped => return exit.ok().flatten(),
            () = timed_out => {}
            () = supervisor_killed.triggered() => {}
        }
        kill.trigger();
        stopped.await.ok().flatten()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    Running(u64),
    Restarting,
    /// Not running and not going to be restarted (OTP's `undefined` pid).
    Undefined,
}

/// Starts a supervisor and its children, in order.
///
/// # Errors
///
/// An invalid spec, a name already taken, or a child that fails to start (in
/// which case the children already started are stopped again).
pub(crate) async fn start(
    context: SupervisorContext,
    spec: SupervisorSpec,
) -> Result<SupervisorRef, Error> {
    spec.validate()?;
    check_plugins(&context, &spec)?;
    let (exits_tx, exits) = mpsc::unbounded_channel();
    let (start_failures_tx, start_failures) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (status, _) = watch::channel(SupervisorStatus::Running);
    let shared = Arc::new(SupervisorShared {
        name: spec.name.clone(),
        kill: Arc::default(),
        children: Mutex::new(Vec::new()),
        status,
        strategy: spec.strategy,
        max_restarts: spec.max_restarts,
        within: spec.within,
        restart_history: Mutex::new(VecDeque::new()),
    });
    let mut task = SupervisorTask {
        name: spec.name.clone(),
        strategy: spec.strategy,
        max_restarts: spec.max_restarts,
        within: spec.within,
        policy: SupervisorSpec {
            children: Vec::new(),
            ..spec.clone()
        },
        children: Vec::new(),
        commands: commands.clone(),
        commands_rx,
        exits_tx,
        exits,
        start_failures_tx,
        start_failures,
        context,
        shared: shared.clone(),
        due_now: VecDeque::new(),
    };
    task.children = spec
        .children
        .into_iter()
        .map(|child_spec| task.new_child(child_spec))
        .collect();
    let actors: Vec<_> = task
        .children
        .iter()
        .filter_map(|c| c.handle.actor.clone())
        .collect();
    if let Err(error) = task.context.registry.register_all(&actors) {
        for child in &task.children {
            let _ = child.handle.control.send(Control::Close {
                reason: error.to_string(),
                done: None,
            });
        }
        return Err(error);
    }
    task.publish_children();

    for index in 0..task.children.len() {
        if let Err(reason) = task.start_one(index, false).await {
            let actor = task.children[index].spec.id.clone();
            task.stop_children(&format!("supervisor `{}` failed to start", task.name))
                .await;
            return Err(Error::StartFailed { actor, reason });
        }
    }
    tokio::spawn(task.run());
    Ok(SupervisorRef { shared, commands })
}

/// Checks that every plugin in the tree was compiled by this host.
fn check_plugins(context: &SupervisorContext, spec: &SupervisorSpec) -> Result<(), Error> {
    for child in &spec.children {
        check_plugin(context, child).map_err(|reason| Error::InvalidSpec {
            what: child.id.clone(),
            reason,
        })?;
        if let ChildSpecKind::Supervisor(sub) = &child.kind {
            check_plugins(context, sub)?;
        }
    }
    Ok(())
}

fn check_plugin(context: &SupervisorContext, child: &ChildSpec) -> Result<(), String> {
    if child.limits.fuel_per_call.is_some() && !context.actor.engines.fuel_metering() {
        return Err(
            "a fuel limit needs fuel metering on the host: enable it with \
             `HostBuilder::fuel_metering(true)` (or `wasmvisor run --fuel`)"
                .into(),
        );
    }
    match &child.kind {
        ChildSpecKind::Worker(plugin) if !context.actor.engines.owns(plugin.engine()) => {
            Err(format!(
                "its plugin ({}) was loaded by another host; load it with this host's \
                 `load_plugin_file`",
                plugin.source().display()
            ))
        }
        ChildSpecKind::Worker(_) => match context.actor.engines.memory_ceiling() {
            Some(ceiling) if child.limits.memory_bytes > ceiling => Err(format!(
                "its memory limit ({} bytes) is more than a pooled instance of this host can \
                 have: the host reserves {ceiling} bytes per memory \
                 (`HostBuilder::memory_reservation`, `wasmvisor run --memory-reservation-mib`); \
                 lower the limit or raise the reservation",
                child.limits.memory_bytes
            )),
            _ => Ok(()),
        },
        ChildSpecKind::Supervisor(_) => Ok(()),
    }
}

struct SupervisorTask {
    name: String,
    strategy: Strategy,
    max_restarts: u32,
    within: std::time::Duration,
    /// The supervisor's own options (its spec without the children).
    policy: SupervisorSpec,
    children: Vec<Child>,
    commands: mpsc::UnboundedSender<Command>,
    commands_rx: mpsc::UnboundedReceiver<Command>,
    exits_tx: mpsc::UnboundedSender<Exit>,
    exits: mpsc::UnboundedReceiver<Exit>,
    /// Where restarts it did not wait for report a failure to start (see
    /// [`StartReply::Unawaited`]).
    start_failures_tx: mpsc::UnboundedSender<StartFailure>,
    start_failures: mpsc::UnboundedReceiver<StartFailure>,
    context: SupervisorContext,
    shared: Arc<SupervisorShared>,
    /// Restarts due now (no backoff), made once the exits and requests
    /// waiting before them are handled (see [`SupervisorTask::supervise`]).
    due_now: VecDeque<(String, u64)>,
}

impl SupervisorTask {
    async fn run(self) {
        let shared = self.shared.clone();
        let name = self.name.clone();
        // Supervised in a task of its own, so that even a panic in it ends
        // with a status: `stop` and `stopped` must never wait forever.
        let end = tokio::spawn(self.supervise())
            .await
            .unwrap_or_else(|panic| {
                tracing::error!(supervisor = name, "supervisor task failed: {panic}");
                SupervisorStatus::GaveUp(format!("the supervisor task failed: {panic}"))
            });
        shared.status.send_replace(end);
    }

    /// Supervises until stopped or given up. Consumes the task, so that
    /// everything it holds is released before its end is announced.
    async fn supervise(mut self) -> SupervisorStatus {
        loop {
            // A restart due now waits for the exits and requests that came
            // before it, as a request would. It is not sent on our own
            // request channel: that woke this very task while it ran, and
            // tokio then queues such a task again once it yields (waking a
            // parked worker thread for it, if one is parked), for nothing.
            if self.exits.is_empty()
                && self.start_failures.is_empty()
                && self.commands_rx.is_empty()
                && let Some((child, generation)) = self.due_now.pop_front()
            {
                if let Some(reason) = self.restart(&child, generation).await {
                    return SupervisorStatus::GaveUp(reason);
                }
                continue;
            }
            tokio::select! {
                // Exits first: a request sees every exit reported before it
                // was made (an actor shows itself down as it reports, and
                // the request may have been made on seeing that).
                biased;
                Some(exit) = self.exits.recv() => {
                    if let Some(end) = self.on_exit(exit).await {
                        return end;
                    }
                }
                Some(failure) = self.start_failures.recv() => self.on_start_failure(failure),
                Some(command) = self.commands_rx.recv() => match command {
                    Command::Stop { reply } => {
                        self.stop_children(&format!("supervisor `{}` stopped", self.name)).await;
                        let _ = reply.send(());
                        return SupervisorStatus::Stopped;
                    }
                    Command::RestartDue { child, generation } => {
                        if let Some(reason) = self.restart(&child, generation).await {
                            return SupervisorStatus::GaveUp(reason);
                        }
                    }
                    Command::StartChild { spec, reply } => {
                        let _ = reply.send(self.start_child(*spec).await);
                    }
                    Command::TerminateChild { id, reply } => {
                        let _ = reply.send(self.terminate_child(&id).await);
                    }
                    Command::RestartChild { id, reply } => {
                        let _ = reply.send(self.restart_child(&id).await);
                    }
                    Command::DeleteChild { id, reply } => {
                        let _ = reply.send(self.delete_child(&id).await);
                    }
                    Command::UpgradeChild { id, plugin, reply } => {
                        let _ = reply.send(self.upgrade_child(&id, plugin).await);
                    }
                },
            }
        }
    }

    fn new_child(&self, spec: ChildSpec) -> Child {
        let spec = Arc::new(spec);
        let handle = match &spec.kind {
            ChildSpecKind::Worker(plugin) => {
                let channels = actor::spawn(
                    self.context.actor.clone(),
                    spec.clone(),
                    plugin.clone(),
                    self.exits_tx.clone(),
                );
                ChildHandle {
                    control: channels.control,
                    shared: channels.actor.shared().clone(),
                    actor: Some(channels.actor),
                    nested: None,
                }
            }
            ChildSpecKind::Supervisor(sub) => nested::spawn(
                self.context.clone(),
                &spec.id,
                (**sub).clone(),
                self.exits_tx.clone(),
            ),
        };
        Child {
            handle,
            spec,
            state: ChildState::Undefined,
            generation: 0,
            restarts_in_a_row: 0,
            up_since: None,
            timer: None,
            last_start_failure: None,
        }
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    /// Mirrors the list of children for the handles.
    fn publish_children(&self) {
        *self.shared.children() = self.children.iter().map(|c| c.handle.clone()).collect();
    }

    /// Starts a new instance of the child at `index` and waits until it
    /// runs; `restart` counts it as a restart.
    async fn start_one(&mut self, index: usize, restart: bool) -> Result<u64, String> {
        let (reply, started) = oneshot::channel();
        let instance = self.send_start(index, restart, StartReply::Awaited(reply))?;
        started
            .await
            .unwrap_or_else(|_| Err("the actor task is gone".to_owned()))?;
        self.children[index].running(instance);
        Ok(instance)
    }

    /// Restarts the child at `index` without waiting: it counts as running
    /// from now, and a failure to start comes back on `start_failures`
    /// (see [`StartReply::Unawaited`]). For the last child of a restart:
    /// no sibling starts after it.
    fn restart_unawaited(&mut self, index: usize) -> Result<u64, String> {
        let failures = StartReply::Unawaited(self.start_failures_tx.clone());
        let instance = self.send_start(index, true, failures)?;
        self.children[index].running(instance);
        Ok(instance)
    }

    /// Asks the child at `index` to start a new instance; returns its number.
    fn send_start(
        &mut self,
        index: usize,
        restart: bool,
        reply: StartReply,
    ) -> Result<u64, String> {
        let instance = self.context.new_instance_id();
        self.children[index]
            .handle
            .control
            .send(Control::Start {
                instance,
                restart,
                reply,
            })
            .map_err(|_| "the actor task is gone".to_owned())?;
        Ok(instance)
    }

    /// A restart it did not wait for failed: tries again as for a restart
    /// it waited for, unless the instance is no longer the child's current
    /// one (it was stopped or started again meanwhile).
    fn on_start_failure(&mut self, failure: StartFailure) {
        let Some(index) = self.index_of(&failure.child) else {
            return;
        };
        if self.children[index].state == ChildState::Running(failure.instance) {
            self.children[index].up_since = None;
            self.restart_failed(index, failure.reason);
        }
    }

    /// Records why the child at `index` failed to restart and schedules the
    /// next attempt.
    fn restart_failed(&mut self, index: usize, reason: String) {
        let child = &mut self.children[index];
        child.last_start_failure = Some(reason.clone());
        self.context.actor.events.publish(Event::RestartFailed {
            actor: child.spec.id.clone(),
            reason,
        });
        self.schedule_restart(index);
    }

    /// Stops the child's instance (if running) by its shutdown spec and
    /// forgets a pending restart; the exit is consumed, never a crash.
    async fn stop_one(&mut self, index: usize) {
        if let Some(stopping) = self.children[index].signal_stop() {
            let since = std::time::Instant::now();
            stopping
                .finish(&self.context.actor.engines, since, &self.shared.kill)
                .await;
        }
    }

    /// Leaves the child undefined: calls are answered with `reason` until it
    /// is started again.
    fn park(&mut self, index: usize, reason: &str) {
        let child = &mut self.children[index];
        child.state = ChildState::Undefined;
        // A pending restart must not bring it back.
        child.generation += 1;
        if let Some(timer) = child.timer.take() {
            timer.abort();
        }
        let _ = child.handle.control.send(Control::Park {
            reason: reason.to_owned(),
        });
        child.handle.shared.lock().state = ActorStatus::Stopped(reason.to_owned());
        self.context.actor.events.publish(Event::ActorStopped {
            actor: child.spec.id.clone(),
            reason: reason.to_owned(),
        });
    }

    /// Deletes the child: closes its actor for good and releases its name.
    /// The returned receiver completes once its task has let go of
    /// everything.
    fn remove(&mut self, index: usize, reason: &str) -> oneshot::Receiver<()> {
        let child = self.children.remove(index);
        self.publish_children();
        close(&self.context, &child, reason)
    }

    /// Applies the child's restart type and the strategy to an exit; returns
    /// how the supervisor ends if the exit makes it shut down.
    async fn on_exit(&mut self, exit: Exit) -> Option<SupervisorStatus> {
        let index = self.index_of(&exit.child)?;
        let within = self.within;
        let child = &mut self.children[index];
        if child.state != ChildState::Running(exit.instance) {
            // A stale exit of an instance that is no longer current.
            return None;
        }
        if child
            .up_since
            .is_some_and(|since| since.elapsed() >= within)
        {
            child.restarts_in_a_row = 0;
        }
        child.up_since = None;
        let restart = match child.spec.restart {
            RestartType::Permanent => true,
            RestartType::Transient => !exit.reason.is_normal(),
            RestartType::Temporary => false,
        };
        if restart {
            self.children[index].state = ChildState::Restarting;
            let id = exit.child.to_string();
            self.stop_siblings(&id).await;
            if let Some(index) = self.index_of(&id) {
                self.schedule_restart(index);
            }
            return None;
        }
        let reason = format!(
            "{} and is not restarted (restart type {:?})",
            exit.reason, child.spec.restart
        );
        let significant = child.spec.significant;
        if child.spec.restart == RestartType::Temporary || self.policy.dynamic {
            // Nothing waits here: the supervisor goes on while the actor closes.
            drop(self.remove(index, &reason));
        } else {
            self.park(index, &reason);
        }
        if significant {
            return self.auto_shutdown(&exit.child).await;
        }
        None
    }

    /// A significant child finished: stop the supervisor if its
    /// `auto_shutdown` says so.
    async fn auto_shutdown(&mut self, finished: &str) -> Option<SupervisorStatus> {
        let any_left = self.children.iter().any(|c| {
            c.spec.significant && matches!(c.state, ChildState::Running(_) | ChildState::Restarting)
        });
        let shut_down = match self.policy.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !any_left,
        };
        if !shut_down {
            return None;
        }
        let reason = format!(
            "auto shutdown: significant child `{finished}` finished ({:?})",
            self.policy.auto_shutdown
        );
        self.stop_children(&format!("supervisor `{}` shut down: {reason}", self.name))
            .await;
        Some(SupervisorStatus::AutoShutdown(reason))
    }

    /// The children a restart of `index` concerns, by the strategy.
    fn group(&self, index: usize) -> std::ops::Range<usize> {
        match self.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        }
    }

    /// Stops the other children of `id`'s group in reverse start order:
    /// temporary ones are deleted, the rest wait for the group's restart.
    async fn stop_siblings(&mut self, id: &str) {
        let Some(index) = self.index_of(id) else {
            return;
        };
        let siblings: Vec<String> = self
            .group(index)
            .rev()
            .map(|i| self.children[i].spec.id.clone())
            .filter(|sibling| sibling != id)
            .collect();
        for sibling in siblings {
            let Some(i) = self.index_of(&sibling) else {
                continue;
            };
            self.stop_one(i).await;
            if self.children[i].spec.restart == RestartType::Temporary {
                let reason = format!("stopped with its group after `{id}` exited");
                drop(self.remove(i, &reason));
            } else {
                self.children[i].state = ChildState::Restarting;
                self.children[i].handle.shared.lock().state = ActorStatus::Restarting;
            }
        }
    }

    fn schedule_restart(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.state = ChildState::Restarting;
        child.restarts_in_a_row = child.restarts_in_a_row.saturating_add(1);
        let delay = self.policy.restart_delay(child.restarts_in_a_row);
        self.context.actor.events.publish(Event::RestartScheduled {
            actor: child.spec.id.clone(),
            delay_ms: millis(delay),
        });
        if delay.is_zero() {
            self.due_now
                .push_back((child.spec.id.clone(), child.generation));
        } else {
            let due = Command::RestartDue {
                child: child.spec.id.clone(),
                generation: child.generation,
            };
            let commands = self.commands.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = commands.send(due);
            });
            if let Some(stale) = child.timer.replace(timer.abort_handle()) {
                stale.abort();
            }
        }
    }

    /// Makes one restart attempt for `id` (and its group); returns the reason
    /// when the supervisor gives up instead.
    async fn restart(&mut self, id: &str, generation: u64) -> Option<String> {
        let index = self.index_of(id)?;
        let child = &mut self.children[index];
        if child.generation != generation || child.state != ChildState::Restarting {
            return None;
        }
        child.timer = None;

        let now = Instant::now();
        let within = self.within;
        let exceeded = {
            let mut history = self.shared.restart_history();
            // Oldest first: drop the attempts that left the window from the
            // front, rather than scanning every attempt still in the window.
            while history
                .front()
                .is_some_and(|&attempt| now.duration_since(attempt) > within)
            {
                history.pop_front();
            }
            history.push_back(now);
            history.len() > self.max_restarts as usize
        };
        if exceeded {
            return Some(self.give_up(index).await);
        }

        // A retry after a group restart that failed half-way: stop the ones
        // that did start, and start the group again from the top.
        let running_in_group: Vec<String> = self
            .group(index)
            .filter(|&i| matches!(self.children[i].state, ChildState::Running(_)))
            .map(|i| self.children[i].spec.id.clone())
            .collect();
        for sibling in running_in_group.iter().rev() {
            if let Some(i) = self.index_of(sibling) {
                self.stop_one(i).await;
                self.children[i].state = ChildState::Restarting;
            }
        }

        let group: Vec<String> = self
            .group(index)
            .map(|i| self.children[i].spec.id.clone())
            .collect();
        // Each waits for the one before it to run, as at a first start; the
        // last is waited for by nobody.
        let last = group.len().saturating_sub(1);
        for (n, member) in group.iter().enumerate() {
            let Some(i) = self.index_of(member) else {
                continue;
            };
            let started = if n == last {
                self.restart_unawaited(i).map(drop)
            } else {
                self.start_one(i, true).await.map(drop)
            };
            if let Err(reason) = started {
                self.restart_failed(i, reason);
                return None;
            }
        }
        None
    }

    /// Stops every child and returns why the supervisor gives up.
    async fn give_up(&mut self, index: usize) -> String {
        let child = &self.children[index];
        let last = match &child.last_start_failure {
            Some(failure) => format!("; last: `{}` failed to restart: {failure}", child.spec.id),
            None => child
                .handle
                .shared
                .lock()
                .last_exit
                .clone()
                .map(|exit| format!("; last: `{}` {exit}", child.spec.id))
                .unwrap_or_default(),
        };
        let reason = format!(
            "restart intensity exceeded: more than {} restarts within {} ms{last}",
            self.max_restarts,
            millis(self.within)
        );
        self.context.actor.events.publish(Event::SupervisorGaveUp {
            supervisor: self.name.clone(),
            reason: reason.clone(),
        });
        self.stop_children(&reason).await;
        reason
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<u64, ChildError> {
        if let Some(index) = self.index_of(&spec.id) {
            return Err(match self.children[index].state {
                ChildState::Running(instance) => ChildError::AlreadyStarted {
                    id: spec.id,
                    instance,
                },
                _ => ChildError::AlreadyPresent(spec.id),
            });
        }
        if let Some(max) = self.policy.max_children
            && self.children.len() >= max
        {
            return Err(ChildError::MaxChildren(max));
        }
        spec.validate()
            .map_err(|e| ChildError::Invalid(e.to_string()))?;
        self.policy
            .check_significance(&spec)
            .map_err(|e| ChildError::Invalid(e.to_string()))?;
        check_plugin(&self.context, &spec).map_err(ChildError::Invalid)?;
        if let ChildSpecKind::Supervisor(sub) = &spec.kind {
            check_plugins(&self.context, sub).map_err(|e| ChildError::Invalid(e.to_string()))?;
        }
        let child = self.new_child(spec);
        let actors: Vec<ActorRef> = child.handle.actor.iter().cloned().collect();
        if let Err(error) = self.context.registry.register_all(&actors) {
            drop(close(&self.context, &child, &error.to_string()));
            return Err(match error {
                Error::DuplicateName(name) => ChildError::NameTaken {
                    instance: self
                        .context
                        .registry
                        .get(&name)
                        .and_then(|other| other.info().instance),
                    name,
                },
                Error::TooManyActors { limit } => ChildError::TooManyActors(limit),
                other => ChildError::Invalid(other.to_string()),
            });
        }
        self.children.push(child);
        self.publish_children();
        let index = self.children.len() - 1;
        match self.start_one(index, false).await {
            Ok(instance) => Ok(instance),
            Err(reason) => {
                let id = self.children[index].spec.id.clone();
                let _ = self
                    .remove(index, &format!("failed to start: {reason}"))
                    .await;
                Err(ChildError::StartFailed { id, reason })
            }
        }
    }

    async fn upgrade_child(&mut self, id: &str, plugin: Plugin) -> Result<(), ChildError> {
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        check_plugin(&self.context, &self.children[index].spec)
            .and_then(|()| {
                if self.context.actor.engines.owns(plugin.engine()) {
                    Ok(())
                } else {
                    Err("the new version was loaded by another host".to_owned())
                }
            })
            .map_err(|reason| ChildError::UpgradeFailed {
                id: id.to_owned(),
                reason,
            })?;
        let (reply, answer) = oneshot::channel();
        let child = &self.children[index];
        let sent = child.handle.control.send(Control::Upgrade {
            plugin: plugin.clone(),
            reply,
        });
        let outcome = match sent {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err("the actor task is gone".to_owned())),
            Err(_) => Err("the actor task is gone".to_owned()),
        };
        outcome.map_err(|reason| ChildError::UpgradeFailed {
            id: id.to_owned(),
            reason,
        })?;
        // The spec follows, for listings and for anything rebuilt from it.
        let child = &mut self.children[index];
        let mut spec = (*child.spec).clone();
        spec.kind = ChildSpecKind::Worker(plugin);
        child.spec = Arc::new(spec);
        Ok(())
    }

    async fn terminate_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        let cancels_a_group_restart = self.children[index].state == ChildState::Restarting
            && self.strategy != Strategy::OneForOne;
        self.stop_one(index).await;
        if cancels_a_group_restart {
            // The siblings were waiting for this child's restart: they stay down.
            for i in 0..self.children.len() {
                if i != index && self.children[i].state == ChildState::Restarting {
                    self.park(
                        i,
                        &format!("its group restart was cancelled (terminate_child `{id}`)"),
                    );
                }
            }
        }
        let reason = "terminated by its supervisor (terminate_child)";
        if self.children[index].spec.restart == RestartType::Temporary || self.policy.dynamic {
            let _ = self.remove(index, reason).await;
        } else {
            self.park(index, reason);
        }
        Ok(())
    }

    async fn restart_child(&mut self, id: &str) -> Result<u64, ChildError> {
        let index = self.undefined_child(id, "restart_child")?;
        match self.start_one(index, false).await {
            Ok(instance) => Ok(instance),
            Err(reason) => {
                self.park(index, &format!("restart_child failed: {reason}"));
                Err(ChildError::StartFailed {
                    id: id.to_owned(),
                    reason,
                })
            }
        }
    }

    async fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.undefined_child(id, "delete_child")?;
        let _ = self
            .remove(index, "deleted by its supervisor (delete_child)")
            .await;
        Ok(())
    }

    /// The index of child `id` if `operation` may act on it: it exists, is
    /// neither running nor restarting, and the supervisor is not dynamic.
    fn undefined_child(&self, id: &str, operation: &'static str) -> Result<usize, ChildError> {
        if self.policy.dynamic {
            return Err(ChildError::Unsupported(operation));
        }
        let index = self
            .index_of(id)
            .ok_or_else(|| ChildError::NotFound(id.to_owned()))?;
        match self.children[index].state {
            ChildState::Running(_) => Err(ChildError::Running(id.to_owned())),
            ChildState::Restarting => Err(ChildError::Restarting(id.to_owned())),
            ChildState::Undefined => Ok(index),
        }
    }

    /// Stops every child in reverse start order (a dynamic supervisor: all
    /// at once), then closes them all with `reason` and releases their
    /// names.
    async fn stop_children(&mut self, reason: &str) {
        if self.policy.dynamic {
            self.stop_all_at_once().await;
        }
        for index in (0..self.children.len()).rev() {
            self.stop_one(index).await;
            // Resolves (with an error, as the sender is dropped) once the task is gone.
            let _ = close(&self.context, &self.children[index], reason).await;
        }
    }

    /// Signals every running child to stop, then waits for them all, with
    /// one shutdown timer for all (S11, dynamic supervisors).
    async fn stop_all_at_once(&mut self) {
        let since = std::time::Instant::now();
        let stopping: Vec<_> = self
            .children
            .iter_mut()
            .filter_map(Child::signal_stop)
            .collect();
        for stopping in stopping {
            stopping
                .finish(&self.context.actor.engines, since, &self.shared.kill)
                .await;
        }
    }
}

/// Closes a child's actor for good and releases its name; the receiver
/// completes once its task has let go of everything.
fn close(context: &SupervisorContext, child: &Child, reason: &str) -> oneshot::Receiver<()> {
    let (done, closed) = oneshot::channel();
    let _ = child.handle.control.send(Control::Close {
        reason: reason.to_owned(),
        done: Some(done),
    });
    // Callers see the reason at once, before the task gets to it.
    child.handle.shared.lock().state = ActorStatus::Stopped(reason.to_owned());
    if let Some(actor) = &child.handle.actor {
        context.registry.unregister(actor);
    }
    context.actor.events.publish(Event::ActorStopped {
        actor: child.spec.id.clone(),
        reason: reason.to_owned(),
    });
    closed
}
