//! The host: one engine, one state store, one registry of names, and the
//! supervisors running on them.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::actor::{ActorContext, ActorInfo, ActorRef, ActorStatus};
use crate::dead_letters::{DeadLetter, DeadLetters};
use crate::error::{CallError, Error};
use crate::events::{Event, EventBus, EventListener, Position, RecordedEvent, Replay};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::runtime::{EngineSettings, Engines, InstanceCount, LinkedEngine, Plugin};
use crate::spec::SupervisorSpec;
use crate::state::backup::StateExport;
use crate::state::{MemoryStateStore, StateError, StateStore};
use crate::supervisor::{self, SupervisorContext, SupervisorRef};
use crate::util::lock;

/// A running wasmvisor host. Cheap to clone; every clone is the same host.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use wasmvisor::{ChildSpec, Host, RedbStateStore, SupervisorSpec};
///
/// let host = Host::builder()
///     .state_store(RedbStateStore::open("state.redb")?)
///     .build()?;
/// let counter = host.load_plugin_file("counter.wasm").await?;
/// host.start_supervisor(SupervisorSpec::new("app").child(ChildSpec::new("counter", counter)))
///     .await?;
/// let reply = host.actor("counter").ok_or("no counter")?.call("inc").await?;
/// println!("{}", String::from_utf8_lossy(&reply));
/// host.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

/// How long a shutdown waits for the HTTP requests in flight.
const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

struct HostInner {
    context: SupervisorContext,
    supervisors: Mutex<Vec<SupervisorRef>>,
}

/// How a host's compile cache has done (see
/// [`Host::compile_cache_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CompileCacheStats {
    /// Components loaded from the cache, not compiled.
    pub hits: u64,
    /// Components compiled, then written to the cache.
    pub misses: u64,
}

/// Builds a [`Host`]: its state store and its engine settings. Every
/// setting has a default, named in its method's docs.
///
/// ```no_run
/// # fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use wasmvisor::{Host, RedbStateStore};
///
/// let host = Host::builder()
///     .state_store(RedbStateStore::open("state.redb")?) // default: in memory
///     .compile_cache("compiled") // default: compile at every start
///     .instance_pool(1_000) // default: map memory per instance
///     .max_actors(1_000) // default: no cap
///     .build()?;
/// # drop(host); Ok(()) }
/// ```
#[derive(Default)]
pub struct HostBuilder {
    state_store: Option<Arc<dyn StateStore>>,
    fuel_metering: bool,
    max_actors: Option<usize>,
    compile_cache: Option<std::path::PathBuf>,
    instance_pool: Option<u32>,
    memory_reservation: Option<u64>,
}

impl HostBuilder {
    /// Keeps actors' state in `store`. Default: a [`MemoryStateStore`]
    /// (nothing survives the process).
    pub fn state_store(mut self, store: impl StateStore) -> Self {
        self.state_store = Some(Arc::new(store));
        self
    }

