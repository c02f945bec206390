//! A hot upgrade: another version of the actor's plugin takes over between
//! two messages, with the state and the mailbox, or is refused and the
//! running version goes on.

use super::context::ActorContext;
use super::core::ActorCore;
use super::desk::{Desk, SnapshotClock};
use super::instantiate::instantiate_from;
use crate::error::CrashReason;
use crate::health::HealthStatus;
use crate::runtime::Plugin;
use crate::state::CommittedState;

/// How a hot upgrade went.
pub(crate) enum Upgraded {
    /// The new version runs (it is on the desk now); the task adopts it.
    /// `takeover` is the committed state it took over, when the upgrade
    /// goes on probation (S21): what a rollback writes back.
    Done { takeover: Option<CommittedState> },
    /// The new version was refused (why); the old instance goes on.
    Refused(String),
    /// The old instance failed while handing over its state.
    OldCrashed(CrashReason),
}

/// A hot upgrade of the instance on `desk` to `plugin`, between two
/// messages (the mailbox is not touched: the messages waiting in it go to
/// whichever version runs after this).
///
/// 1. The old instance is snapshotted and its state committed.
/// 2. An instance of the new version starts from that state (`init`,
///    `restore`), and passes one health check if it exports one.
/// 3. Then its `init` writes are committed and it takes over; the old
///    instance is dropped without `shutdown` (the new one carries on its
///    work), and the new one is on probation (see `probation`). Otherwise
///    the new instance is dropped, nothing it did is kept, and the old one
///    goes on serving.
pub(crate) async fn upgrade(
    core: &ActorCore,
    context: &ActorContext,
    desk: &mut Desk,
    plugin: &Plugin,
) -> Upgraded {
    let Some((old, snapshots)) = desk.serving() else {
        return Upgraded::Refused("no instance is running".to_owned());
    };
    if let Err(crash) = core.commit(old, snapshots, true).await {
        return Upgraded::OldCrashed(crash);
    }
    let refused = |why: String| Upgraded::Refused(format!("version {}: {why}", plugin.version()));
    // Read once: the new version starts from it, and a rollback on
    // probation writes it back.
    let takeover = match context.state_store.load(&core.shared.name).await {
        Ok(state) => state,
        Err(e) => return refused(format!("the state at takeover cannot be read: {e}")),
    };
    let (start_from, takeover) = if core.spec.probation.is_on() {
        (takeover.clone(), Some(takeover))
    } else {
        (takeover, None)
    };
    let started = instantiate_from(core, context, plugin, start_from).await;
    let mut new = match started {
        Ok(Some(new)) => new,
        Ok(None) => return refused("its `init` ignored the start (`exit.ignore`)".to_owned()),
        Err(why) => return refused(format!("it failed to start: {why}")),
    };
    // Kept aside while the health check runs, whose own writes are dropped.
    let init_writes = new.take_changes();
    match new.check_health(core.spec.health.timeout).await {
        None | Some(Ok(HealthStatus::Healthy | HealthStatus::Degraded(_))) => {}
        Some(Ok(status)) => return refused(format!("its first health check said {status}")),
        Some(Err(crash)) => return refused(format!("its first health check crashed: {crash}")),
    }
    new.discard_changes();
    if let Err(crash) = core.commit_these(&mut new, init_writes).await {
        return refused(format!("its `init` writes could not be committed: {crash}"));
    }
    desk.snapshots = SnapshotClock::default();
    desk.instance = Some(new);
    Upgraded::Done { takeover }
}
