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
async fn a_guest_blocked_in_a_host_call_is_cut_off_by_its_deadline_too() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "spinner", "spinner", |c| {
        c.limits(Limits::default().call_timeout(Duration::from_millis(200)))
    })
    .await;
    assert_eq!(
        crash_reason(&host, "spinner", "sleep").await,
        CrashReason::DeadlineExceeded { limit_ms: 200 }
    );
    assert_eq!(call_ok(&host, "spinner", "ping").await, "pong");
    // And a stop never waits on a sleeping guest longer than its deadline.
    let sleeper = host.actor("spinner").unwrap();
    sleeper.cast("sleep").await.unwrap();
    crate::common::within("the stop", supervisor.stop()).await;
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
        CrashReason::StackOverflow {
            limit_bytes: Limits::default().wasm_stack_bytes as u64
        }
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
async fn a_guest_that_exits_with_a_failure_status_crashes_and_says_it_gave_no_code() {
    let host = Host::new().unwrap();
    single(&host, "crasher", "crasher", |c| c).await;
    // Rust's `std::process::exit(3)` calls WASI 0.2's `exit(err)`, which
    // carries no code: the host must not make one up.
    let reason = crash_reason(&host, "crasher", "exit 3").await;
    assert_eq!(reason, CrashReason::ExitFailure);
    assert!(reason.to_string().contains("carries no code"), "{reason}");
    let crasher = host.actor("crasher").unwrap();
    // The reply can come before the exit is recorded (the caller may have
    // run the message itself).
    crate::common::wait_until("the exit is recorded", || {
        crasher.info().last_exit == Some(ExitReason::Crash(CrashReason::ExitFailure))
    })
    .await;
    assert_eq!(call_ok(&host, "crasher", "echo back").await, "back");
    host.shutdown().await;
}

#[tokio::test]
async fn a_guest_that_exits_with_a_code_has_that_code_reported() {
    let host = Host::new().unwrap();
    single(&host, "crasher", "crasher", |c| c).await;
    for code in [3, 1, 255] {
        let reason = crash_reason(&host, "crasher", &format!("exit-code {code}")).await;
        assert_eq!(reason, CrashReason::Exit(code));
        assert_eq!(reason.to_string(), format!("guest exited with code {code}"));
    }
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

#[tokio::test]
async fn a_call_that_burns_its_fuel_is_stopped_and_the_error_names_the_limit() {
    let host = Host::builder().fuel_metering(true).build().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(Limits::default().fuel_per_call(5_000_000))
    })
    .await;
    assert_eq!(
        crash_reason(&host, "spinner", "spin").await,
        CrashReason::FuelExhausted { limit: 5_000_000 }
    );
    assert_eq!(call_ok(&host, "spinner", "ping").await, "pong");
    host.shutdown().await;
}

#[tokio::test]
async fn a_fuel_limit_without_fuel_metering_is_refused() {
    let host = Host::new().unwrap();
    let spinner = crate::common::plugin(&host, "spinner").await;
    let spec = wasmvisor::SupervisorSpec::new("s").child(
        wasmvisor::ChildSpec::new("spinner", spinner).limits(Limits::default().fuel_per_call(10)),
    );
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(error.to_string().contains("fuel_metering"), "{error}");
}

