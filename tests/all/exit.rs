//! A plugin ending on purpose (`docs/design/supervision.md` S3 and S20):
//! `exit.ignore` from `init` (OTP's `ignore`), and `exit.shutdown` and
//! `exit.shutdown-with` (OTP's `shutdown` and `{shutdown, Reason}`), shown
//! with the greeter guest.

use wasmvisor::{
    ActorStatus, AutoShutdown, CallError, ChildSpec, ExitReason, Host, RestartType, Started,
    SupervisorSpec, SupervisorStatus,
};
use wasmvisor_admin::{Action, AdminClient, AdminServer};

use crate::common::{call_ok, exits, plugin, single, supervise, wait_until, within};

/// Whether `status` is the one a child whose start was ignored shows.
fn shows_ignored(status: &ActorStatus) -> bool {
    matches!(status, ActorStatus::Stopped(reason) if reason.contains("ignored its start"))
}

#[tokio::test]
async fn an_ignored_start_keeps_a_permanent_child_undefined_and_drops_a_temporary_one() {
    let host = Host::new().unwrap();
    let greeter = plugin(&host, "greeter").await;
    let ignoring = |id: &str| ChildSpec::new(id, greeter.clone()).config("ignore", "yes");
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("sup")
            .child(ignoring("kept"))
            .child(ignoring("dropped").restart(RestartType::Temporary))
            .child(ChildSpec::new("running", greeter.clone())),
    )
    .await;

    let children = supervisor.which_children();
    let names: Vec<&str> = children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["kept", "running"], "the temporary child is dropped");
    assert!(
        shows_ignored(&children[0].status),
        "{:?}",
        children[0].status
    );
    assert_eq!(children[0].instance, None);
    assert!(host.actor("dropped").is_none(), "its name is released");
    assert_eq!(host.live_instances(), 1, "no instance is left of either");
    let kept = host.actor("kept").unwrap();
    assert!(
        matches!(kept.call("you").await, Err(CallError::Stopped { .. })),
        "an undefined child answers nothing"
    );
    assert_eq!(call_ok(&host, "running", "you").await, "hello, you");

    // Started again, it is ignored again: not an error.
    assert_eq!(supervisor.restart_child("kept").await, Ok(Started::Ignored));
    // The admin API (and so `wasmvisor start`) says so too.
    let server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "t")
        .await
        .unwrap();
    let admin = AdminClient::new(&server.addr().to_string(), Some("t".into()));
    let started = admin.act("kept", Action::Start).await.unwrap().unwrap();
    assert_eq!((started.actor.as_str(), started.instance), ("kept", None));
    let restarted = admin
        .act("running", Action::Restart)
        .await
        .unwrap()
        .unwrap();
    assert!(restarted.instance.is_some(), "{restarted:?}");
    assert_eq!(
        supervisor.start_child(ignoring("late")).await,
        Ok(Started::Ignored)
    );
    assert_eq!(
        supervisor
            .start_child(ignoring("late-temporary").restart(RestartType::Temporary))
            .await,
        Ok(Started::Ignored)
    );
    let names: Vec<String> = supervisor
        .which_children()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["kept", "running", "late"]);
    assert!(host.actor("late-temporary").is_none());
    host.shutdown().await;
}

