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
//! [`CallError::Stopped`](crate::CallError::Stopped).
//!
//! | file             | what                                                    |
//! |------------------|---------------------------------------------------------|
//! | `handle.rs`      | [`ActorRef`]: call, cast, try_call, info                |
//! | `envelope.rs`    | a message, who waits for its answer, how it gets there  |
//! | `hand_off.rs`    | the route of a call; a caller running the guest itself  |
//! | `spin.rs`        | a caller's bounded spin for a desk another thread holds |
//! | `desk.rs`        | the running instance and its snapshot clock             |
//! | `core.rs`        | handling one message: reply, redelivery, dead letters   |
//! | `transaction.rs` | committing a message's state, with snapshots            |
//! | `task.rs`        | the actor's task: start, serve, stop, close             |
//! | `instantiate.rs` | starting an instance on the committed state             |
//! | `probe.rs`       | health checks                                           |
//! | `upgrade.rs`     | hot upgrades                                            |
//! | `control.rs`     | the supervisor's requests and the actor's reports       |
//! | `shared.rs`, `info.rs` | the status listings show                          |
//! | `context.rs`, `spawn.rs` | what an actor needs from its host; spawning it  |

mod context;
mod control;
mod core;
mod desk;
mod envelope;
mod hand_off;
mod handle;
mod info;
mod instantiate;
mod probation;
mod probe;
mod shared;
mod spawn;
mod spin;
mod task;
mod transaction;
mod upgrade;

pub(crate) use self::context::ActorContext;
pub use self::control::Started;
pub(crate) use self::control::{Control, Exit, StartOutcome, StartReply, StartReport};
pub use self::handle::ActorRef;
pub use self::info::{ActorInfo, ActorStatus, ProbationInfo};
pub(crate) use self::shared::ActorShared;
pub(crate) use self::spawn::spawn;
