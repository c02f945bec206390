//! The handles outsiders hold: [`SupervisorRef`] (a running supervisor:
//! its status, its children, the management calls) and, inside the crate,
//! `ChildHandle` (how a supervisor reaches one child, an actor or a nested
//! supervisor). A request becomes a `Command` on the supervisor's channel,
//! answered by its task.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::intensity::RestartIntensity;
use super::status::{ChildCounts, RestartBudget, SupervisorStatus};
use crate::actor::{ActorInfo, ActorRef, ActorShared, ActorStatus, Control, Started};
use crate::error::ChildError;
use crate::runtime::{KillSwitch, Plugin};
use crate::spec::{ChildKind, ChildSpec, Strategy};
use crate::util::lock;

/// A handle to a running supervisor: its status and children, and OTP's
/// management calls. Cheap to clone.
///
/// ```no_run
/// # async fn example(host: wasmvisor::Host, plugin: wasmvisor::Plugin)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use wasmvisor::{ChildSpec, SupervisorSpec};
///
/// let pool = host.start_supervisor(SupervisorSpec::dynamic("pool")).await?;
/// pool.start_child(ChildSpec::new("worker-1", plugin)).await?;
/// for child in pool.which_children() {
///     println!("{} {} ({} restarts)", child.name, child.status, child.restarts);
/// }
/// println!("{} restarts left", pool.restart_budget().left());
/// pool.terminate_child("worker-1").await?; // a dynamic child goes away
/// pool.stop().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SupervisorRef {
    pub(crate) shared: Arc<SupervisorShared>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

pub(crate) struct SupervisorShared {
    pub(crate) name: String,
    /// The children's handles, in start order (kept by the task).
    pub(crate) children: Mutex<Vec<ChildHandle>>,
    pub(crate) status: watch::Sender<SupervisorStatus>,
    /// Set when this supervisor, as a nested child, is killed by its
    /// parent: the children it is stopping are killed at once too.
    pub(crate) kill: Arc<KillSwitch>,
    pub(crate) strategy: Strategy,
    /// The restart attempts in the window (kept by the task; read for
    /// [`SupervisorRef::restart_budget`]).
    pub(crate) intensity: Mutex<RestartIntensity>,
}

impl SupervisorShared {
    pub(crate) fn children(&self) -> std::sync::MutexGuard<'_, Vec<ChildHandle>> {
        // Only whole-vector updates happen under this lock.
        lock(&self.children)
    }

    pub(crate) fn intensity(&self) -> std::sync::MutexGuard<'_, RestartIntensity> {
        lock(&self.intensity)
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
        self.shared.intensity().budget(Instant::now())
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

    /// Adds a child at the end and starts it; returns its instance id, or
    /// [`Started::Ignored`] when its `init` answered `exit.ignore` (a
    /// temporary child, or any child of a dynamic supervisor, is then not
    /// added; any other is kept, undefined).
    ///
    /// # Errors
    ///
    /// [`ChildError::AlreadyStarted`] or [`ChildError::AlreadyPresent`] when
    /// the id exists, [`ChildError::Invalid`] for a bad spec or a taken name,
    /// and [`ChildError::StartFailed`] (the spec is then discarded).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Started, ChildError> {
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

    /// Starts an undefined child again; returns its instance id (or
    /// [`Started::Ignored`]: it stays undefined). Not counted toward the
    /// intensity; a failure leaves it undefined, without retries.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`], or [`ChildError::StartFailed`].
    pub async fn restart_child(&self, id: &str) -> Result<Started, ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::RestartChild { id, reply }).await
    }

    /// The operator's restart: stops the child `id` by its shutdown spec if
    /// it runs (or cancels its pending restart), and starts a fresh instance
    /// of it at once, on a static or a dynamic supervisor alike (OTP has no
    /// such call: `terminate_child` then `restart_child` would delete a
    /// dynamic child). Not a crash: it counts neither toward the intensity
    /// nor in the child's restarts. Returns the new instance's id (or
    /// [`Started::Ignored`], as [`start_child`](Self::start_child)). Cancelling
    /// a group's pending restart leaves the siblings that waited for it
    /// undefined, as `terminate_child` does.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`], and [`ChildError::StartFailed`]: the child
    /// is then left undefined (a dynamic one is removed).
    pub async fn restart_running(&self, id: &str) -> Result<Started, ChildError> {
        let id = id.to_owned();
        self.ask(|reply| Command::RestartRunning { id, reply })
            .await
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

    /// Kills the supervisor and its whole subtree at once (OTP's
    /// `exit(Sup, kill)`): every child is killed, whatever its shutdown spec,
    /// nested supervisors' children too, and every name is released. The
    /// supervisor ends [`SupervisorStatus::Killed`]; a nested one is, to its
    /// parent, a child that exited with
    /// [`ExitReason::Killed`](crate::ExitReason::Killed), abnormal, so the
    /// parent applies its restart type (a permanent or transient child
    /// supervisor is restarted with its initial children). Returns once
    /// everything is stopped; a supervisor that already ended returns at
    /// once.
    pub async fn kill(&self) -> SupervisorStatus {
        self.kill_children();
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Kill { reply }).is_ok() {
            // An error means the task ended meanwhile: ended either way.
            let _ = done.await;
        }
        self.stopped().await
    }

    /// Kills every child this supervisor is stopping (or will stop) at once,
    /// whatever their shutdown specs: its own parent's shutdown timeout ran
    /// out, or it (or its parent) is killed.
    pub(crate) fn kill_children(&self) {
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

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ChildError>>;

pub(crate) enum Command {
    Stop {
        reply: oneshot::Sender<()>,
    },
    Kill {
        reply: oneshot::Sender<()>,
    },
    RestartDue {
        child: String,
        generation: u64,
    },
    StartChild {
        spec: Box<ChildSpec>,
        reply: Reply<Started>,
    },
    TerminateChild {
        id: String,
        reply: Reply<()>,
    },
    RestartChild {
        id: String,
        reply: Reply<Started>,
    },
    RestartRunning {
        id: String,
        reply: Reply<Started>,
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

/// The running incarnation of a nested supervisor, if any.
pub(crate) type Incarnation = Arc<Mutex<Option<SupervisorRef>>>;

/// How a supervisor reaches one child, actor or nested supervisor.
#[derive(Clone)]
pub(crate) struct ChildHandle {
    pub(crate) control: mpsc::UnboundedSender<Control>,
    pub(crate) shared: Arc<ActorShared>,
    /// The actor, for a worker (its name is registered).
    pub(crate) actor: Option<ActorRef>,
    /// The running incarnation, for a nested supervisor.
    pub(crate) nested: Option<Incarnation>,
}

impl ChildHandle {
    pub(crate) fn info(&self) -> ActorInfo {
        match &self.actor {
            Some(actor) => actor.info(),
            None => self.shared.info(ChildKind::Supervisor, 0),
        }
    }

    pub(crate) fn incarnation(&self) -> Option<SupervisorRef> {
        let nested = self.nested.as_ref()?;
        // Only whole-value swaps happen under this lock.
        lock(nested).clone()
    }
}
