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
//! The rules, traced to Erlang/OTP's `supervisor`, are numbered in
//! `docs/design/supervision.md`; in short:
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
//!   run before it starts the next, but not for the last: that one is
//!   *starting* (restarting, to every listing and management call) until
//!   it shows its new instance running, and reports only a failure to
//!   start, which is then handled as if the supervisor had waited (so a
//!   restart does not wake the supervisor's task a second time, on the way
//!   to its first answer).
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
//!
//! | file             | what                                                     |
//! |------------------|----------------------------------------------------------|
//! | `handle.rs`      | [`SupervisorRef`], and how a supervisor reaches a child  |
//! | `status.rs`      | [`SupervisorStatus`], [`ChildCounts`], [`RestartBudget`] |
//! | `start.rs`       | starting a supervisor and its children (S1, S2)          |
//! | `task.rs`        | the supervisor's task and its loop                       |
//! | `spawn.rs`       | a child's task from its spec                             |
//! | `child.rs`       | a child as the task keeps it                             |
//! | `strategy.rs`    | exits, restarts, strategies, backoff, give-up (S4-S9)    |
//! | `intensity.rs`   | the restart window (S5)                                  |
//! | `management.rs`  | start, terminate, restart, delete, upgrade (S12, S13)    |
//! | `stopping.rs`    | stopping children by their shutdown specs (S10, S11)     |
//! | `nested.rs`      | a supervisor as another's child (S9)                     |
//! | `context.rs`     | what a supervisor needs from its host                    |

mod child;
mod context;
mod handle;
mod intensity;
mod management;
mod nested;
mod spawn;
mod start;
mod status;
mod stopping;
mod strategy;
mod task;

pub(crate) use self::context::SupervisorContext;
pub use self::handle::SupervisorRef;
pub(crate) use self::start::start;
pub use self::status::{ChildCounts, RestartBudget, SupervisorStatus};
