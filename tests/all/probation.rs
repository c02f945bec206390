//! A hot upgrade on probation (`docs/design/supervision.md` S21): committed
//! when the probation ends; rolled back, with the state at takeover and the
//! messages the new version answered handled again, when the new version
//! crashes or fails a health check; refused before takeover when it cannot
//! start or restore the state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use wasmvisor::{
    CallError, ChildError, ChildSpec, Event, HealthSpec, Host, MemoryStateStore, Probation,
    StateStore, SupervisorRef, SupervisorSpec,
};
use wasmvisor_admin::{AdminClient, AdminServer};

use crate::common::{call_ok, plugin, supervise, within};

/// The next upgrade event (started, committed, rolled back) published.
async fn next_upgrade_event(events: &mut broadcast::Receiver<Event>) -> Event {
    within("an upgrade event", async {
        loop {
            if let event @ (Event::UpgradeStarted { .. }
            | Event::UpgradeCommitted { .. }
            | Event::UpgradeRolledBack { .. }) = events.recv().await.unwrap()
            {
                return event;
            }
        }
    })
    .await
}

/// The value of `wasmvisor_upgrades_total` for `actor` and `outcome`.
fn upgrades_total(metrics: &str, actor: &str, outcome: &str) -> u64 {
    let labels = [
        format!("actor=\"{actor}\""),
        format!("outcome=\"{outcome}\""),
    ];
    metrics
        .lines()
        .filter(|line| line.starts_with("wasmvisor_upgrades_total{"))
        .find(|line| labels.iter().all(|label| line.contains(label.as_str())))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// A host keeping its state in `store`, running the counter as `counter`
/// with `probation`.
async fn counter_host(
    store: &Arc<MemoryStateStore>,
    probation: Probation,
) -> (Host, SupervisorRef) {
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(ChildSpec::new("counter", counter).probation(probation)),
    )
    .await;
    (host, supervisor)
}

#[tokio::test]
async fn a_clean_upgrade_is_committed_once_its_probation_ends() {
    let store = Arc::new(MemoryStateStore::new());
    let long = Probation::default()
        .window(Duration::from_secs(600))
        .messages(3);
    let (host, supervisor) = counter_host(&store, long).await;
    let v1 = host.actor("counter").unwrap().info().version.unwrap();
    let v2 = plugin(&host, "counter_v2").await;
    let mut events = host.subscribe();

    supervisor
        .upgrade_child("counter", v2.clone())
        .await
        .unwrap();
    assert_eq!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeStarted {
            actor: "counter".into(),
            from: v1.clone(),
            to: v2.version().into()
        }
    );
    let counter = host.actor("counter").unwrap();
    let on_probation = counter.info().probation.expect("on probation");
    assert_eq!(on_probation.previous_version, v1);
    assert_eq!(on_probation.messages_left, 3);
    assert!(on_probation.remaining_ms > 500_000);

    // The admin API (and so `ps` and the dashboard) shows it.
    let server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "t")
        .await
        .unwrap();
    let admin = AdminClient::new(&server.addr().to_string(), Some("t".into()));
    let shown = admin.actor("counter").await.unwrap().info.probation;
    assert_eq!(shown.map(|p| p.previous_version), Some(v1.clone()));

    for expected in ["1", "2"] {
        assert_eq!(call_ok(&host, "counter", "inc").await, expected);
    }
    assert_eq!(counter.info().probation.unwrap().messages_left, 1);
    assert_eq!(call_ok(&host, "counter", "version").await, "2");
    assert_eq!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeCommitted {
            actor: "counter".into(),
            version: v2.version().into()
        }
    );
    assert_eq!(counter.info().probation, None);
    assert_eq!(upgrades_total(&host.metrics(), "counter", "committed"), 1);
    // Kept for good: a crash now restarts the new version.
    assert!(matches!(
        counter.call("crash").await,
        Err(CallError::Crashed { .. })
    ));
    assert_eq!(call_ok(&host, "counter", "version").await, "2");
    assert_eq!(call_ok(&host, "counter", "get").await, "2");
    host.shutdown().await;
}

#[tokio::test]
async fn a_probation_window_that_passes_commits_the_upgrade() {
    let store = Arc::new(MemoryStateStore::new());
    let short = Probation::default()
        .window(Duration::from_millis(50))
        .messages(1_000);
    let (host, supervisor) = counter_host(&store, short).await;
    let v2 = plugin(&host, "counter_v2").await;
    let mut events = host.subscribe();
    supervisor
        .upgrade_child("counter", v2.clone())
        .await
        .unwrap();
    assert!(matches!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeStarted { .. }
    ));
    // No message: the window alone ends it.
    assert_eq!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeCommitted {
            actor: "counter".into(),
            version: v2.version().into()
        }
    );
    assert_eq!(host.actor("counter").unwrap().info().probation, None);
    host.shutdown().await;
}

