//! The JSON the admin API speaks, shared by the server and the client: the
//! supervision tree, one actor in detail, the actions on an actor, and the
//! error body every refusal carries.

use wasmvisor::{ActorInfo, ProbationInfo, RestartBudget, Strategy, SupervisorStatus};

/// One supervisor of the tree, with its children (`GET /v1/tree`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SupervisorNode {
    /// The supervisor's name.
    pub name: String,
    /// Whether it still supervises, and if not, why.
    pub status: SupervisorStatus,
    /// Which children restart when one has to.
    pub strategy: Strategy,
    /// Its restart intensity, and how much of it recent restarts used.
    pub restart_budget: RestartBudget,
    /// Its children, in start order.
    pub children: Vec<ChildNode>,
}

/// One child in the tree: an actor, or a nested supervisor with its own
/// children.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildNode {
    /// The child as listed by its supervisor.
    #[serde(flatten)]
    pub info: ActorInfo,
    /// For a running nested supervisor: its subtree.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub supervisor: Option<SupervisorNode>,
}

/// One actor and the supervisor it belongs to (`GET /v1/actors/NAME`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ActorDetail {
    /// The actor.
    #[serde(flatten)]
    pub info: ActorInfo,
    /// The name of its supervisor.
    pub supervisor: String,
}

/// What an operator can ask of an actor's supervisor
/// (`POST /v1/actors/NAME/ACTION`). None counts as a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// Stop it by its shutdown spec and start a fresh instance.
    Restart,
    /// Stop it; it stays down until started.
    Stop,
    /// Start a stopped actor.
    Start,
    /// Kill it (an actor, or a supervisor with its subtree) at once, with
    /// exit reason `killed`; its supervisor applies its restart type.
    Kill,
}

impl Action {
    /// The action as its path segment says it: `restart`, `stop`, `start`,
    /// `kill`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Restart => "restart",
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Kill => "kill",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to an upgrade (`POST /v1/actors/NAME/upgrade`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Upgraded {
    /// The actor.
    pub actor: String,
    /// The version it runs now (see `wasmvisor::Plugin::version`).
    pub version: String,
    /// The probation the new version is on, if any: a crash or a failed
    /// health check before it ends rolls the upgrade back.
    pub probation: Option<ProbationInfo>,
}

/// A one-off run of an actor's `wasi:cli` program
/// (`POST /v1/actors/NAME/run`, a JSON body): its arguments and stdin in
/// place of its manifest's. The answer is a `wasmvisor::RunOutcome`: the
/// exit, the exit code and the kept output.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The arguments after `argv[0]` (the actor's name).
    #[serde(default)]
    pub args: Vec<String>,
    /// The program's standard input; empty when absent.
    #[serde(default)]
    pub stdin: Option<String>,
}

/// What a `start` or `restart` came to (`POST /v1/actors/NAME/start`,
/// `.../restart`; a `stop` or `kill` answers with no body).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ActorStarted {
    /// The actor.
    pub actor: String,
    /// The instance that runs now; `None` when the plugin's `init` answered
    /// the start with `exit.ignore` (it stays stopped, with no instance).
    pub instance: Option<u64>,
}

/// The stable code of an error answer: its `error` field. A client matches
/// on the code, never on the message, which is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 401: the request lacks the host's token, or has another.
    Unauthorized,
    /// 400: the request is malformed (a path, query or header that does not
    /// parse).
    BadRequest,
    /// 404: no such actor, dead letter or route.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 413: the body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// 415: a body of a kind the route does not take.
    UnsupportedMediaType,
    /// 422: the plugin answered the message with an error.
    Rejected,
    /// 422: the uploaded component is not a plugin the host can run (it
    /// does not compile, or lacks the `handler` export); nothing changed.
    InvalidPlugin,
    /// 429: the actor's mailbox is full.
    MailboxFull,
    /// 500: the instance crashed on the message.
    Crashed,
    /// 500: the message crashed its actor on every delivery and is now a
    /// dead letter.
    DeadLettered,
    /// 500: the message's state could not be committed.
    StateCommit,
    /// 500: the state store could not be read.
    StateStore,
    /// 503: the actor is stopped.
    Stopped,
    /// 409: the actor's component cannot do what was asked of it (a
    /// one-off run of a component that is not a `wasi:cli` program).
    WrongWorld,
    /// 504: no answer in time.
    Timeout,
    /// 503: the endpoint serves as many requests as it may; try again.
    Busy,
    /// 409 (or 404, 500, 503 as the case may be): the supervisor refused the
    /// action (the actor is running, restarting, not found, ...).
    Management,
    /// Any other error status, from the HTTP framework itself.
    Internal,
    /// A code this client does not know (a newer host).
    #[serde(other)]
    Unknown,
}

/// The body of every error answer: `{"error": CODE, "message": TEXT}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// The stable code.
    pub error: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorBody {
    /// A body with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: code,
            message: message.into(),
        }
    }
}
