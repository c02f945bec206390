//! The direct hand-off: a call to an idle actor runs its guest on the
//! caller's task, a busy one queues it in the mailbox, and a caller that
//! gives up halfway does not cut the message off, while one that gives up
//! before its message was started has it dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use wasmvisor::{
    ActorRef, CallError, ChildSpec, Host, MemoryStateStore, StateError, StateStore, SupervisorSpec,
};

use crate::common::{PATIENCE, call_ok, plugin, single, supervise, wait_until, within};

fn runtime() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// A host running a counter that has counted to 1, on a runtime of its own
/// that nothing drives once this returns: the actor's task cannot run.
fn idle_counter() -> (Runtime, Host, ActorRef) {
    let host_runtime = runtime();
    let (host, counter) = host_runtime.block_on(async {
        let host = Host::new().unwrap();
        single(&host, "counter", "counter", |c| c).await;
        assert_eq!(call_ok(&host, "counter", "inc").await, "1");
        let counter = host.actor("counter").unwrap();
        (host, counter)
    });
    (host_runtime, host, counter)
}

#[test]
fn a_call_to_an_idle_actor_is_answered_without_the_actors_task() {
    let (host_runtime, host, counter) = idle_counter();
    let reply = runtime().block_on(async {
        tokio::time::timeout(PATIENCE, counter.call("inc"))
            .await
            .expect("the call ran on the caller's task, not waiting for the actor's")
    });
    assert_eq!(reply.unwrap(), b"2");
    assert_eq!(counter.info().restarts, 0);
    host_runtime.block_on(async {
        assert_eq!(call_ok(&host, "counter", "get").await, "2");
        host.shutdown().await;
    });
}

