//! The desk: the running instance and what goes with it from one message
//! to the next. Whoever holds the desk's lock runs the guest: the actor's
//! task, or a caller it was handed off to (see `hand_off`).

use std::collections::VecDeque;
use std::time::Instant;

use super::envelope::Envelope;
use crate::error::ExitReason;
use crate::runtime::Instance;
use crate::spec::SnapshotPolicy;

/// The running instance, and what goes with it from one message to the next.
pub(crate) struct Desk {
    /// The running instance: on the desk only while it serves.
    pub(crate) instance: Option<Instance>,
    /// Its number (see `Control::Start`).
    pub(crate) serving_id: u64,
    pub(crate) snapshots: SnapshotClock,
    /// Messages for the next instance, before the mailbox's: one kept for
    /// redelivery, any the actor task took from the mailbox just as a
    /// handed-off message ended the instance, and calls made after that,
    /// before the actor task saw it (see `Route::NextInstance`).
    pub(crate) first: VecDeque<Envelope>,
    /// How the instance ended in a caller's hands (taken off the desk with
    /// it, in the same turn of the lock): the actor task stops serving when
    /// it finds this.
    pub(crate) ended: Option<ExitReason>,
    /// Whether the instance is a new version on probation: every message
    /// then goes through the actor task, which watches it (S21).
    pub(crate) on_probation: bool,
}

impl Desk {
    /// The serving instance and its snapshot clock. The actor task puts the
    /// instance on the desk before serving and takes it off after (a caller
    /// takes off one that crashed in its hands, setting `ended`), and a
    /// caller gets the desk only with one on.
    pub(crate) fn serving(&mut self) -> Option<(&mut Instance, &mut SnapshotClock)> {
        let instance = self.instance.as_mut()?;
        Some((instance, &mut self.snapshots))
    }
}

/// When the current instance was last snapshotted.
pub(crate) struct SnapshotClock {
    pub(crate) messages_since: u32,
    pub(crate) taken_at: Instant,
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
    pub(crate) fn due(&self, policy: SnapshotPolicy) -> bool {
        match policy {
            SnapshotPolicy::EveryMessage => true,
            SnapshotPolicy::EveryMessages(n) => self.messages_since >= n,
            SnapshotPolicy::Interval(interval) => self.taken_at.elapsed() >= interval,
        }
    }
}
