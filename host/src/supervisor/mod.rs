//! Supervisors: start actors, watch them, restart them by OTP's rules.
//!
//! ```text
//!        SupervisorRef (stop, which_children, status)
//!              │ commands
//!        supervisor task ── restart history (one sliding window)
//!         │    ▲ exits: (child, instance, reason)
//!         │    │
//!    Start/Stop/Close
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
//!   always restarts, transient only after an abnormal exit, temporary never.
//! - Every restart *attempt* is recorded in one window per supervisor; the
//!   attempt that would make more than `max_restarts` within `within` is not
//!   made: the supervisor stops every child (reverse order) and gives up,
//!   saying why. Its actors answer calls with that reason from then on.
//! - A restart waits for the backoff delay first; the wait is not a restart.
//!   A failed restart is retried through the supervisor's own command
//!   channel, and counts again, so a child that can never start again ends
//!   in a give-up rather than a hot loop.
//! - An exit of an instance that is no longer the child's current one is
//!   stale and ignored; an instance the supervisor stops itself is never
//!   reported as an exit, so it cannot cause a restart.
//!
//! This is the first cut: one-for-one only. Other strategies, nested
//! supervisors, dynamic children and the management API build on it.

mod spec;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;

pub use self::spec::{Backoff, ChildSpec, RestartType, Shutdown, Strategy, SupervisorSpec};

use crate::actor::{self, ActorChannels, ActorContext, ActorInfo, ActorStatus, Control, Exit};
use crate::error::{Error, millis};
use crate::events::Event;
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
}

/// A handle to a running supervisor. Cheap to clone.
#[derive(Clone)]
pub struct SupervisorRef {
    shared: Arc<SupervisorShared>,
    commands: mpsc::UnboundedSender<Command>,
}

