//! Health checks: unhealthy several times in a row restarts; degraded never does.

use std::time::Duration;

use wasmvisor::{ExitReason, HealthSpec, HealthStatus, Host};

use crate::common::{call_ok, single, wait_until};

fn frequent_checks() -> HealthSpec {
    HealthSpec::default()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .threshold(3)
}

#[tokio::test]
async fn an_unhealthy_guest_is_restarted_after_the_threshold_of_failed_checks() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| c.health(frequent_checks())).await;
    let vitals = host.actor("vitals").unwrap();
    wait_until("a first check", || {
        vitals.info().health == HealthStatus::Healthy
    })
    .await;

    call_ok(&host, "vitals", "unhealthy out of disk").await;
    wait_until("the restart", || vitals.info().restarts == 1).await;
    let Some(ExitReason::HealthCheckFailed(reason)) = vitals.info().last_exit else {
        panic!("unexpected exit: {:?}", vitals.info().last_exit);
    };
    assert_eq!(reason, "out of disk (3 checks in a row)");
    // The new instance starts healthy.
    wait_until("the new instance is healthy", || {
        vitals.info().health == HealthStatus::Healthy
    })
    .await;
    host.shutdown().await;
}

#[tokio::test]
async fn a_degraded_guest_is_reported_but_never_restarted() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| c.health(frequent_checks())).await;
    let vitals = host.actor("vitals").unwrap();
    call_ok(&host, "vitals", "degraded slow disk").await;
    wait_until("degraded is reported", || {
        vitals.info().health == HealthStatus::Degraded("slow disk".into())
    })
    .await;
    // Well past the threshold of checks, still the same instance.
    let checks_then = vitals.info().health_checks;
    wait_until("five more checks", || {
        vitals.info().health_checks >= checks_then + 5
    })
    .await;
    assert_eq!(vitals.info().restarts, 0);
    assert_eq!(
        vitals.info().health,
        HealthStatus::Degraded("slow disk".into())
    );
    host.shutdown().await;
}

#[tokio::test]
async fn the_first_check_follows_the_initial_delay_not_the_interval() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| {
        c.health(
            HealthSpec::default()
                .interval(Duration::from_secs(3600))
                .initial_delay(Duration::ZERO),
        )
    })
    .await;
    let vitals = host.actor("vitals").unwrap();
    wait_until("the first check", || vitals.info().health_checks == 1).await;
    assert_eq!(vitals.info().health, HealthStatus::Healthy);
    host.shutdown().await;
}

#[tokio::test]
async fn failures_in_a_row_are_visible_before_the_threshold() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| {
        c.health(frequent_checks().threshold(1000))
    })
    .await;
    let vitals = host.actor("vitals").unwrap();
    call_ok(&host, "vitals", "unhealthy warming up").await;
    wait_until("failures counted", || vitals.info().health_failures >= 3).await;
    assert_eq!(vitals.info().restarts, 0);
    call_ok(&host, "vitals", "healthy").await;
    wait_until("the count resets", || vitals.info().health_failures == 0).await;
    host.shutdown().await;
}

#[tokio::test]
async fn a_check_stuck_behind_a_long_message_counts_as_late() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| {
        c.health(
            HealthSpec::default()
                .interval(Duration::from_millis(50))
                .timeout(Duration::from_millis(100))
                .threshold(1),
        )
    })
    .await;
    let vitals = host.actor("vitals").unwrap();
    assert_eq!(call_ok(&host, "vitals", "busy 600").await, "done");
    wait_until("the late check restarts it", || vitals.info().restarts == 1).await;
    let Some(ExitReason::HealthCheckFailed(reason)) = vitals.info().last_exit else {
        panic!("unexpected exit: {:?}", vitals.info().last_exit);
    };
    assert!(reason.starts_with("no answer within 100 ms"), "{reason}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_check_that_hangs_is_cut_off_at_the_health_timeout_not_the_call_timeout() {
    let host = Host::new().unwrap();
    single(&host, "vitals", "vitals", |c| {
        c.health(
            HealthSpec::default()
                .interval(Duration::from_millis(20))
                .timeout(Duration::from_millis(150))
                .threshold(1000),
        )
    })
    .await;
    let vitals = host.actor("vitals").unwrap();
    call_ok(&host, "vitals", "hang").await;
    // One hanging check ends the instance, far below the threshold: an
    // interrupted instance is never entered again.
    wait_until("the cut-off check restarts it", || {
        vitals.info().restarts == 1
    })
    .await;
    let Some(ExitReason::HealthCheckFailed(reason)) = vitals.info().last_exit else {
        panic!("unexpected exit: {:?}", vitals.info().last_exit);
    };
    // The health check's own timeout, not the 5 s call timeout.
    assert_eq!(reason, "no answer within 150 ms: the check was cut off");
    // The new instance does not hang, and answers.
    assert_eq!(call_ok(&host, "vitals", "ping").await, "pong");
    host.shutdown().await;
}
