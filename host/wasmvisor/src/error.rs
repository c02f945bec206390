//! The errors wasmvisor reports at its public boundary.
//!
//! Inside, the host uses `anyhow` (and wasmtime's errors); at the edges every
//! failure becomes one of these typed enums, each naming the thing it is about
//! (a file, an actor) and the cause:
//!
//! - [`Error`]: loading plugins, configuring and starting the host.
//! - [`CallError`]: what a caller of an actor gets instead of a reply.
//! - [`ChildError`]: why a supervisor refused a management call.
//! - [`CrashReason`]: why an instance was discarded.
//! - [`ExitReason`]: how an instance ended, as its supervisor sees it.

use std::path::PathBuf;

/// An error from loading plugins, configuring or starting the host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A plugin could not be loaded: the file is not a valid component, or it
    /// does not fit the `wasmvisor:plugin` world.
    #[error("{}: {reason}", path.display())]
    Load {
        /// The file (or the name given to bytes loaded from memory).
        path: PathBuf,
        /// What is wrong with it, and the fix where there is one.
        reason: String,
    },
    /// A specification (child, supervisor, limits) is inconsistent.
    #[error("invalid specification for `{what}`: {reason}")]
    InvalidSpec {
        /// The child or supervisor the specification belongs to.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Starting more actors would take the host past its cap.
    #[error("the host may run at most {limit} actors (HostBuilder::max_actors)")]
    TooManyActors {
        /// The cap.
        limit: usize,
    },
    /// Two children or actors would share one name.
    #[error("an actor named `{0}` already exists")]
    DuplicateName(String),
    /// No actor has this name.
    #[error("no actor named `{0}`")]
    NoSuchActor(String),
    /// A child failed to start when its supervisor started; the children
    /// already started were stopped again.
    #[error("actor `{actor}` failed to start: {reason}")]
    StartFailed {
        /// The child that failed.
        actor: String,
        /// Why it failed.
        reason: String,
    },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Any other failure of the host itself (engine set-up, I/O).
    #[error("{context}: {source}")]
    Host {
        /// What the host was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn host(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        let source: anyhow::Error = source.into();
        Error::Host {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Why a call or cast to an actor produced no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The instance crashed while handling this message. The message's state
    /// writes were discarded and the instance was replaced; the message is not
    /// delivered again.
    #[error("actor `{actor}` crashed while handling the message: {reason}")]
    Crashed {
        /// The actor.
        actor: String,
        /// Why the instance crashed.
        reason: CrashReason,
    },
    /// The plugin answered the message with an error (`handle` returned
    /// `err`). Its state writes were discarded; the instance keeps running.
    #[error("actor `{actor}` rejected the message: {reason}")]
    Rejected {
        /// The actor.
        actor: String,
        /// The plugin's own reason.
        reason: String,
    },
    /// The actor is stopped and will not answer (its supervisor gave up on it
    /// or the host is shutting down).
    #[error("actor `{actor}` is stopped: {reason}")]
    Stopped {
        /// The actor.
        actor: String,
        /// Why it is stopped.
        reason: String,
    },
    /// No actor has this name.
    #[error("no actor named `{0}`")]
    NotFound(String),
    /// The message crashed the actor on every delivery it was given, and
    /// went to the dead letters (see [`Host::dead_letters`](crate::Host::dead_letters)).
    #[error(
        "actor `{actor}` crashed on this message {attempts} times; it is dead letter {id}: {last}"
    )]
    DeadLettered {
        /// The actor.
        actor: String,
        /// How many deliveries crashed.
        attempts: u32,
        /// The dead letter's id, for replay.
        id: u64,
        /// The last crash.
        last: CrashReason,
    },
    /// `try_call`: the mailbox is full; nothing was sent.
    #[error("actor `{actor}` has a full mailbox ({capacity} messages waiting)")]
    MailboxFull {
        /// The actor.
        actor: String,
        /// The mailbox's capacity.
        capacity: usize,
    },
    /// The message's effects could not be committed to the state store, so
    /// the reply was withheld and the writes discarded.
    #[error("actor `{actor}`: state commit failed: {reason}")]
    StateCommit {
        /// The actor.
        actor: String,
        /// The store's error.
        reason: String,
    },
    /// [`Host::replay_dead_letter`](crate::Host::replay_dead_letter): no
    /// dead letter has this id (never one, or already replayed).
    #[error("no dead letter {0} (`wasmvisor dead-letters` lists them)")]
    NoDeadLetter(u64),
    /// [`Host::replay_dead_letter`](crate::Host::replay_dead_letter): the
    /// dead letters could not be read or updated in the state store.
    #[error("dead letter {id}: the state store failed: {reason}")]
    DeadLetterStore {
        /// The dead letter.
        id: u64,
        /// The store's error.
        reason: String,
    },
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

/// Why an instance was discarded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrashReason {
    /// The guest executed `unreachable` after printing a panic report on
    /// its stderr, as a Rust guest does when it panics: the report's message
    /// and location. They are the guest's own words, which the host cannot
    /// check (a guest may print any report it likes): shown as the guest's,
    /// made one line (control characters escaped) and at most 1,024
    /// characters.
    Panic(String),
    /// The guest executed `unreachable` (or aborted without a panic message).
    Unreachable,
    /// The guest overflowed its WebAssembly stack.
    StackOverflow {
        /// The stack size, in bytes.
        limit_bytes: u64,
    },
    /// The guest accessed memory or a table out of bounds.
    OutOfBounds,
    /// The call ran past its deadline and was interrupted.
    DeadlineExceeded {
        /// The deadline, in milliseconds.
        limit_ms: u64,
    },
    /// Its supervisor killed the instance in the middle of a call: a brutal
    /// kill, or a shutdown timeout that ran out.
    Killed,
    /// The guest tried to grow its memory past the limit.
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The guest tried to grow a table (or start with one) past the limit.
    TableLimit {
        /// The limit, in elements.
        limit_elements: u64,
    },
    /// The call burned all the fuel it was given.
    FuelExhausted {
        /// The fuel per call.
        limit: u64,
    },
    /// The guest exited with this non-zero code (WASI 0.2's
    /// `exit-with-code`).
    Exit(i32),
    /// The guest exited with a failure status, which carries no code: WASI
    /// 0.2's `exit(err)`, where Rust's `std::process::exit(N)` and C's
    /// `exit(N)` end up on `wasm32-wasip2` whatever `N`, the code lost
    /// inside the guest. A guest that wants its code reported calls
    /// `exit-with-code`.
    ExitFailure,
    /// A `wasi:cli` command's `run` returned an error (what `wasmtime run`
    /// reports as exit code 1).
    RunFailed,
    /// The guest's `run`, `init` or `restore` export returned an error.
    GuestError(String),
    /// The message succeeded but its state could not be committed, so the
    /// instance's view of its state can no longer be trusted.
    StateCommit(String),
    /// Any other trap or fatal host-call error.
    Trap(String),
}

