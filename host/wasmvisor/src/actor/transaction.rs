//! The transaction of one message: the pending state writes of a guest
//! call, with a snapshot when the policy says it is due, committed to the
//! store atomically before the reply (see `docs/design/state.md`).

use std::time::Instant;

use super::core::{ActorCore, exit_for};
use super::desk::{Desk, SnapshotClock};
use crate::error::{CrashReason, ExitReason};
use crate::runtime::Instance;
use crate::state::Changes;

impl ActorCore {
    /// Snapshots the guest (if it exports `snapshot`, and the snapshot
    /// policy says it is time, or `force`) and commits the changes. A
    /// failure here is a crash: the instance's view of its state can no
    /// longer be trusted.
    pub(crate) async fn commit(
        &self,
        instance: &mut Instance,
        snapshots: &mut SnapshotClock,
        force: bool,
    ) -> Result<(), CrashReason> {
        if instance.has_snapshot() {
            snapshots.messages_since += 1;
            if force || snapshots.due(self.spec.snapshot) {
                instance.take_snapshot().await?;
                *snapshots = SnapshotClock::default();
            }
        }
        self.commit_changes(instance).await
    }

    /// The end the guest on `desk` asked for (`exit.shutdown`) during the
    /// call that just returned, if any, once its last snapshot is committed
    /// for the instance after it (S20 of `docs/design/supervision.md`). A
    /// commit that fails makes it a crash.
    pub(crate) async fn asked_exit(&self, desk: &mut Desk) -> Option<ExitReason> {
        let (instance, snapshots) = desk.serving()?;
        let asked = instance.asked_exit()?;
        Some(match self.commit(instance, snapshots, true).await {
            Ok(()) => asked,
            Err(crash) => exit_for(crash),
        })
    }

    /// Commits the pending state changes, without a new snapshot.
    pub(crate) async fn commit_changes(&self, instance: &mut Instance) -> Result<(), CrashReason> {
        let changes = instance.take_changes();
        self.commit_these(instance, changes).await
    }

    /// Commits `changes`, taken from `instance`'s pending ones.
    pub(crate) async fn commit_these(
        &self,
        instance: &mut Instance,
        changes: Changes,
    ) -> Result<(), CrashReason> {
        if changes.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        match self
            .state_store
            .commit(&self.shared.name, changes.clone())
            .await
        {
            Ok(version) => {
                self.metrics
                    .observe_commit(&self.shared.name, started.elapsed());
                instance.committed_as(changes, version);
                Ok(())
            }
            Err(error) => Err(CrashReason::StateCommit(error.to_string())),
        }
    }
}