#[tokio::test]
async fn a_dynamic_supervisor_does_not_add_a_child_whose_start_is_ignored() {
    let host = Host::new().unwrap();
    let greeter = plugin(&host, "greeter").await;
    let pool = supervise(&host, SupervisorSpec::dynamic("pool")).await;
    assert_eq!(
        pool.start_child(ChildSpec::new("worker", greeter.clone()).config("ignore", "yes"))
            .await,
        Ok(Started::Ignored)
    );
    assert!(pool.which_children().is_empty());
    assert!(host.actor("worker").is_none());
    // Its id and name are free again.
    let started = pool
        .start_child(ChildSpec::new("worker", greeter))
        .await
        .unwrap();
    assert!(matches!(started, Started::Running(_)), "{started:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn ignore_outside_init_is_a_crash_that_says_why() {
    let host = Host::new().unwrap();
    single(&host, "greeter", "greeter", |c| c).await;
    let greeter = host.actor("greeter").unwrap();
    let crashed = greeter.call("ignore").await;
    let Err(CallError::Crashed { reason, .. }) = &crashed else {
        panic!("{crashed:?}");
    };
    assert!(
        reason.to_string().contains("only `init` may call it"),
        "{reason}"
    );
    assert_eq!(call_ok(&host, "greeter", "you").await, "hello, you");
    assert_eq!(greeter.info().restarts, 1);
    host.shutdown().await;
}

/// A restart nobody waits for (the last of its group) that the plugin
/// ignores leaves the child undefined, as a first start would.
#[tokio::test]
async fn a_restart_the_plugin_ignores_leaves_the_child_undefined() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "greeter", "greeter", |c| c).await;
    assert_eq!(call_ok(&host, "greeter", "ignore-from-now-on").await, "ok");
    // Permanent: restarted after a shutdown; the restart is ignored.
    assert_eq!(call_ok(&host, "greeter", "leave").await, "bye");
    let greeter = host.actor("greeter").unwrap();
    wait_until("the ignored restart", || {
        shows_ignored(&greeter.info().status)
    })
    .await;
    let info = greeter.info();
    assert_eq!(info.instance, None);
    assert_eq!(info.last_exit, Some(ExitReason::Shutdown));
    assert_eq!(host.live_instances(), 0);
    assert_eq!(
        supervisor.restart_child("greeter").await,
        Ok(Started::Ignored)
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_transient_child_that_shuts_itself_down_is_not_restarted() {
    let host = Host::new().unwrap();
    let supervisor = single(&host, "greeter", "greeter", |c| {
        c.restart(RestartType::Transient)
    })
    .await;
    let mut events = host.subscribe();
    // Handed off: the caller's own task runs the message, and ends it.
    assert_eq!(call_ok(&host, "greeter", "leave").await, "bye");
    assert_eq!(
        exits(&mut events, 1).await,
        vec![("greeter".to_owned(), ExitReason::Shutdown)]
    );
    let greeter = host.actor("greeter").unwrap();
    wait_until("the child to be left undefined", || {
        matches!(greeter.info().status, ActorStatus::Stopped(_))
    })
    .await;
    let info = greeter.info();
    assert_eq!(info.restarts, 0);
    assert_eq!(info.last_exit, Some(ExitReason::Shutdown));
    assert_eq!(supervisor.restart_budget().used, 0, "not a crash");
    assert!(matches!(
        greeter.call("you").await,
        Err(CallError::Stopped { .. })
    ));
    // The `shutdown` hook was not called: the plugin chose to end.
    assert!(matches!(
        supervisor.restart_child("greeter").await,
        Ok(Started::Running(_))
    ));
    assert_eq!(call_ok(&host, "greeter", "shutdowns").await, "0");
    host.shutdown().await;
}

#[tokio::test]
async fn a_permanent_child_that_shuts_down_with_a_reason_is_restarted_and_the_reason_shown() {
    let host = Host::new().unwrap();
    single(&host, "greeter", "greeter", |c| c).await;
    let mut events = host.subscribe();
    let greeter = host.actor("greeter").unwrap();
    // Through the mailbox: the actor's task runs the message.
    greeter.cast("leave tired of greeting").await.unwrap();
    let reason = ExitReason::ShutdownWith("tired of greeting".to_owned());
    assert_eq!(
        exits(&mut events, 1).await,
        vec![("greeter".to_owned(), reason.clone())]
    );
    wait_until("the restart", || greeter.info().restarts == 1).await;
    assert_eq!(call_ok(&host, "greeter", "you").await, "hello, you");
    assert_eq!(greeter.info().last_exit, Some(reason.clone()));

    // The admin API (and so `wasmvisor inspect`) shows it.
    let server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "t")
        .await
        .unwrap();
    let admin = AdminClient::new(&server.addr().to_string(), Some("t".into()));
    let detail = admin.actor("greeter").await.unwrap();
    assert_eq!(detail.info.last_exit, Some(reason));
    assert_eq!(
        ExitReason::ShutdownWith("tired of greeting".to_owned()).to_string(),
        "shut down: tired of greeting"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn a_significant_child_that_shuts_itself_down_shuts_its_supervisor_down() {
    let host = Host::new().unwrap();
    let greeter = plugin(&host, "greeter").await;
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("session")
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(ChildSpec::new("helper", counter))
            .child(
                ChildSpec::new("main", greeter)
                    .restart(RestartType::Transient)
                    .significant(true),
            ),
    )
    .await;
    assert_eq!(call_ok(&host, "main", "leave done").await, "bye");
    let status = within("the auto shutdown", supervisor.stopped()).await;
    assert!(
        matches!(&status, SupervisorStatus::AutoShutdown(reason) if reason.contains("main")),
        "{status:?}"
    );
    assert!(host.actor("helper").is_none());
}

#[tokio::test]
async fn a_shutdown_asked_by_init_ends_the_instance_before_any_message() {
    let host = Host::new().unwrap();
    single(&host, "greeter", "greeter", |c| {
        c.restart(RestartType::Transient)
            .config("end-at-start", "nothing to do")
    })
    .await;
    let greeter = host.actor("greeter").unwrap();
    wait_until("the end", || {
        matches!(greeter.info().status, ActorStatus::Stopped(_))
    })
    .await;
    let info = greeter.info();
    assert_eq!(
        info.last_exit,
        Some(ExitReason::ShutdownWith("nothing to do".to_owned()))
    );
    assert_eq!(info.restarts, 0);
    assert_eq!(host.live_instances(), 0);
    host.shutdown().await;
}
