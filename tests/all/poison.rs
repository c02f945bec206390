//! Poison messages: with redelivery, a message that crashes its actor is
//! tried the configured number of times, then dead-lettered, and the actor
//! goes on serving, within its restart intensity.

use std::time::Duration;

use wasmvisor::{
    CallError, ChildSpec, CrashReason, Event, Host, RedbStateStore, SupervisorSpec,
    SupervisorStatus,
};

use crate::common::{call_ok, plugin, single, supervise, within};

/// The ids of the host's dead letters, oldest first.
async fn letter_ids(host: &Host) -> Vec<u64> {
    host.dead_letters()
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect()
}

#[tokio::test]
async fn a_poison_message_is_tried_then_dead_lettered_and_the_actor_serves_on() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("guarded")
            .intensity(3, Duration::from_secs(60))
            .child(ChildSpec::new("counter", counter).redelivery(3)),
    )
    .await;
    let mut events = host.subscribe();
    let actor = host.actor("counter").unwrap();
    call_ok(&host, "counter", "inc").await;

    let poison = tokio::spawn({
        let actor = actor.clone();
        async move { actor.call("crash").await }
    });
    // A message sent alongside it is answered all the same.
    let behind = tokio::spawn({
        let actor = actor.clone();
        async move { actor.call("inc").await }
    });
    let result = within("the poison message", poison).await.unwrap();
    let Err(CallError::DeadLettered {
        attempts, id, last, ..
    }) = result
    else {
        panic!("expected a dead letter, got {result:?}");
    };
    assert_eq!(attempts, 3);
    assert!(matches!(last, CrashReason::Panic(_)), "{last:?}");
    assert_eq!(
        within("the message behind it", behind)
            .await
            .unwrap()
            .unwrap(),
        b"2"
    );

    assert_eq!(actor.info().restarts, 3, "one restart per attempt");
    assert_eq!(
        supervisor.status(),
        SupervisorStatus::Running,
        "within the intensity"
    );
    let letters = host.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].id, id);
    assert_eq!(letters[0].message, b"crash");
    assert_eq!(letters[0].crashes.len(), 3);
    let announced = within("the dead-letter event", async {
        loop {
            if let Event::DeadLettered {
                actor,
                id,
                attempts,
            } = events.recv().await.unwrap()
            {
                return (actor, id, attempts);
            }
        }
    })
    .await;
    assert_eq!(announced, ("counter".to_owned(), id, 3));
    assert_eq!(call_ok(&host, "counter", "get").await, "2");
    host.shutdown().await;
}

#[tokio::test]
async fn without_redelivery_the_crashing_message_is_answered_once_and_never_retried() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    let result = host.actor("counter").unwrap().call("crash").await;
    assert!(
        matches!(result, Err(CallError::Crashed { .. })),
        "{result:?}"
    );
    let counter = host.actor("counter").unwrap();
    // The reply can come before the restart (the caller may have run the
    // message itself); the next call waits for the new instance.
    assert_eq!(call_ok(&host, "counter", "get").await, "0");
    assert_eq!(counter.info().restarts, 1);
    assert!(host.dead_letters().await.unwrap().is_empty());
    host.shutdown().await;
}

#[tokio::test]
async fn replaying_a_dead_letter_sends_it_again() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("guarded")
            .intensity(10, Duration::from_secs(60))
            .child(ChildSpec::new("counter", counter).redelivery(2)),
    )
    .await;
    let _ = host.actor("counter").unwrap().call("crash").await;
    let first = host.dead_letters().await.unwrap()[0].id;
    assert_eq!(
        host.replay_dead_letter(999).await,
        Err(CallError::NoDeadLetter(999))
    );
    // Still poison: it is dead-lettered again, as a new letter.
    let replayed = host.replay_dead_letter(first).await;
    assert!(
        matches!(replayed, Err(CallError::DeadLettered { .. })),
        "{replayed:?}"
    );
    let ids = letter_ids(&host).await;
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], first);
    host.shutdown().await;
}

#[tokio::test]
async fn a_message_kept_for_redelivery_is_answered_when_its_actor_is_terminated() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let supervisor = supervise(
        &host,
        SupervisorSpec::new("slow")
            .intensity(5, Duration::from_secs(600))
            .backoff(wasmvisor::Backoff::Fixed(Duration::from_secs(300)))
            .child(ChildSpec::new("counter", counter).redelivery(3)),
    )
    .await;
    let actor = host.actor("counter").unwrap();
    let poison = tokio::spawn({
        let actor = actor.clone();
        async move { actor.call("crash").await }
    });
    crate::common::wait_until("the counter waits to restart", || {
        actor.info().status == wasmvisor::ActorStatus::Restarting
    })
    .await;
    supervisor.terminate_child("counter").await.unwrap();
    let answer = within("the kept message's answer", poison).await.unwrap();
    assert!(
        matches!(&answer, Err(CallError::Stopped { reason, .. }) if reason.contains("terminate_child")),
        "{answer:?}"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn dead_letters_survive_a_host_restart_and_can_be_replayed_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let guarded = |counter| {
        SupervisorSpec::new("guarded")
            .intensity(10, Duration::from_secs(60))
            .child(ChildSpec::new("counter", counter).redelivery(2))
    };
    let first = {
        let host = Host::builder()
            .state_store(RedbStateStore::open(&path).unwrap())
            .build()
            .unwrap();
        supervise(&host, guarded(plugin(&host, "counter").await)).await;
        let result = host.actor("counter").unwrap().call("crash").await;
        let Err(CallError::DeadLettered { id, .. }) = result else {
            panic!("expected a dead letter, got {result:?}");
        };
        host.shutdown().await;
        id
    };

    let host = Host::builder()
        .state_store(RedbStateStore::open(&path).unwrap())
        .build()
        .unwrap();
    let letters = host.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].id, letters[0].message.as_slice()),
        (first, &b"crash"[..])
    );
    assert_eq!(letters[0].crashes.len(), 2);

    supervise(&host, guarded(plugin(&host, "counter").await)).await;
    // Still poison: the replay is dead-lettered again, under a new id, and
    // the old letter is gone.
    let replayed = host.replay_dead_letter(first).await;
    let Err(CallError::DeadLettered { id: second, .. }) = replayed else {
        panic!("expected a dead letter, got {replayed:?}");
    };
    assert!(second > first);
    let ids = letter_ids(&host).await;
    assert_eq!(ids, [second]);
    host.shutdown().await;
}

#[tokio::test]
async fn actor_names_in_the_hosts_reserved_namespace_are_refused() {
    let host = Host::new().unwrap();
    let counter = plugin(&host, "counter").await;
    let spec = SupervisorSpec::new("s").child(ChildSpec::new("wasmvisor:dead-letters", counter));
    let error = host.start_supervisor(spec).await.unwrap_err();
    assert!(error.to_string().contains("reserved"), "{error}");
}
