//! A hot upgrade on probation (S21 of `docs/design/supervision.md`): for a
//! while after a new version takes over, the actor task watches it, with
//! what a rollback needs at hand: the previous version, the committed state
//! at takeover, and the messages the new version answered since.
//!
//! Every message goes through the actor task meanwhile (no hand-off), so
//! that the task sees each answer and each crash. The probation ends at its
//! window or after its number of answered messages, and the upgrade is
//! committed. A crash of the new version or a failed health check before
//! that rolls it back: the state at takeover is written back in one
//! commit, the previous version starts again from it (under the same
//! instance id: the supervisor is not involved), and handles the answered
//! messages again, in order, before any other.

use std::collections::VecDeque;

use super::core::ActorCore;
use super::desk::Desk;
use super::envelope::{Envelope, Reply};
use super::shared::ProbationShown;
use crate::error::{CrashReason, ExitReason};
use crate::events::Event;
use crate::runtime::Plugin;
use crate::state::{Changes, CommittedState};

/// A new version on probation, and what rolling it back takes.
pub(crate) struct OnProbation {
    /// The version it replaced, which a rollback brings back.
    previous: Plugin,
    /// The committed state at takeover, which a rollback writes back.
    takeover: CommittedState,
    /// When the probation ends if messages have not ended it first.
    pub(crate) until: tokio::time::Instant,
    messages_left: u32,
    /// The messages the new version answered `ok`, in order.
    answered: Vec<Vec<u8>>,
}

/// Whether an exit of a new version on probation rolls the upgrade back:
/// what it did wrong (a crash, failed health checks), not what was done to
/// it (a stop, a kill) or what it chose (a normal exit, a shutdown).
pub(crate) fn rolls_back(reason: &ExitReason) -> bool {
    match reason {
        ExitReason::Crash(crash) => *crash != CrashReason::Killed,
        ExitReason::HealthCheckFailed(_) => true,
        _ => false,
    }
}

/// The changes that take an actor's state from `now` back to `takeover`.
/// A snapshot can be replaced but not removed: one the new version left,
/// where the previous version had none, stays (the previous version,
/// which does not export `snapshot`, never reads it).
fn back_to(now: &CommittedState, takeover: &CommittedState) -> Changes {
    let mut writes = std::collections::BTreeMap::new();
    for key in now.entries.keys() {
        if !takeover.entries.contains_key(key) {
            writes.insert(key.clone(), None);
        }
    }
    for (key, value) in &takeover.entries {
        if now.entries.get(key) != Some(value) {
            writes.insert(key.clone(), Some(value.clone()));
        }
    }
    let snapshot = match &takeover.snapshot {
        Some(snapshot) if now.snapshot.as_ref() != Some(snapshot) => Some(snapshot.clone()),
        _ => None,
    };
    Changes {
        base_version: now.version,
        writes,
        snapshot,
    }
}

/// Tells that the upgrade to `version` is kept for good.
pub(crate) fn committed(core: &ActorCore, version: &str) {
    core.events.publish(Event::UpgradeCommitted {
        actor: core.shared.name.to_string(),
        version: version.to_owned(),
    });
}

impl OnProbation {
    /// Puts the version that just took over from `previous` (on `desk`,
    /// with `takeover` as its state) on probation for the child's spec.
    pub(crate) fn begin(
        core: &ActorCore,
        desk: &mut Desk,
        previous: Plugin,
        takeover: CommittedState,
    ) -> OnProbation {
        let spec = core.spec.probation;
        let until = tokio::time::Instant::now() + spec.window;
        core.shared.lock().probation = Some(ProbationShown {
            previous_version: previous.version().to_owned(),
            until,
            messages_left: spec.messages,
        });
        desk.on_probation = true;
        OnProbation {
            previous,
            takeover,
            until,
            messages_left: spec.messages,
            answered: Vec::new(),
        }
    }