struct SupervisorShared {
    name: String,
    children: Vec<actor::ActorRef>,
    status: watch::Sender<SupervisorStatus>,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl SupervisorRef {
    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether it is still supervising, and if not, why.
    pub fn status(&self) -> SupervisorStatus {
        self.shared.status.borrow().clone()
    }

    /// Its children, in start order.
    pub fn which_children(&self) -> Vec<ActorInfo> {
        self.shared.children.iter().map(|c| c.info()).collect()
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
}

enum Command {
    Stop { reply: oneshot::Sender<()> },
    RestartDue { child: usize, generation: u64 },
}

struct Child {
    spec: Arc<ChildSpec>,
    channels: ActorChannels,
    state: ChildState,
    /// Bumped whenever a pending restart must be forgotten.
    generation: u64,
    restarts_in_a_row: u32,
    up_since: Option<Instant>,
    timer: Option<AbortHandle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildState {
    Running(u64),
    Restarting,
    Stopped,
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
    for child in &spec.children {
        if !child.plugin.belongs_to(&context.actor.engine) {
            return Err(Error::InvalidSpec {
                what: child.id.clone(),
                reason: format!(
                    "its plugin ({}) was loaded by another host; load it with this host's \
                     `load_plugin_file`",
                    child.plugin.source().display()
                ),
            });
        }
    }
    let (exits_tx, exits) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let mut children: Vec<Child> = spec
        .children
        .iter()
        .map(|child_spec| {
            let child_spec = Arc::new(child_spec.clone());
            Child {
                channels: actor::spawn(context.actor.clone(), child_spec.clone(), exits_tx.clone()),
                spec: child_spec,
                state: ChildState::Stopped,
                generation: 0,
                restarts_in_a_row: 0,
                up_since: None,
                timer: None,
            }
        })
        .collect();
    let actors: Vec<_> = children.iter().map(|c| c.channels.actor.clone()).collect();
    if let Err(error) = context.registry.register_all(&actors) {
        for child in &children {
            let _ = child.channels.control.send(Control::Close {
                reason: error.to_string(),
                done: None,
            });
        }
        return Err(error);
    }

    let mut task = SupervisorTask {
        name: spec.name.clone(),
        max_restarts: spec.max_restarts,
        within: spec.within,
        backoff: spec.backoff,
        children: Vec::new(),
        history: VecDeque::new(),
        commands: commands.clone(),
        commands_rx,
        exits,
        context,
    };
    for index in 0..children.len() {
        let instance = task.context.new_instance_id();
        match start_child(&children[index], instance).await {
            Ok(()) => {
                let child = &mut children[index];
                child.state = ChildState::Running(instance);
                child.up_since = Some(Instant::now());
            }
            Err(reason) => {
                let actor = children[index].spec.id.clone();
                task.children = children;
                task.stop_children(&format!("supervisor `{}` failed to start", task.name))
                    .await;
                return Err(Error::StartFailed { actor, reason });
            }
        }
    }
    task.children = children;

    let (status, _) = watch::channel(SupervisorStatus::Running);
    let shared = Arc::new(SupervisorShared {
        name: spec.name,
        children: actors,
        status,
    });
    tokio::spawn(task.run(shared.clone()));
    Ok(SupervisorRef { shared, commands })
}

async fn start_child(child: &Child, instance: u64) -> Result<(), String> {
    let (reply, started) = oneshot::channel();
    child
        .channels
        .control
        .send(Control::Start { instance, reply })
        .map_err(|_| "the actor task is gone".to_owned())?;
    started
        .await
        .unwrap_or_else(|_| Err("the actor task is gone".to_owned()))
}

struct SupervisorTask {
    name: String,
    max_restarts: u32,
    within: std::time::Duration,
    backoff: Backoff,
    children: Vec<Child>,
    /// When each recent restart attempt was made, oldest first.
    history: VecDeque<Instant>,
    commands: mpsc::UnboundedSender<Command>,
    commands_rx: mpsc::UnboundedReceiver<Command>,
    exits: mpsc::UnboundedReceiver<Exit>,
    context: SupervisorContext,
}

impl SupervisorTask {
    async fn run(self, shared: Arc<SupervisorShared>) {
        let end = self.supervise().await;
        shared.status.send_replace(end);
    }

    /// Supervises until stopped or given up. Consumes the task, so that
    /// everything it holds is released before its end is announced.
    async fn supervise(mut self) -> SupervisorStatus {
        loop {
            tokio::select! {
                Some(command) = self.commands_rx.recv() => match command {
                    Command::Stop { reply } => {
                        self.stop_children(&format!("supervisor `{}` stopped", self.name)).await;
                        let _ = reply.send(());
                        return SupervisorStatus::Stopped;
                    }
                    Command::RestartDue { child, generation } => {
                        if let Some(reason) = self.restart(child, generation).await {
                            return SupervisorStatus::GaveUp(reason);
                        }
                    }
                },
                Some(exit) = self.exits.recv() => self.on_exit(exit),
            }
        }
    }

    fn on_exit(&mut self, exit: Exit) {
        let Some(index) = self.children.iter().position(|c| *c.spec.id == *exit.child) else {
            return;
        };
        let within = self.within;
        let child = &mut self.children[index];
        if child.state != ChildState::Running(exit.instance) {
            // A stale exit of an instance that is no longer current.
            return;
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
        if !restart {
            child.state = ChildState::Stopped;
            let reason = format!(
                "{} and is not restarted (restart type {:?})",
                exit.reason, child.spec.restart
            );
            // Nothing waits here: the supervisor goes on while the actor closes.
            drop(self.close_child(index, &reason));
            return;
        }
        self.schedule_restart(index);
    }

    fn schedule_restart(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.state = ChildState::Restarting;
        child.restarts_in_a_row = child.restarts_in_a_row.saturating_add(1);
        let delay = self.backoff.delay(child.restarts_in_a_row);
        self.context.actor.events.publish(Event::RestartScheduled {
            actor: child.spec.id.clone(),
            delay_ms: millis(delay),
        });
        let due = Command::RestartDue {
            child: index,
            generation: child.generation,
        };
        if delay.is_zero() {
            // Through our own channel, so that stop requests interleave.
            let _ = self.commands.send(due);
        } else {
            let commands = self.commands.clone();
            let timer = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = commands.send(due);
            });
            child.timer = Some(timer.abort_handle());
        }
    }

    /// Makes one restart attempt; returns the reason when the supervisor
    /// gives up instead.
    async fn restart(&mut self, index: usize, generation: u64) -> Option<String> {
        let child = self.children.get_mut(index)?;
        if child.generation != generation || child.state != ChildState::Restarting {
            return None;
        }
        child.timer = None;

        let now = Instant::now();
        let within = self.within;
        self.history
            .retain(|&attempt| now.duration_since(attempt) <= within);
        self.history.push_back(now);
        if self.history.len() > self.max_restarts as usize {
            let last_exit = child
                .channels
                .actor
                .shared()
                .lock()
                .last_exit
                .clone()
                .map(|exit| format!("; last: `{}` {exit}", child.spec.id))
                .unwrap_or_default();
            let reason = format!(
                "restart intensity exceeded: more than {} restarts within {} ms{last_exit}",
                self.max_restarts,
                millis(self.within)
            );
            self.context.actor.events.publish(Event::SupervisorGaveUp {
                supervisor: self.name.clone(),
                reason: reason.clone(),
            });
            self.stop_children(&reason).await;
            return Some(reason);
        }

        let instance = self.context.new_instance_id();
        let child = &mut self.children[index];
        match start_child(child, instance).await {
            Ok(()) => {
                child.state = ChildState::Running(instance);
                child.up_since = Some(Instant::now());
                child.channels.actor.shared().lock().restarts += 1;
            }
            Err(reason) => {
                self.context.actor.events.publish(Event::RestartFailed {
                    actor: child.spec.id.clone(),
                    reason,
                });
                self.schedule_restart(index);
            }
        }
        None
    }

    /// Stops every child in reverse start order, then closes them all with
    /// `reason` and releases their names.
    async fn stop_children(&mut self, reason: &str) {
        for index in (0..self.children.len()).rev() {
            let child = &mut self.children[index];
            child.generation += 1;
            if let Some(timer) = child.timer.take() {
                timer.abort();
            }
            if let ChildState::Running(_) = child.state {
                let (reply, stopped) = oneshot::channel();
                let stop = Control::Stop {
                    shutdown: child.spec.shutdown,
                    reply,
                };
                if child.channels.control.send(stop).is_ok() {
                    // The stop's exit is consumed here, never treated as a crash.
                    let _ = stopped.await;
                }
            }
            child.state = ChildState::Stopped;
            // Resolves (with an error, as the sender is dropped) once the task is gone.
            let _ = self.close_child(index, reason).await;
        }
    }

    /// Closes a child for good and releases its name; the returned receiver
    /// completes once its task has let go of everything.
    fn close_child(&mut self, index: usize, reason: &str) -> oneshot::Receiver<()> {
        let child = &mut self.children[index];
        let name = child.spec.id.clone();
        let (done, closed) = oneshot::channel();
        let _ = child.channels.control.send(Control::Close {
            reason: reason.to_owned(),
            done: Some(done),
        });
        // Callers see the reason at once, before the task gets to it.
        child.channels.actor.shared().lock().state = ActorStatus::Stopped(reason.to_owned());
        self.context.registry.unregister(&name);
        self.context.actor.events.publish(Event::ActorStopped {
            actor: name,
            reason: reason.to_owned(),
        });
        closed
    }
}
