//! Every kind of trap becomes a typed crash, the instance is replaced, and
//! the host never hangs or dies.

use std::time::Duration;

use wasmvisor::{CallError, CrashReason, ExitReason, Host, Limits};

use crate::common::{call_ok, single};

async fn crash_reason(host: &Host, actor: &str, message: &str) -> CrashReason {
    match host.actor(actor).unwrap().call(message).await {
        Err(CallError::Crashed { reason, .. }) => reason,
        other => panic!("`{message}` to `{actor}` should crash, got {other:?}"),
    }
}

#[tokio::test]
async fn a_spinning_guest_is_cut_off_by_its_deadline_and_restarted() {
    let host = Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(Limits::default().call_timeout(Duration::from_millis(200)))
    })
    .await;
    assert_eq!(
        crash_reason(&host, "spinner", "spin").await,
        CrashReason::DeadlineExceeded { limit_ms: 200 }
    );
    assert_eq!(call_ok(&host, "spinner", "ping").await, "pong");
    assert_eq!(host.actor("spinner").unwrap().info().restarts, 1);
    host.shutdown().await;
}

#[tokio::test]
async fn a_hog_is_stopped_by_the_memory_limit_and_restarted() {
    let host = Host::new().unwrap();
    let limit = 16 << 20;
    single(&host, "hog", "hog", |c| {
        c.limits(Limits::default().memory_bytes(limit))
    })
    .await;
    assert_eq!(
        crash_reason(&host, "hog", "hog").await,
        CrashReason::MemoryLimit { limit_bytes: limit }
    );
    assert_eq!(call_ok(&host, "hog", "ping").await, "pong");
    host.shutdown().await;
}

#[tokio::test]
async fn every_kind_of_trap_is_reported_with_its_own_reason() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "crasher", "crasher", |c| c).await;
    let panic = crash_reason(&host, "crasher", "panic").await;
    assert!(
        matches!(&panic, CrashReason::Panic(message) if message.contains("boom: asked to panic") && message.contains("src/lib.rs")),
        "{panic:?}"
    );
    assert_eq!(
        call_ok(&host, "crasher", "echo still here").await,
        "still here"
    );
    assert_eq!(
        crash_reason(&host, "crasher", "unreachable").await,
        CrashReason::Unreachable
    );
    assert_eq!(call_ok(&host, "crasher", "echo again").await, "again");
    assert_eq!(
        crash_reason(&host, "crasher", "overflow").await,
        CrashReason::StackOverflow
    );
    // Default intensity is 3 restarts in 5 s: three crashes stay within it.
    assert_eq!(
        call_ok(&host, "crasher", "echo and again").await,
        "and again"
    );
    assert_eq!(supervisor.which_children()[0].restarts, 3);
    host.shutdown().await;
}

#[tokio::test]
async fn a_guest_that_exits_with_a_failure_status_crashes() {
    let host = Host::new().unwrap();
    single(&host, "crasher", "crasher", |c| c).await;
    // WASI 0.2's `exit` carries success or failure only: any non-zero code is 1.
    assert_eq!(
        crash_reason(&host, "crasher", "exit 3").await,
        CrashReason::Exit(1)
    );
    let crasher = host.actor("crasher").unwrap();
    assert_eq!(
        crasher.info().last_exit,
        Some(ExitReason::Crash(CrashReason::Exit(1)))
    );
    assert_eq!(call_ok(&host, "crasher", "echo back").await, "back");
    host.shutdown().await;
}

#[tokio::test]
async fn a_guest_that_exits_successfully_ends_normally_and_a_permanent_child_restarts() {
    let host = Host::new().unwrap();
    single(&host, "crasher", "crasher", |c| c).await;
    // The caller gets no reply: the instance ended while handling its message.
    assert_eq!(
        crash_reason(&host, "crasher", "exit 0").await,
        CrashReason::Exit(0)
    );
    let crasher = host.actor("crasher").unwrap();
    assert_eq!(call_ok(&host, "crasher", "echo back").await, "back");
    assert_eq!(crasher.info().last_exit, Some(ExitReason::Normal));
    assert_eq!(crasher.info().restarts, 1);
    host.shutdown().await;
}