    /// Keeps actors' state in a store shared with other code.
    pub fn shared_state_store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.state_store = Some(store);
        self
    }

    /// Compiles guests with fuel metering, so that children can have a
    /// [`Limits::fuel_per_call`](crate::Limits::fuel_per_call). Off by
    /// default: metering slows every guest down somewhat.
    pub fn fuel_metering(mut self, enabled: bool) -> Self {
        self.fuel_metering = enabled;
        self
    }

    /// Caps the number of actors on this host; starting one more is refused
    /// with [`Error::TooManyActors`]. Default: no cap.
    pub fn max_actors(mut self, max: usize) -> Self {
        self.max_actors = Some(max);
        self
    }

    /// Keeps compiled components in `dir`, so that loading the same plugin
    /// again (a restart of the host) skips compiling it. Entries are keyed by
    /// the component's bytes and the engine's settings; one that does not
    /// match or is damaged is compiled again and replaced. Default: off.
    pub fn compile_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.compile_cache = Some(dir.into());
        self
    }

    /// Allocates instances from a pool with room for `slots` of them at once
    /// (wasmtime's pooling allocator), instead of mapping fresh memory for
    /// every instance. Default: off.
    ///
    /// What it buys (measured by `just bench`, see docs/benchmarks.md): a
    /// restart about twice as fast (a freed slot is reset in place,
    /// the pages its instance wrote set back to their image, and the next
    /// instance takes it without page faults), and four memory mappings per actor
    /// instead of six (plus two per slot, for its fiber stack, made when the
    /// pool is), so that 10,000 actors fit under Linux's default
    /// `vm.max_map_count` (65,530; raise it for more). What it costs: about 4 GiB of address
    /// space reserved per slot when the host is built (reserved, not
    /// used: nothing is committed until an instance runs there), so a
    /// process holds at most about 25,000 slots in all, and a hard cap: an
    /// actor that starts when every slot is taken fails to start, saying
    /// the pool is full. Each running actor takes one slot; a plugin's load
    /// check and a hot-upgrade candidate take one for a moment. Tables of a
    /// pooled instance hold at most 1,048,576 elements, whatever
    /// [`Limits::max_table_elements`](crate::Limits::max_table_elements) says.
    /// Each engine has its own pool: one more for each other WebAssembly
    /// stack size a plugin asks for ([`Limits::wasm_stack_bytes`](crate::Limits::wasm_stack_bytes)).
    /// A freed slot keeps up to 80 KiB of what its instance wrote resident
    /// (memory and tables), ready for the next.
    pub fn instance_pool(mut self, slots: u32) -> Self {
        self.instance_pool = Some(slots);
        self
    }

    /// Reserves `bytes` of address space for each instance's linear memory
    /// instead of wasmtime's 4 GiB. Default: 4 GiB.
    ///
    /// The 4 GiB reservation (and the guard region after it) is what lets
    /// compiled guests skip bounds checks: no 32-bit address can reach past
    /// it. A smaller one makes every guest memory access check its bounds
    /// (a slower guest; docs/benchmarks.md measures how much), in exchange
    /// for address space. That matters with an [`instance_pool`](Self::instance_pool),
    /// whose slots are each this large: 100,000 slots of 4 GiB do not fit in
    /// a process's 128 TiB of address space, of 64 MiB they do. In a pool it
    /// is also the most memory an instance can grow to, so a child whose
    /// [`Limits::memory_bytes`](crate::Limits::memory_bytes) asks for more is
    /// refused when it is started ([`Error::InvalidSpec`]); the default limit
    /// is 64 MiB, so a smaller pooled reservation needs lower limits too.
    /// Without a pool, a memory that outgrows its reservation is moved to a
    /// larger one.
    pub fn memory_reservation(mut self, bytes: u64) -> Self {
        self.memory_reservation = Some(bytes);
        self
    }

    /// Creates the engine (and its epoch ticker thread) and the host.
    ///
    /// # Errors
    ///
    /// [`Error::Host`] when the engine cannot be set up (an instance pool
    /// of no slots, or one whose address space cannot be reserved, or a
    /// memory reservation of 0 bytes).
    pub fn build(self) -> Result<Host, Error> {
        if self.instance_pool == Some(0) {
            return Err(Error::host(
                "setting up the instance pool",
                anyhow::anyhow!("the pool needs at least one slot"),
            ));
        }
        if self.memory_reservation == Some(0) {
            return Err(Error::host(
                "setting up the memory reservation",
                anyhow::anyhow!("each memory needs some address space: the reservation is 0"),
            ));
        }
        let engines = EngineSettings::new(
            self.fuel_metering,
            self.compile_cache.as_deref(),
            self.instance_pool,
            self.memory_reservation,
        )
        .and_then(Engines::new)
        .map_err(|e| Error::host("setting up the wasmtime engine", e))?;
        let state_store = self
            .state_store
            .unwrap_or_else(|| Arc::new(MemoryStateStore::new()));
        let registry = Arc::new(Registry::new(self.max_actors));
        let metrics = Arc::new(Metrics::new());
        Ok(Host {
            inner: Arc::new(HostInner {
                context: SupervisorContext {
                    actor: ActorContext {
                        engines,
                        state_store: state_store.clone(),
                        events: EventBus::new(vec![metrics.clone() as Arc<dyn EventListener>]),
                        front: Arc::new(crate::front::HttpFront::new(metrics.clone())),
                        metrics,
                        peers: registry.clone(),
                        dead_letters: Arc::new(DeadLetters::new(state_store.clone())),
                        instances: InstanceCount::default(),
                    },
                    registry,
                    next_instance: Arc::new(AtomicU64::new(1)),
                },
                supervisors: Mutex::new(Vec::new()),
            }),
        })
    }
}

impl Host {
    /// A builder, to choose the state store.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A host with an in-memory state store.
    ///
    /// # Errors
    ///
    /// [`Error::Host`] when the engine cannot be set up.
    pub fn new() -> Result<Host, Error> {
        Host::builder().build()
    }

    /// Reads, compiles and checks the plugin in `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Load`], naming the file and what is wrong with it.
    pub async fn load_plugin_file(&self, path: impl AsRef<Path>) -> Result<Plugin, Error> {
        Plugin::load_file(self.engine(), path.as_ref()).await
    }