/// The counter's `version 2` writes a key version 1 never writes (`mark`).
/// After its crash, that key is gone with the rest of its state, and the
/// `inc` it answered is handled again by version 1: the count its caller
/// was given stands.
#[tokio::test]
async fn a_crash_on_probation_rolls_back_to_the_state_at_takeover_and_replays_what_was_answered() {
    let store = Arc::new(MemoryStateStore::new());
    let long = Probation::default().window(Duration::from_secs(600));
    let (host, supervisor) = counter_host(&store, long).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    assert_eq!(call_ok(&host, "counter", "inc").await, "2");
    let counter = host.actor("counter").unwrap();
    let v1 = counter.info().version.unwrap();
    let v2 = plugin(&host, "counter_v2").await;
    supervisor
        .upgrade_child("counter", v2.clone())
        .await
        .unwrap();
    let mut events = host.subscribe();

    assert_eq!(call_ok(&host, "counter", "inc").await, "3");
    assert_eq!(call_ok(&host, "counter", "mark").await, "marked");
    assert!(
        store
            .load("counter")
            .await
            .unwrap()
            .entries
            .contains_key("v2-mark")
    );
    let crashed = counter.call("crash").await;
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );

    let Event::UpgradeRolledBack {
        actor,
        version,
        reason,
        in_probation,
    } = next_upgrade_event(&mut events).await
    else {
        panic!("not rolled back");
    };
    assert_eq!(
        (actor.as_str(), version.as_str()),
        ("counter", v2.version())
    );
    assert!(in_probation);
    assert!(reason.contains("asked to crash"), "{reason}");
    // Version 1 again: it does not know `version 2`'s messages.
    assert_eq!(call_ok(&host, "counter", "version").await, "1");
    assert_eq!(
        call_ok(&host, "counter", "get").await,
        "3",
        "the answered `inc` stands"
    );
    let state = store.load("counter").await.unwrap();
    assert!(!state.entries.contains_key("v2-mark"), "{state:?}");
    let info = counter.info();
    assert_eq!(info.version, Some(v1));
    assert_eq!(info.probation, None);
    assert_eq!(
        info.restarts, 0,
        "a rollback is not the supervisor's restart"
    );
    assert_eq!(supervisor.restart_budget().used, 0);
    assert!(matches!(
        info.last_exit,
        Some(wasmvisor::ExitReason::Crash(_))
    ));
    assert_eq!(upgrades_total(&host.metrics(), "counter", "rolled-back"), 1);
    host.shutdown().await;
}

#[tokio::test]
async fn a_failed_health_check_on_probation_rolls_back() {
    let store = Arc::new(MemoryStateStore::new());
    let host = Host::builder()
        .shared_state_store(store.clone())
        .build()
        .unwrap();
    let counter = plugin(&host, "counter").await;
    let checks = HealthSpec::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .threshold(3);
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(
            ChildSpec::new("counter", counter.clone())
                .health(checks)
                .probation(Probation::default().window(Duration::from_secs(600))),
        ),
    )
    .await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    // The vitals plugin passes its first check, then is told to fail them.
    let vitals = plugin(&host, "vitals").await;
    supervisor.upgrade_child("counter", vitals).await.unwrap();
    let mut events = host.subscribe();
    call_ok(&host, "counter", "unhealthy out of disk").await;

    let Event::UpgradeRolledBack {
        reason,
        in_probation,
        ..
    } = next_upgrade_event(&mut events).await
    else {
        panic!("not rolled back");
    };
    assert!(in_probation);
    assert!(
        reason.contains("health check failed") && reason.contains("out of disk"),
        "one failed check is enough on probation: {reason}"
    );
    let info = host.actor("counter").unwrap().info();
    assert_eq!(info.version.as_deref(), Some(counter.version()));
    assert_eq!(call_ok(&host, "counter", "get").await, "1");
    host.shutdown().await;
}

/// The memo's version 2 cannot read version 1's snapshot: its `restore`
/// fails, the upgrade is refused before it takes over, and version 1 goes
/// on with its notes.
#[tokio::test]
async fn a_version_whose_restore_fails_is_refused_before_takeover() {
    let host = Host::new().unwrap();
    let memo = plugin(&host, "memo").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(ChildSpec::new("memo", memo.clone())),
    )
    .await;
    assert_eq!(call_ok(&host, "memo", "remember milk").await, "1");
    let mut events = host.subscribe();
    let v2 = plugin(&host, "memo_v2").await;
    let refused = supervisor.upgrade_child("memo", v2.clone()).await;
    assert!(
        matches!(&refused, Err(ChildError::UpgradeFailed { reason, .. })
            if reason.contains("restore") && reason.contains("memo/2")),
        "{refused:?}"
    );
    assert!(matches!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeStarted { .. }
    ));
    assert!(matches!(
        next_upgrade_event(&mut events).await,
        Event::UpgradeRolledBack { in_probation: false, version, .. } if version == v2.version()
    ));
    assert_eq!(call_ok(&host, "memo", "remember eggs").await, "2");
    assert_eq!(call_ok(&host, "memo", "recall").await, "milk\neggs");
    let info = host.actor("memo").unwrap().info();
    assert_eq!(info.version.as_deref(), Some(memo.version()));
    assert_eq!(info.probation, None);
    assert_eq!(upgrades_total(&host.metrics(), "memo", "refused"), 1);
    host.shutdown().await;
}

/// The new version's health is its own: what the old version's checks said
/// is not shown for it, nor counted against it on probation.
#[tokio::test]
async fn a_new_version_does_not_inherit_the_old_versions_health() {
    let host = Host::new().unwrap();
    let vitals = plugin(&host, "vitals").await;
    let checks = HealthSpec::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .threshold(1_000);
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("app").child(ChildSpec::new("vitals", vitals).health(checks)),
    )
    .await;
    call_ok(&host, "vitals", "unhealthy out of disk").await;
    let actor = host.actor("vitals").unwrap();
    crate::common::wait_until("a failed check", || actor.info().health_failures > 0).await;
    let counter = plugin(&host, "counter").await;
    supervisor.upgrade_child("vitals", counter).await.unwrap();
    let info = actor.info();
    assert_eq!(info.health, wasmvisor::HealthStatus::Unknown);
    assert_eq!(info.health_failures, 0);
    assert_eq!(call_ok(&host, "vitals", "inc").await, "1");
    host.shutdown().await;
}