#[test]
fn a_call_behind_a_queued_cast_waits_for_it() {
    let (host_runtime, host, counter) = idle_counter();
    let caller = runtime();
    caller.block_on(counter.cast("inc")).unwrap();
    let mut get: Pin<Box<dyn Future<Output = _>>> = Box::pin(counter.call("get"));
    // One poll sends it: into the mailbox, behind the cast, since the call
    // must not overtake a message its caller sent before.
    caller.block_on(std::future::poll_fn(|cx| {
        assert!(get.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    }));
    assert_eq!(counter.info().mailbox_depth, 2);
    // The actor's task answers both, in order.
    let reply = host_runtime.block_on(async { within("the get", get).await });
    assert_eq!(reply.unwrap(), b"2");
    host_runtime.block_on(host.shutdown());
}

/// Where a [`GatedStore`]'s commits wait until it opens, counting those that
/// wait: a commit waiting tells that the message behind it has started.
struct Gate {
    permits: Semaphore,
    waiting: AtomicUsize,
}

impl Gate {
    fn shut() -> Arc<Gate> {
        Arc::new(Gate {
            permits: Semaphore::new(0),
            waiting: AtomicUsize::new(0),
        })
    }

    fn open(&self) {
        self.permits.add_permits(Semaphore::MAX_PERMITS);
    }

    fn has_a_commit_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) != 0
    }

    /// Waits, blocking this thread, until a commit waits at the gate.
    fn wait_for_a_commit(&self) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !self.has_a_commit_waiting() {
            assert!(
                std::time::Instant::now() < deadline,
                "no commit reached the gate"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A memory store whose commits wait at a shut [`Gate`] until it opens.
struct GatedStore {
    inner: MemoryStateStore,
    gate: Arc<Gate>,
}

#[async_trait::async_trait]
impl StateStore for GatedStore {
    async fn load(&self, actor: &str) -> Result<wasmvisor::state::CommittedState, StateError> {
        self.inner.load(actor).await
    }

    async fn commit(
        &self,
        actor: &str,
        changes: wasmvisor::state::Changes,
    ) -> Result<u64, StateError> {
        self.gate.waiting.fetch_add(1, Ordering::SeqCst);
        let _permit = self.gate.permits.acquire().await.unwrap();
        self.gate.waiting.fetch_sub(1, Ordering::SeqCst);
        self.inner.commit(actor, changes).await
    }

    async fn delete(&self, actor: &str) -> Result<(), StateError> {
        self.inner.delete(actor).await
    }

    async fn actors(&self) -> Result<Vec<(String, u64)>, StateError> {
        self.inner.actors().await
    }
}

/// A host whose commits wait at `gate`, running a relay and the counter it
/// relays to.
async fn relay_and_gated_counter(gate: &Arc<Gate>) -> Host {
    let host = Host::builder()
        .state_store(GatedStore {
            inner: MemoryStateStore::new(),
            gate: Arc::clone(gate),
        })
        .build()
        .unwrap();
    let relay = plugin(&host, "relay").await;
    let counter = plugin(&host, "counter").await;
    supervise(
        &host,
        SupervisorSpec::new("pair")
            .child(ChildSpec::new("relay", relay))
            .child(ChildSpec::new("counter", counter)),
    )
    .await;
    // Answered once, the relay is idle, its instance on its desk: the next
    // call is handed off (until then it would go through the mailbox).
    assert_eq!(
        call_ok(&host, "relay", "to counter get").await,
        "counter said: 0"
    );
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_does_not_cut_its_message_off() {
    let gate = Gate::shut();
    let host = relay_and_gated_counter(&gate).await;
    let relay = host.actor("relay").unwrap();
    // The relay's guest waits in its `actors::call` for the counter, whose
    // commit waits at the gate: the caller gives up in the middle of it.
    tokio::select! {
        answer = relay.call("to counter inc") => panic!("answered at a shut gate: {answer:?}"),
        () = wait_until("the counter's commit waits at the gate", || gate.has_a_commit_waiting()) => {}
    }
    gate.open();
    relay_finished_what_it_started(&host, &relay).await;
    host.shutdown().await;
}

/// What the caller of `to counter inc` started ran to the end (the relay's
/// next call waits for it): the count is kept, and the relay neither
/// crashed nor lost its instance.
async fn relay_finished_what_it_started(host: &Host, relay: &ActorRef) {
    assert_eq!(
        call_ok(host, "relay", "to counter get").await,
        "counter said: 1"
    );
    assert_eq!(relay.info().restarts, 0);
    assert_eq!(relay.info().last_exit, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_lose_and_repeat_no_message() {
    let host = Host::new().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    let counter = host.actor("counter").unwrap();
    let callers: Vec<_> = (0..4)
        .map(|caller| {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut mine = 0;
                for _ in 0..100 {
                    if caller == 0 {
                        // Casts then calls from one task: each call sees its casts.
                        counter.cast("inc").await.unwrap();
                        mine += 1;
                        let seen: u64 = String::from_utf8(counter.call("get").await.unwrap())
                            .unwrap()
                            .parse()
                            .unwrap();
                        assert!(seen >= mine, "a call overtook its caller's cast");
                    } else {
                        counter.call("inc").await.unwrap();
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        within("the callers", caller).await.unwrap();
    }
    assert_eq!(call_ok(&host, "counter", "get").await, "400");
    assert_eq!(counter.info().restarts, 0);
    host.shutdown().await;
}

#[test]
fn a_call_dropped_outside_any_runtime_is_finished_on_the_hosts() {
    let host_runtime = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gate = Gate::shut();
    let host = host_runtime.block_on(relay_and_gated_counter(&gate));
    let relay = host.actor("relay").unwrap();
    // The relay is idle: one poll on the caller's runtime hands it the
    // message, and its guest runs until it waits in `actors::call` for the
    // counter, whose commit waits at the gate.
    let caller = runtime();
    let mut call: Pin<Box<dyn Future<Output = _>>> = Box::pin(relay.call("to counter inc"));
    caller.block_on(std::future::poll_fn(|cx| {
        assert!(call.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    }));
    gate.wait_for_a_commit();
    // The caller's runtime goes away, and the call is dropped outside any
    // runtime, in the middle of the relay's guest call.
    drop(caller);
    drop(call);
    gate.open();
    host_runtime.block_on(async {
        // It ran on the host's runtime: the relay's instance was not cut off
        // halfway.
        relay_finished_what_it_started(&host, &relay).await;
        host.shutdown().await;
    });
}

/// A call polled once and left unanswered.
type PendingCall<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, CallError>> + 'a>>;

/// Crashes `counter` on a caller's task (the supervisor, on the host's
/// runtime, has not run since), then starts a `get` and polls it once:
/// returned unanswered, with the mailbox's depth at that moment.
fn get_after_a_crash_in_hand(counter: &ActorRef) -> (PendingCall<'_>, usize) {
    let caller = runtime();
    let crashed = caller.block_on(counter.call("crash"));
    assert!(
        matches!(crashed, Err(CallError::Crashed { .. })),
        "{crashed:?}"
    );
    let mut get: Pin<Box<dyn Future<Output = _>>> = Box::pin(counter.call("get"));
    caller.block_on(std::future::poll_fn(|cx| {
        assert!(get.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    }));
    (get, counter.info().mailbox_depth)
}

#[test]
fn a_call_right_after_a_crash_in_hand_waits_on_the_desk_for_the_next_instance() {
    let (host_runtime, host, counter) = idle_counter();
    let (get, mailbox_depth) = get_after_a_crash_in_hand(&counter);
    // Kept on the desk, not in the mailbox: the actor task is not woken for
    // it, only to find the crash and wait for the supervisor.
    assert_eq!(mailbox_depth, 0);
    // Once the host runs, the supervisor restarts the actor, and the next
    // instance answers it first, with the state restored.
    let reply = host_runtime.block_on(async { within("the get", get).await });
    assert_eq!(reply.unwrap(), b"1");
    assert_eq!(counter.info().restarts, 1);
    host_runtime.block_on(host.shutdown());
}

#[test]
fn a_call_kept_for_a_next_instance_that_never_comes_is_answered_stopped() {
    let host_runtime = runtime();
    let (host, counter) = host_runtime.block_on(async {
        let host = Host::new().unwrap();
        let counter = plugin(&host, "counter").await;
        // No restart allowed: the first crash makes the supervisor give up.
        supervise(
            &host,
            SupervisorSpec::new("fragile")
                .intensity(0, Duration::from_secs(60))
                .child(ChildSpec::new("counter", counter)),
        )
        .await;
        let counter = host.actor("counter").unwrap();
        (host, counter)
    });
    let (get, _) = get_after_a_crash_in_hand(&counter);
    let answer = host_runtime.block_on(async { within("the get", get).await });
    assert!(
        matches!(answer, Err(CallError::Stopped { .. })),
        "{answer:?}"
    );
    host_runtime.block_on(host.shutdown());
}

/// Calls whose callers gave up while they waited in the mailbox are dropped
/// when the actor comes to them, so a queue of abandoned calls to a slow
/// actor does not keep it busy (or crashing) long after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_caller_gave_up_before_it_started_is_dropped_and_counted() {
    let host = wasmvisor::Host::new().unwrap();
    crate::common::single(&host, "spinner", "spinner", |c| {
        c.limits(wasmvisor::Limits::default().call_timeout(std::time::Duration::from_secs(600)))
    })
    .await;
    let spinner = host.actor("spinner").unwrap();
    spinner.cast("spin").await.unwrap();
    crate::common::wait_until("the spin to hold the instance", || {
        spinner.info().mailbox_depth == 0
    })
    .await;
    for _ in 0..5 {
        let gave_up =
            tokio::time::timeout(std::time::Duration::from_millis(20), spinner.call("spin")).await;
        assert!(gave_up.is_err(), "the spin holds the instance");
    }
    let ping = tokio::spawn({
        let spinner = spinner.clone();
        async move { spinner.call("ping").await }
    });
    crate::common::wait_until("the ping to wait behind the abandoned calls", || {
        spinner.info().mailbox_depth == 6
    })
    .await;
    // The next instance comes to the five abandoned spins first: were they
    // handled, the first would hold it for ten minutes.
    assert!(spinner.kill().await.is_some());
    let pong = crate::common::within("the ping's answer", ping)
        .await
        .unwrap();
    assert_eq!(pong.unwrap(), b"pong");
    assert_eq!(spinner.info().restarts, 1);
    let metrics = host.metrics();
    assert!(
        metrics
            .lines()
            .any(|line| line == "wasmvisor_messages_abandoned_total{actor=\"spinner\"} 5"),
        "{metrics}"
    );
    host.shutdown().await;
}

/// Each actor has its own share of the admin endpoint's concurrency: a
/// hundred calls to a spinning actor turn away its own callers beyond its
/// share, and a call to another actor is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_actor_takes_only_its_own_share_of_the_admin_endpoint() {
    use wasmvisor_admin::{AdminClient, AdminServer, ErrorCode, MAX_REQUESTS_PER_ACTOR};
    let host = wasmvisor::Host::new().unwrap();
    single(&host, "spinner", "spinner", |c| {
        c.limits(wasmvisor::Limits::default().call_timeout(Duration::from_secs(600)))
    })
    .await;
    single(&host, "counter", "counter", |c| c).await;
    let server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "t")
        .await
        .unwrap();
    let admin = AdminClient::new(&server.addr().to_string(), Some("t".into()));
    let (busy_tx, mut busy) = tokio::sync::mpsc::unbounded_channel();
    let spins: Vec<_> = (0..100)
        .map(|_| {
            let admin = admin.clone();
            let busy_tx = busy_tx.clone();
            tokio::spawn(async move {
                if let Err(error) = admin.call("spinner", b"spin".to_vec()).await {
                    let _ = busy_tx.send(error);
                }
            })
        })
        .collect();
    let turned_away = within("the calls beyond the share to be refused", async {
        let mut refused = Vec::new();
        while refused.len() < 100 - MAX_REQUESTS_PER_ACTOR {
            refused.push(busy.recv().await.unwrap());
        }
        refused
    })
    .await;
    for error in &turned_away {
        assert_eq!(error.code(), Some(ErrorCode::Busy), "{error}");
        assert!(error.to_string().contains("actor `spinner`"), "{error}");
    }
    // The spinner's share is full; the counter's is not.
    let reply = within(
        "the counter's answer",
        admin.call("counter", b"inc".to_vec()),
    )
    .await;
    assert_eq!(reply.unwrap(), b"1");
    assert!(busy.try_recv().is_err(), "only the calls beyond the share");
    host.shutdown().await;
    for spin in spins {
        within("a spin's caller to be answered", spin)
            .await
            .unwrap();
    }
    drop(server);
}