    /// Compiles and checks a plugin from bytes; `label` names it in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Load`], naming `label` and what is wrong with the bytes.
    pub async fn load_plugin(
        &self,
        label: impl Into<std::path::PathBuf>,
        bytes: Vec<u8>,
    ) -> Result<Plugin, Error> {
        Plugin::load(self.engine(), label.into(), bytes).await
    }

    /// Starts a supervisor and its children (in order), registering every
    /// child's name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSpec`], [`Error::DuplicateName`], or
    /// [`Error::StartFailed`] when a child fails to start (the children
    /// already started are stopped again).
    pub async fn start_supervisor(&self, spec: SupervisorSpec) -> Result<SupervisorRef, Error> {
        let supervisor = supervisor::start(self.inner.context.clone(), spec).await?;
        self.lock_supervisors().push(supervisor.clone());
        Ok(supervisor)
    }

    /// The actor registered under `name`.
    pub fn actor(&self, name: &str) -> Option<ActorRef> {
        self.inner.context.registry.get(name)
    }

    /// Every child of every supervisor tree started on this host, depth
    /// first in start order (nested supervisors before their children),
    /// including the ones that are stopped for good (with the reason), until
    /// [`Host::shutdown`].
    pub fn actors(&self) -> Vec<ActorInfo> {
        self.lock_supervisors()
            .iter()
            .flat_map(SupervisorRef::all_children)
            .collect()
    }

    /// Why the actor `name` does not answer: [`CallError::Stopped`] with
    /// the reason if it is listed as stopped for good, [`CallError::NotFound`]
    /// otherwise (no actor had that name, or its spec was deleted: a
    /// temporary or dynamic child that ended).
    pub fn why_unavailable(&self, name: &str) -> CallError {
        let stopped = self
            .actors()
            .into_iter()
            .rev()
            .find_map(|info| match info.status {
                ActorStatus::Stopped(reason) if info.name == name => Some(reason),
                _ => None,
            });
        match stopped {
            Some(reason) => CallError::Stopped {
                actor: name.to_owned(),
                reason,
            },
            None => CallError::NotFound(name.to_owned()),
        }
    }