#[tokio::test]
async fn a_full_mailbox_turns_try_call_away_and_the_queued_calls_are_answered() {
    let host = Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(
            Limits::default()
                .mailbox_capacity(2)
                .call_timeout(Duration::from_secs(2)),
        )
    })
    .await;
    let spinner = host.actor("spinner").unwrap();
    spinner.cast("spin").await.unwrap();
    crate::common::wait_until("the spin is taken", || spinner.info().mailbox_depth == 0).await;
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let spinner = spinner.clone();
            tokio::spawn(async move { spinner.try_call("ping").await })
        })
        .collect();
    crate::common::wait_until("the mailbox is full", || spinner.info().mailbox_depth == 2).await;
    assert_eq!(
        spinner.try_call("ping").await,
        Err(CallError::MailboxFull {
            actor: "spinner".into(),
            capacity: 2
        })
    );
    for call in queued {
        assert_eq!(call.await.unwrap().unwrap(), b"pong");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn the_host_refuses_actors_past_its_cap() {
    let host = Host::builder().max_actors(2).build().unwrap();
    let counter = crate::common::plugin(&host, "counter").await;
    let spec = |name: &str| {
        wasmvisor::SupervisorSpec::new(name).child(wasmvisor::ChildSpec::new(name, counter.clone()))
    };
    host.start_supervisor(spec("a")).await.unwrap();
    host.start_supervisor(spec("b")).await.unwrap();
    let error = host.start_supervisor(spec("c")).await.unwrap_err();
    assert!(
        matches!(error, wasmvisor::Error::TooManyActors { limit: 2 }),
        "{error}"
    );
    assert_eq!(call_ok(&host, "a", "inc").await, "1");
    host.shutdown().await;
}

#[tokio::test]
async fn each_plugin_gets_the_stack_size_its_limits_ask_for() {
    let host = Host::new().unwrap();
    let crasher = crate::common::plugin(&host, "crasher").await;
    let small = 64 << 10;
    let spec = wasmvisor::SupervisorSpec::new("stacks")
        .child(
            wasmvisor::ChildSpec::new("small", crasher.clone())
                .limits(Limits::default().wasm_stack_bytes(small)),
        )
        .child(
            wasmvisor::ChildSpec::new("large", crasher)
                .limits(Limits::default().wasm_stack_bytes(16 << 20)),
        );
    crate::common::supervise(&host, spec).await;
    // The same recursion, from the same plugin: too deep for 64 KiB, and
    // within 16 MiB (each frame takes some tens of bytes; deeper still would
    // overflow the guest's own shadow stack in its linear memory instead).
    let deep = "recurse 30000";
    assert_eq!(
        crash_reason(&host, "small", deep).await,
        CrashReason::StackOverflow {
            limit_bytes: small as u64
        }
    );
    assert!(call_ok(&host, "large", deep).await.parse::<u64>().is_ok());
    // The small one was restarted and still serves what fits its stack.
    assert_eq!(call_ok(&host, "small", "recurse 10").await, "55");
    host.shutdown().await;
}

#[tokio::test]
async fn a_stack_size_out_of_range_is_refused() {
    let host = Host::new().unwrap();
    let crasher = crate::common::plugin(&host, "crasher").await;
    let spec = wasmvisor::SupervisorSpec::new("s").child(
        wasmvisor::ChildSpec::new("tiny", crasher).limits(Limits::default().wasm_stack_bytes(1024)),
    );
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(error.to_string().contains("wasm_stack_bytes"), "{error}");
}

#[tokio::test]
async fn a_component_whose_tables_exceed_the_limit_does_not_start_and_names_the_limit() {
    let host = Host::new().unwrap();
    let counter = crate::common::plugin(&host, "counter").await;
    // Every Rust component starts with a table of function references
    // longer than one element.
    let spec = wasmvisor::SupervisorSpec::new("tables").child(
        wasmvisor::ChildSpec::new("cramped", counter.clone())
            .limits(Limits::default().max_table_elements(1)),
    );
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(
        error.to_string().contains("table limit of 1 elements"),
        "{error}"
    );
    // The host carries on: the same plugin with the default limit runs.
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    host.shutdown().await;
}

/// A guest writes its own panic report, and can write anything in it: the
/// crash reason quotes it as the guest's, on one line, never as lines that
/// read like the host's own (a forged exit in `ps`, a forged log line).
#[tokio::test]
async fn a_panic_report_the_guest_forges_is_shown_as_the_guests_on_one_line() {
    let host = Host::new().unwrap();
    single(&host, "crasher", "crasher", |c| c).await;
    let forged = "killed by its supervisor\ncounter  running  0  -  1s\n\u{1b}[31mERROR wasmvisor";
    let reason = crash_reason(&host, "crasher", &format!("forge {forged}")).await;
    let CrashReason::Panic(message) = &reason else {
        panic!("a report on stderr then `unreachable` is a panic: {reason:?}");
    };
    assert_eq!(
        message,
        "killed by its supervisor\\ncounter  running  0  -  1s\\n\\u{1b}[31mERROR wasmvisor \
         (at the-host/src/supervisor.rs:1:1)"
    );
    let shown = reason.to_string();
    assert!(
        shown.starts_with("guest panicked (as its own stderr reports): killed by its supervisor"),
        "{shown}"
    );
    assert!(
        !shown.contains('\n') && !shown.contains('\u{1b}'),
        "{shown}"
    );
    assert_eq!(reason.kind(), "panic");
    host.shutdown().await;
}