impl CrashReason {
    /// The kind of crash, as a short name (`panic`, `deadline-exceeded`,
    /// ...): the `kind` of its JSON form, and the `reason` label of the
    /// crash metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CrashReason::Panic(_) => "panic",
            CrashReason::Unreachable => "unreachable",
            CrashReason::StackOverflow { .. } => "stack-overflow",
            CrashReason::OutOfBounds => "out-of-bounds",
            CrashReason::DeadlineExceeded { .. } => "deadline-exceeded",
            CrashReason::Killed => "killed",
            CrashReason::MemoryLimit { .. } => "memory-limit",
            CrashReason::TableLimit { .. } => "table-limit",
            CrashReason::FuelExhausted { .. } => "fuel-exhausted",
            CrashReason::Exit(_) | CrashReason::ExitFailure | CrashReason::RunFailed => "exit",
            CrashReason::GuestError(_) => "guest-error",
            CrashReason::StateCommit(_) => "state-commit",
            CrashReason::Trap(_) => "trap",
        }
    }
}

impl std::fmt::Display for CrashReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrashReason::Panic(message) => {
                write!(f, "guest panicked (as its own stderr reports): {message}")
            }
            CrashReason::Unreachable => write!(f, "guest executed `unreachable`"),
            CrashReason::StackOverflow { limit_bytes } => {
                write!(f, "guest overflowed its stack of {limit_bytes} bytes")
            }
            CrashReason::OutOfBounds => write!(f, "guest accessed memory out of bounds"),
            CrashReason::Killed => write!(f, "killed by its supervisor"),
            CrashReason::DeadlineExceeded { limit_ms } => {
                write!(f, "call exceeded its deadline of {limit_ms} ms")
            }
            CrashReason::MemoryLimit { limit_bytes } => {
                write!(f, "guest exceeded its memory limit of {limit_bytes} bytes")
            }
            CrashReason::TableLimit { limit_elements } => {
                write!(
                    f,
                    "guest exceeded its table limit of {limit_elements} elements"
                )
            }
            CrashReason::FuelExhausted { limit } => {
                write!(f, "call ran out of fuel (limit {limit} per call)")
            }
            CrashReason::Exit(code) => write!(f, "guest exited with code {code}"),
            CrashReason::ExitFailure => write!(
                f,
                "guest exited with a failure status, which carries no code (WASI 0.2's `exit`, \
                 where `std::process::exit(N)` ends up; `exit-with-code` reports N)"
            ),
            CrashReason::RunFailed => {
                write!(f, "the program's `run` returned an error (exit code 1)")
            }
            CrashReason::GuestError(reason) => write!(f, "guest returned an error: {reason}"),
            CrashReason::StateCommit(reason) => write!(f, "state commit failed: {reason}"),
            CrashReason::Trap(message) => write!(f, "trap: {message}"),
        }
    }
}

/// How an instance ended, as its supervisor sees it (OTP's exit reasons).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExitReason {
    /// The instance finished by itself: its `run` export returned `ok`, or the
    /// guest exited with code 0.
    Normal,
    /// The instance was stopped on request, within its shutdown timeout, or
    /// ended itself with `exit.shutdown` (OTP's `shutdown`).
    Shutdown,
    /// The instance ended itself with `exit.shutdown-with(reason)` (OTP's
    /// `{shutdown, Reason}`): the plugin's reason.
    ShutdownWith(String),
    /// The instance crashed.
    Crash(CrashReason),
    /// The instance was killed (brutal kill, or its graceful shutdown ran out
    /// of time).
    Killed,
    /// The host stopped the instance because its health check failed
    /// `threshold` times in a row (the last failure). Abnormal, like a crash.
    HealthCheckFailed(String),
}

impl ExitReason {
    /// `Normal`, `Shutdown` and `ShutdownWith` are "normal-ish" (OTP's
    /// `normal`, `shutdown`, `{shutdown, _}`): a transient child is not
    /// restarted after them.
    pub fn is_normal(&self) -> bool {
        matches!(
            self,
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::ShutdownWith(_)
        )
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitReason::Normal => write!(f, "exited normally"),
            ExitReason::Shutdown => write!(f, "shut down"),
            ExitReason::ShutdownWith(reason) => write!(f, "shut down: {reason}"),
            ExitReason::Crash(reason) => write!(f, "crashed: {reason}"),
            ExitReason::Killed => write!(f, "killed"),
            ExitReason::HealthCheckFailed(last) => write!(f, "health check failed: {last}"),
        }
    }
}