    /// The messages that crashed their actors on every delivery, oldest
    /// first (see [`ChildSpec::redelivery`](crate::ChildSpec::redelivery)).
    /// They are kept in the state store, so with a durable one they survive
    /// a restart of the host.
    ///
    /// # Errors
    ///
    /// [`Error::State`] when the state store cannot be read.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, Error> {
        Ok(self.inner.context.actor.dead_letters.list().await?)
    }

    /// Sends dead letter `id` to its actor again and returns the reply. The
    /// letter leaves the store once the actor has handled it (a reply, a
    /// rejection, or a new dead letter if it is still poison); if the
    /// replay crashes or cannot be delivered, it stays.
    ///
    /// # Errors
    ///
    /// [`CallError::NotFound`] for an unknown letter, one being replayed
    /// already, or an actor that is gone, and whatever the call answers.
    pub async fn replay_dead_letter(&self, id: u64) -> Result<Vec<u8>, CallError> {
        let letters = self.inner.context.actor.dead_letters.clone();
        let store_failed = move |e: StateError| CallError::DeadLetterStore {
            id,
            reason: e.to_string(),
        };
        let letter = letters
            .begin_replay(id)
            .await
            .map_err(store_failed)?
            .ok_or(CallError::NoDeadLetter(id))?;
        let Some(actor) = self.actor(&letter.actor) else {
            letters.end_replay(id, false).await.map_err(store_failed)?;
            return Err(self.why_unavailable(&letter.actor));
        };
        // In a task of its own, so that a caller that gives up (a timeout, a
        // closed connection) cannot leave the letter marked as replaying.
        let replay = tokio::spawn(async move {
            let result = actor.call(letter.message).await;
            let handled = !matches!(
                result,
                Err(CallError::Crashed { .. }
                    | CallError::Stopped { .. }
                    | CallError::StateCommit { .. }
                    | CallError::MailboxFull { .. }
                    | CallError::NotFound(_))
            );
            match letters.end_replay(id, handled).await {
                Ok(()) => result,
                Err(e) => result.and(Err(store_failed(e))),
            }
        });
        replay.await.unwrap_or_else(|panic| {
            Err(CallError::NotFound(format!(
                "dead letter {id}: the replay failed: {panic}"
            )))
        })
    }

    /// Stops the top-level `supervisor` (its children in reverse start
    /// order, by their shutdown specs) and forgets it. Their state stays in
    /// the store. Returns whether it was one of this host's.
    pub async fn stop_supervisor(&self, supervisor: &SupervisorRef) -> bool {
        let found = {
            let mut supervisors = self.lock_supervisors();
            let index = supervisors.iter().position(|s| s.same(supervisor));
            index.map(|index| supervisors.remove(index))
        };
        match found {
            Some(supervisor) => {
                supervisor.stop().await;
                true
            }
            None => false,
        }
    }

    /// The supervisors started on this host, in start order.
    pub fn supervisors(&self) -> Vec<SupervisorRef> {
        self.lock_supervisors().clone()
    }

    /// The state of actor `name` as it is committed in the store, in the
    /// backup format of [`state::backup`](crate::state::backup).
    ///
    /// # Errors
    ///
    /// [`Error::State`] when the store cannot be read.
    pub async fn export_state(&self, name: &str) -> Result<StateExport, Error> {
        let store = &*self.inner.context.actor.state_store;
        Ok(crate::state::backup::export_actor(store, name).await?)
    }

    /// The host's metrics in the Prometheus text format (OpenMetrics):
    /// crashes by reason, restarts, dead letters, upgrades, call and state
    /// commit latencies, and per actor whether it runs, its mailbox depth,
    /// memory and health. What the admin endpoint serves at `/metrics`.
    pub fn metrics(&self) -> String {
        self.inner.context.actor.metrics.render(&self.actors())
    }

    /// Publishes `event` to subscribers (and the log and metrics).
    #[cfg(feature = "dir")]
    pub(crate) fn publish(&self, event: Event) {
        self.inner.context.actor.events.publish(event);
    }

    /// The last [`RECENT_EVENTS`](crate::events::RECENT_EVENTS) lifecycle events,
    /// oldest first, numbered and timestamped.
    pub fn recent_events(&self) -> Vec<RecordedEvent> {
        let replay = self.replay_events(Some(Position { boot: None, seq: 0 }));
        replay
            .kept
            .iter()
            .map(|recorded| (**recorded).clone())
            .collect()
    }

    /// The kept events after `since` (none for `None`), oldest first, how
    /// many after it are no longer kept, and a subscription to every later
    /// event: none missed, none twice. A position from another run of the
    /// host (another [`Host::boot_id`], or a number this run has not
    /// reached) gets every kept event. What the admin endpoint's event
    /// stream serves.
    pub fn replay_events(&self, since: Option<Position>) -> Replay {
        self.events().replay(since)
    }

    /// A random number naming this run of the host in event positions
    /// ([`Position::id`](crate::events::Position::id)): event numbers start
    /// again at 1 when a host starts.
    pub fn boot_id(&self) -> u64 {
        self.events().boot()
    }

    fn events(&self) -> &EventBus {
        &self.inner.context.actor.events
    }

    /// How the compile cache ([`HostBuilder::compile_cache`]) has done since
    /// this host was built: components loaded from it, and compiled then
    /// written to it. `None` without a cache.
    pub fn compile_cache_stats(&self) -> Option<CompileCacheStats> {
        let cache = self
            .inner
            .context
            .actor
            .engines
            .settings()
            .compile_cache
            .as_ref()?;
        Some(CompileCacheStats {
            hits: cache.cache_hits() as u64,
            misses: cache.cache_misses() as u64,
        })
    }

    /// How many guest instances (wasmtime stores) exist right now. With
    /// every actor settled (none starting, restarting or stopping), one per
    /// running actor; more would mean a store outlived its actor.
    pub fn live_instances(&self) -> u64 {
        self.inner.context.actor.instances.get()
    }

    /// Lifecycle events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.context.actor.events.subscribe()
    }

    /// Waits until every actor's mailbox is empty, or `bound` has passed
    /// (whichever comes first); returns whether they all emptied. For a
    /// graceful shutdown: stop taking new messages first, drain, then
    /// [`Host::shutdown`].
    pub async fn drain(&self, bound: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            if self.actors().iter().all(|actor| actor.mailbox_depth == 0) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Stops every supervisor, newest first, each stopping its children in
    /// reverse start order. Committed state is already in the store.
    pub async fn shutdown(&self) {
        // The HTTP listeners first: no new request is taken, and the ones in
        // flight finish (up to the bound) before their actors stop.
        self.inner.context.actor.front.shutdown(HTTP_DRAIN).await;
        let supervisors: Vec<_> = self.lock_supervisors().drain(..).rev().collect();
        for supervisor in supervisors {
            supervisor.stop().await;
        }
    }

    /// What an actor's task needs from this host (a one-off run too).
    pub(crate) fn actor_context(&self) -> &crate::actor::ActorContext {
        &self.inner.context.actor
    }

    fn engine(&self) -> &LinkedEngine {
        self.inner.context.actor.engines.default_engine()
    }

    fn lock_supervisors(&self) -> std::sync::MutexGuard<'_, Vec<SupervisorRef>> {
        // Only pushes and drains happen under this lock.
        lock(&self.inner.supervisors)
    }
}