    /// Records a message the new version answered `ok`; true when that was
    /// the last the probation needed.
    pub(crate) fn answered(&mut self, core: &ActorCore, message: Vec<u8>) -> bool {
        self.answered.push(message);
        self.messages_left = self.messages_left.saturating_sub(1);
        if let Some(shown) = core.shared.lock().probation.as_mut() {
            shown.messages_left = self.messages_left;
        }
        self.messages_left == 0
    }

    /// Ends the probation and keeps `version`, the new version, for good.
    pub(crate) fn commit(self, core: &ActorCore, desk: &mut Desk, version: &str) {
        desk.on_probation = false;
        core.shared.lock().probation = None;
        committed(core, version);
    }

    /// Rolls the upgrade to `failed` back after its instance (already off
    /// `desk`) ended with `reason`: writes the state at takeover back, puts
    /// the answered messages first on `desk` for the previous version, and
    /// tells why. Returns the previous version, to adopt, and whether the
    /// state was written back (if not, the previous version must not carry
    /// on as if it had been: the exit goes to the supervisor, and the
    /// restart loads what the store has).
    pub(crate) async fn roll_back(
        self,
        core: &ActorCore,
        desk: &mut Desk,
        failed: &str,
        reason: &ExitReason,
    ) -> (Plugin, bool) {
        desk.on_probation = false;
        let restored = write_back(core, &self.takeover).await;
        // Handled before anything still waiting: they came first.
        let replays = self
            .answered
            .into_iter()
            .map(|message| Envelope::queued(&core.waiting, message, Reply::Replayed));
        let waiting = std::mem::take(&mut desk.first);
        desk.first = replays.chain(waiting).collect::<VecDeque<_>>();
        {
            let mut status = core.shared.lock();
            status.probation = None;
            status.last_exit = Some(reason.clone());
        }
        let why = match &restored {
            Ok(()) => format!("version {failed} on probation {reason}"),
            Err(e) => format!(
                "version {failed} on probation {reason}; the state at takeover could not be \
                 written back ({e}), so the actor restarts as its supervisor decides"
            ),
        };
        core.events.publish(Event::UpgradeRolledBack {
            actor: core.shared.name.to_string(),
            version: failed.to_owned(),
            reason: why,
            in_probation: true,
        });
        (self.previous, restored.is_ok())
    }
}

/// Makes the actor's committed state `takeover` again, in one commit.
async fn write_back(core: &ActorCore, takeover: &CommittedState) -> Result<(), String> {
    let store = &core.state_store;
    let name = &core.shared.name;
    let now = store.load(name).await.map_err(|e| e.to_string())?;
    let changes = back_to(&now, takeover);
    if !changes.is_empty() {
        store
            .commit(name, changes)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: u64, entries: &[(&str, &str)], snapshot: Option<&str>) -> CommittedState {
        CommittedState {
            version,
            entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            snapshot: snapshot.map(|s| s.as_bytes().to_vec()),
        }
    }

    #[test]
    fn back_to_deletes_what_was_added_and_restores_what_changed() {
        let takeover = state(3, &[("count", "2"), ("kept", "x")], Some("old"));
        let now = state(
            5,
            &[("count", "4"), ("kept", "x"), ("new", "y")],
            Some("new"),
        );
        let changes = back_to(&now, &takeover);
        assert_eq!(changes.base_version, 5);
        assert_eq!(
            changes.writes,
            [
                ("count".to_owned(), Some(b"2".to_vec())),
                ("new".to_owned(), None)
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(changes.snapshot, Some(b"old".to_vec()));
        assert!(back_to(&takeover, &takeover).is_empty());
    }

    #[test]
    fn only_what_the_new_version_did_rolls_back() {
        assert!(rolls_back(&ExitReason::Crash(CrashReason::Unreachable)));
        assert!(rolls_back(&ExitReason::HealthCheckFailed("sick".into())));
        assert!(!rolls_back(&ExitReason::Crash(CrashReason::Killed)));
        assert!(!rolls_back(&ExitReason::Killed));
        assert!(!rolls_back(&ExitReason::Shutdown));
        assert!(!rolls_back(&ExitReason::Normal));
    }
}
