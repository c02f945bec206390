//! `just bench`: what wasmvisor costs over raw wasmtime and raw redb,
//! measured in one run.
//!
//! Each row is a wasmvisor figure, the floor measured in the same run on the
//! same component, and their ratio. The floor is raw wasmtime on an engine
//! with the same settings as the host's, made by the host's own code
//! (`wasmvisor::benchmarking::floor_config`), so a ratio is what the actor
//! machinery costs, not what an engine setting buys.
//!
//! - round trip: `ActorRef::call` from a task on the runtime, to an idle
//!   actor (so the direct hand-off: the caller's task runs the guest),
//!   against a raw async typed call of the same export on a raw store;
//! - throughput: messages per second through 1, 100 and 10,000 actors with
//!   callers on every core, against raw calls on as many raw stores as can
//!   run at once (one per core, or one for one actor, which handles one
//!   message at a time); the one actor's also against as many tasks as it
//!   has callers sharing one raw instance through a lock (what the
//!   contention alone costs), and all of it again with the host, its
//!   callers and the floors on a runtime of one worker thread;
//! - restart: a crashing message then the next message answered (state
//!   restored from the store), p50 and p99, against reading the state from
//!   the same kind of store, a raw `InstancePre` instantiation and one call;
//!   and, less the crashing call, against that floor plus the trapped
//!   instance's teardown (which the floor leaves out);
//! - idle actors: resident memory per idle actor, at 1,000 and 10,000;
//! - health: the CPU one sweep of health checks over 10,000 actors costs,
//!   against a raw call of the same `check` export on each of 10,000 raw
//!   instances;
//! - durable commits per second through actors (each `inc` commits to the
//!   redb store before it is answered), with 1 actor and with 100 actors
//!   calling at once, against raw redb commits of one row each, fsync'd;
//! - cold start of a directory of 100 distinct plugins (each a copy of the
//!   counter with a custom section of its own, so that none shares a cache
//!   entry), with the cache a previous host left, against an empty cache;
//! - per language, the counter plugin's size and its cold start (compile,
//!   start, first message answered; no compile cache), against the Rust
//!   counter's.
//!
//! The guests must be built (`just guests`). The table is printed and
//! written to `docs/benchmarks.md`, with the machine it ran on.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::wasmvisor::{
    ChildSpec, HealthSpec, Host, Limits, MemoryStateStore, Plugin, RedbStateStore, StateStore,
    SupervisorSpec,
};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "full-plugin",
    imports: { "wasmvisor:plugin/actors": async },
    exports: { default: async },
});

use self::exports::wasmvisor::plugin::{handler, health};
use self::wasmvisor::plugin::{actors, log, state};

const ROUND_TRIPS: u32 = 20_000;
/// The round trip and its floor are timed in this many alternating rounds
/// of [`ROUND_TRIPS`] each, and the median round counts: on a shared
/// virtual machine one run of either drifts by 20% from the next.
const ROUND_TRIP_ROUNDS: usize = 7;
const THROUGHPUT_MESSAGES: usize = 200_000;
/// Throughput is measured in this many rounds alternating with the floor's
/// (for the unpooled hosts), and the median round counts.
const THROUGHPUT_ROUNDS: usize = 5;
const RESTARTS: usize = 300;
const SERIAL_COMMITS: u32 = 300;
const CONCURRENT_ACTORS: usize = 100;
const COMMITS_PER_ACTOR: u32 = 30;
const MANY_ACTORS: usize = 10_000;
const DIR_PLUGINS: usize = 100;
/// How long the health-check CPU is measured for, and the interval then.
const HEALTH_WINDOW: Duration = Duration::from_secs(3);
const HEALTH_INTERVAL: Duration = Duration::from_millis(250);
/// How many timed sweeps the health-check floor makes.
const RAW_SWEEPS: u32 = 5;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // Callers run as tasks on the runtime's workers, as an embedding
    // program's request handlers do, not on the thread that blocks on main.
    tokio::spawn(run()).await.unwrap();
}

async fn run() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == IDLE_MEMORY_CHILD) {
        return idle_memory_child(&args[at + 1..]).await;
    }
    // `cargo bench -- NAME...` runs only the sections whose names contain
    // one of the NAMEs, and leaves docs/benchmarks.md alone.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| section.contains(o));
    let counter = std::fs::read(guest("counter")).unwrap();
    let mut rows = Rows::default();
    let (mut group_commit_gain, mut cache_gain) = (0.0, 0.0);

    if wanted("memory") {
        idle_memory(1_000, None, None, &mut rows).await;
        idle_memory(MANY_ACTORS, Some(MANY_ACTORS_POOL), None, &mut rows).await;
        idle_memory(
            MOST_ACTORS,
            Some(MOST_ACTORS_POOL),
            Some(MOST_ACTORS_RESERVATION),
            &mut rows,
        )
        .await;
    }
    if wanted("round-trip") {
        round_trip(&counter, &mut rows).await;
    }
    if wanted("restart") {
        restart(&counter, None, &mut rows).await;
        restart(&counter, Some(SMALL_POOL), &mut rows).await;
    }
    if wanted("throughput-one") {
        throughput(&counter, 1, None, &mut rows).await;
        // The same with everything on one worker thread: what handing the
        // instance between cores costs one contended actor.
        let counter = counter.clone();
        let one_worker = on_one_worker_thread(async move {
            let mut rows = Rows::default();
            throughput(&counter, 1, None, &mut rows).await;
            rows
        })
        .await;
        rows.0.extend(one_worker.0);
    }
    if wanted("throughput-hundred") {
        throughput(&counter, 100, None, &mut rows).await;
    }
    if wanted("throughput-pool") {
        throughput(&counter, MANY_ACTORS, Some(MANY_ACTORS_POOL), &mut rows).await;
    }
    if wanted("health") {
        health_sweep(&mut rows).await;
    }
    if wanted("durable") {
        group_commit_gain = durable_commits(&counter, &mut rows).await;
    }
    if wanted("directory") {
        cache_gain = directory_start(&counter, &mut rows).await;
    }
    if wanted("languages") {
        languages(&mut rows).await;
    }
    if !only.is_empty() {
        return;
    }
    let table = render(&rows.0, group_commit_gain, cache_gain);
    print!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    let page = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, with_measurements(&page, &table)).unwrap();
    println!("\nwritten to {}", out.display());
}

/// The instance pool of the hosts and floors that run a few instances.
const SMALL_POOL: u32 = 16;
/// The instance pool of the hosts of [`MANY_ACTORS`] actors.
const MANY_ACTORS_POOL: u32 = MANY_ACTORS as u32 + 16;
/// The most idle actors measured (the stretch goal).
const MOST_ACTORS: usize = 100_000;
/// Their pool.
const MOST_ACTORS_POOL: u32 = MOST_ACTORS as u32 + 16;
/// Their memory reservation: 100,000 pool slots of wasmtime's 4 GiB would
/// need 400 TiB of address space, more than a process has (128 TiB).
const MOST_ACTORS_RESERVATION: u64 = 64 << 20;

/// Raw wasmtime: one engine and one linker with just the imports a plugin
/// needs; stores are nothing but a WASI context and a map.
struct Floor {
    engine: Engine,
    linker: Linker<Raw>,
}

impl Floor {
    fn new(pool: Option<u32>) -> Self {
        Floor::with_reservation(pool, None)
    }

    fn with_reservation(pool: Option<u32>, reservation: Option<u64>) -> Self {
        let engine =
            Engine::new(&::wasmvisor::benchmarking::floor_config(pool, reservation)).unwrap();
        let mut linker: Linker<Raw> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        FullPlugin::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |raw| raw).unwrap();
        Floor { engine, linker }
    }

    fn pre(&self, component: &[u8]) -> InstancePre<Raw> {
        self.linker
            .instantiate_pre(&Component::new(&self.engine, component).unwrap())
            .unwrap()
    }

    fn store(&self, entries: BTreeMap<String, Vec<u8>>) -> Store<Raw> {
        let mut store = Store::new(
            &self.engine,
            Raw {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
                entries,
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        store
    }
}

/// The counter on the floor: its pre-instance and its `handler` export.
struct RawCounter {
    floor: Floor,
    pre: InstancePre<Raw>,
    handler: handler::GuestIndices,
}

impl RawCounter {
    /// The counter on a floor of its own, allocating as a host with
    /// `pool` does.
    fn new(counter: &[u8], pool: Option<u32>) -> Self {
        RawCounter::on(Floor::new(pool), counter)
    }

    /// The counter on `floor`.
    fn on(floor: Floor, counter: &[u8]) -> Self {
        let pre = floor.pre(counter);
        RawCounter {
            handler: handler::GuestIndices::new(&pre).unwrap(),
            floor,
            pre,
        }
    }

    /// A new instance whose state is `entries`.
    async fn instance(&self, entries: BTreeMap<String, Vec<u8>>) -> (Store<Raw>, handler::Guest) {
        let mut store = self.floor.store(entries);
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        let handler = self.handler.load(&mut store, &instance).unwrap();
        (store, handler)
    }
}

/// The floor's store data: just enough for the plugins' imports.
struct Raw {
    wasi: WasiCtx,
    table: ResourceTable,
    entries: BTreeMap<String, Vec<u8>>,
}

impl WasiView for Raw {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl state::Host for Raw {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.entries.get(&key).cloned()
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), state::StateError> {
        self.entries.insert(key, value);
        Ok(())
    }
    fn delete(&mut self, key: String) {
        self.entries.remove(&key);
    }
    fn list_keys(&mut self, prefix: String) -> Vec<String> {
        self.entries
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    }
}

/// The floor has no other actors.
impl actors::Host for Raw {
    async fn call(
        &mut self,
        name: String,
        _message: Vec<u8>,
        _timeout_ms: u32,
    ) -> Result<Vec<u8>, actors::CallError> {
        Err(actors::CallError::NotFound(name))
    }
    async fn cast(&mut self, name: String, _message: Vec<u8>) -> Result<(), actors::CallError> {
        Err(actors::CallError::NotFound(name))
    }
}

impl log::Host for Raw {
    fn log(&mut self, _level: log::Level, _message: String) {}
}

/// The table's rows; each is printed as soon as it is measured.
#[derive(Default)]
struct Rows(Vec<Row>);

impl Rows {
    fn push(&mut self, row: Row) {
        println!(
            "{}: {} (floor {}, {})",
            row.what, row.wasmvisor, row.floor, row.ratio
        );
        self.0.push(row);
    }
}

/// One line of the table.
struct Row {
    what: String,
    wasmvisor: String,
    floor: String,
    ratio: String,
}

impl Row {
    /// A row of two durations (lower is better).
    fn times(what: impl Into<String>, ours: Duration, floor: Duration) -> Row {
        Row {
            what: what.into(),
            wasmvisor: human_duration(ours),
            floor: human_duration(floor),
            ratio: format!("{:.2}x", ours.as_secs_f64() / floor.as_secs_f64()),
        }
    }

    /// A row of two rates (higher is better).
    fn rates(what: impl Into<String>, ours: f64, floor: f64) -> Row {
        Row {
            what: what.into(),
            wasmvisor: human_rate(ours),
            floor: human_rate(floor),
            ratio: format!("{:.2}x", ours / floor),
        }
    }
}

/// The time one run of `step` (an expression, awaited inside) takes on
/// average, after a warm-up of a twentieth as many runs.
macro_rules! time_per {
    ($runs:expr, $step:expr) => {{
        for _ in 0..$runs / 20 {
            $step;
        }
        let start = Instant::now();
        for _ in 0..$runs {
            $step;
        }
        start.elapsed() / $runs
    }};
}

async fn round_trip(counter: &[u8], rows: &mut Rows) {
    // The raw instance holds what the actor holds (it has counted to 1), so
    // that both read, copy and parse the same state.
    let counted = BTreeMap::from([("count".to_owned(), b"1".to_vec())]);
    let (mut store, handler) = RawCounter::new(counter, None)
        .instance(counted.clone())
        .await;
    // The same raw call compiled for a small memory reservation, whose code
    // checks the bounds of every memory access.
    let (mut checked_store, checked) = RawCounter::on(
        Floor::with_reservation(None, Some(MOST_ACTORS_RESERVATION)),
        counter,
    )
    .instance(counted)
    .await;
    let host = Host::new().unwrap();
    let actor = one_counter(&host, counter).await;
    let raw_reply = handler
        .call_handle(&mut store, b"get")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw_reply, actor.call("get").await.unwrap());
    let (mut raw, mut ours, mut bounds_checked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUND_TRIP_ROUNDS {
        bounds_checked.push(time_per!(
            ROUND_TRIPS,
            checked
                .call_handle(&mut checked_store, b"get")
                .await
                .unwrap()
                .unwrap()
        ));
        raw.push(time_per!(
            ROUND_TRIPS,
            handler
                .call_handle(&mut store, b"get")
                .await
                .unwrap()
                .unwrap()
        ));
        ours.push(time_per!(ROUND_TRIPS, actor.call("get").await.unwrap()));
    }
    host.shutdown().await;
    ours.sort_unstable();
    rows.push(Row::times(
        format!(
            "round trip, read-only message (median of {ROUND_TRIP_ROUNDS} rounds alternating \
             with the floor's; rounds {} to {})",
            human_duration(ours[0]),
            human_duration(ours[ours.len() - 1])
        ),
        percentile(&mut ours, 0.5),
        percentile(&mut raw, 0.5),
    ));
    rows.push(Row::times(
        format!(
            "raw call compiled for a {} memory reservation (bounds-checked; floor: the raw \
             call compiled for 4 GiB; medians of {ROUND_TRIP_ROUNDS} alternating rounds)",
            human_size(MOST_ACTORS_RESERVATION as usize)
        ),
        percentile(&mut bounds_checked, 0.5),
        percentile(&mut raw, 0.5),
    ));
}

/// Starts a supervised counter actor named `counter` that has counted to 1.
async fn one_counter(host: &Host, counter: &[u8]) -> ::wasmvisor::ActorRef {
    let plugin = host
        .load_plugin("counter.wasm", counter.to_vec())
        .await
        .unwrap();
    host.start_supervisor(
        SupervisorSpec::new("bench")
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(ChildSpec::new("counter", plugin)),
    )
    .await
    .unwrap();
    let actor = host.actor("counter").unwrap();
    actor.call("inc").await.unwrap();
    actor
}

async fn restart(counter: &[u8], pool: Option<u32>, rows: &mut Rows) {
    let raw_counter = RawCounter::new(counter, pool);
    // The floor: what a restart cannot do without. Read the committed state
    // from the same kind of store the host uses, instantiate, answer.
    let store = MemoryStateStore::new();
    let mut changes = ::wasmvisor::state::Changes::default();
    changes.writes.insert("count".into(), Some(b"1".to_vec()));
    store.commit("counter", changes).await.unwrap();
    let host = host_with(pool);
    let actor = one_counter(&host, counter).await;
    // The three are sampled in turn, so that a slow spell of the machine
    // falls on all of them alike.
    let mut raw = Vec::with_capacity(RESTARTS);
    let mut raw_crash = Vec::with_capacity(RESTARTS);
    let mut raw_teardown = Vec::with_capacity(RESTARTS);
    let mut ours = Vec::with_capacity(RESTARTS);
    for _ in 0..RESTARTS {
        let start = Instant::now();
        let committed = store.load("counter").await.unwrap();
        let (mut raw_store, handler) = raw_counter.instance(committed.entries).await;
        let reply = handler
            .call_handle(&mut raw_store, b"get")
            .await
            .unwrap()
            .unwrap();
        raw.push(start.elapsed());
        assert_eq!(reply, b"1");
        drop(raw_store);

        // Not part of the floor, but where every restart starts: the guest's
        // own panic (formatting, printing to stderr) and the trap out of it.
        let (mut raw_store, handler) = raw_counter.instance(BTreeMap::new()).await;
        let start = Instant::now();
        assert!(handler.call_handle(&mut raw_store, b"crash").await.is_err());
        raw_crash.push(start.elapsed());
        // Nor is this, though no restart goes without it: the trapped
        // instance's teardown (with a pool, its slot reset for the next).
        let start = Instant::now();
        drop(raw_store);
        raw_teardown.push(start.elapsed());

        let start = Instant::now();
        assert!(actor.call("crash").await.is_err());
        assert_eq!(actor.call("get").await.unwrap(), b"1");
        ours.push(start.elapsed());
    }
    host.shutdown().await;
    let how = pool_label(pool);
    let (ours_p50, floor) = (percentile(&mut ours, 0.5), percentile(&mut raw, 0.5));
    rows.push(Row::times(
        format!(
            "restart p50{how} (crash, then next message answered; floor: state read + \
             instantiate + call)"
        ),
        ours_p50,
        floor,
    ));
    rows.push(Row::times(
        format!("restart p99{how}"),
        percentile(&mut ours, 0.99),
        percentile(&mut raw, 0.99),
    ));
    let crash = percentile(&mut raw_crash, 0.5);
    let ours_less_crash = ours_p50.saturating_sub(crash);
    rows.push(Row::times(
        format!(
            "restart p50{how} less the crashing call itself (the raw call that panics and \
             traps: {}; floor as above)",
            human_duration(crash)
        ),
        ours_less_crash,
        floor,
    ));
    let teardown = percentile(&mut raw_teardown, 0.5);
    rows.push(Row::times(
        format!(
            "the same, against the floor plus the trapped instance's teardown (raw, median: {})",
            human_duration(teardown)
        ),
        ours_less_crash,
        floor + teardown,
    ));
}

/// A host with the default settings, or with an instance pool of `pool`
/// slots.
fn host_with(pool: Option<u32>) -> Host {
    let builder = Host::builder();
    match pool {
        Some(slots) => builder.instance_pool(slots),
        None => builder,
    }
    .build()
    .unwrap()
}

/// What a row says of its host's instance allocation.
fn pool_label(pool: Option<u32>) -> &'static str {
    match pool {
        Some(_) => ", instance pool",
        None => "",
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where the current runtime runs its tasks, for a row's label: "2
/// cores", or "1 worker thread of 2 cores".
fn workers_label() -> String {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let cores = cores();
    if workers >= cores {
        format!("{cores} cores")
    } else {
        format!(
            "{workers} worker thread{} of {cores} cores",
            if workers == 1 { "" } else { "s" }
        )
    }
}

/// Runs `section` on a runtime of its own with a single worker thread (on
/// a thread of its own, as a runtime cannot be blocked on from another's
/// task), and returns what it returns.
async fn on_one_worker_thread<T: Send + 'static>(
    section: impl Future<Output = T> + Send + 'static,
) -> T {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Its callers run as tasks on that worker, as in `main`.
        let _ = done.send(runtime.block_on(async { tokio::spawn(section).await.unwrap() }));
    });
    result.await.unwrap()
}

/// Messages per second through `actors` counter actors, every actor with
/// callers of its own on every core, against the raw call floor: as many
/// raw instances, called in turn by one task per core (one task for one
/// actor, which handles one message at a time).
///
/// With a pool, the floor is dropped before the host starts: two pools of
/// 10,000 slots would not fit under Linux's default cap on memory mappings.
async fn throughput(counter: &[u8], actors: usize, pool: Option<u32>, rows: &mut Rows) {
    let raw_counter = RawCounter::new(counter, pool);
    let task_count = actors.min(cores());
    let raw_per_task = THROUGHPUT_MESSAGES / task_count;
    let stores_per_task = actors / task_count;
    let mut instances = Vec::with_capacity(task_count);
    for _ in 0..task_count {
        let mut mine = Vec::with_capacity(stores_per_task);
        for _ in 0..stores_per_task {
            mine.push(raw_counter.instance(BTreeMap::new()).await);
        }
        instances.push(mine);
    }
    // Rounds alternate with the floor's, and the medians count; a pooled
    // host of 10,000 and its floor cannot exist at once, so that one is a
    // single round each, the floor first.
    let rounds = if pool.is_some() { 1 } else { THROUGHPUT_ROUNDS };
    let mut raw_rates = Vec::with_capacity(rounds);
    let mut raw = Some((raw_counter, instances));
    if pool.is_some()
        && let Some((raw_counter, mut instances)) = raw.take()
    {
        raw_rates.push(raw_calls_per_second(&mut instances, raw_per_task).await);
        drop(instances);
        drop(raw_counter);
    }

    let host = host_with(pool);
    let plugin = host
        .load_plugin("counter.wasm", counter.to_vec())
        .await
        .unwrap();
    start_counters(&host, &plugin, "busy", actors).await;
    // A lone actor needs several callers to never wait for one.
    let callers_per_actor = (16 / actors).max(1);
    let per_caller = THROUGHPUT_MESSAGES / (actors * callers_per_actor);
    let handles: Vec<_> = (0..actors)
        .map(|i| host.actor(&format!("busy-{i}")).unwrap())
        .collect();
    let mut rates = Vec::with_capacity(rounds);
    // One actor's callers contend for it; so do the same number of tasks
    // sharing one raw instance through a lock, in rounds of their own.
    let mut shared_rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        if let Some((_, instances)) = &mut raw {
            raw_rates.push(raw_calls_per_second(instances, raw_per_task).await);
            if actors == 1 {
                shared_rates.push(
                    shared_raw_calls_per_second(instances, callers_per_actor, per_caller).await,
                );
            }
        }
        let callers = handles
            .iter()
            .flat_map(|actor| std::iter::repeat_n(actor.clone(), callers_per_actor));
        rates.push(calls_per_second(callers, "get", per_caller).await);
    }
    host.shutdown().await;
    let (rate, raw_rate) = (median(&mut rates), median(&mut raw_rates));
    rows.push(Row::rates(
        format!(
            "throughput, {actors} actor{}{} on {} (floor: raw calls to {actors} \
             instance{} from {task_count} task{}{})",
            if actors == 1 { "" } else { "s" },
            pool_label(pool),
            workers_label(),
            if actors == 1 { "" } else { "s" },
            if task_count == 1 { "" } else { "s" },
            if rounds == 1 {
                String::new()
            } else {
                format!("; median of {rounds} rounds alternating with the floor's")
            },
        ),
        rate,
        raw_rate,
    ));
    if !shared_rates.is_empty() {
        rows.push(Row::rates(
            format!(
                "the same, against raw calls to 1 instance shared by {callers_per_actor} tasks \
                 through a `tokio::sync::Mutex` (median of {rounds} rounds)"
            ),
            rate,
            median(&mut shared_rates),
        ));
    }
}

/// Raw calls per second when `task_count` tasks share the one instance of
/// `instances` through a `tokio::sync::Mutex`, `per_task` calls each: how
/// an embedding program would share one instance among its handlers, and
/// what the contention alone costs, with no actor machinery. The instance
/// is handed back.
async fn shared_raw_calls_per_second(
    instances: &mut [Vec<(Store<Raw>, handler::Guest)>],
    task_count: usize,
    per_task: usize,
) -> f64 {
    let instance = instances[0].pop().unwrap();
    let shared = Arc::new(tokio::sync::Mutex::new(instance));
    let start = Instant::now();
    let tasks: Vec<_> = (0..task_count)
        .map(|_| {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let mut instance = shared.lock().await;
                    let (store, handler) = &mut *instance;
                    handler.call_handle(store, b"get").await.unwrap().unwrap();
                }
            })
        })
        .collect();
    let sent = tasks.len() * per_task;
    for task in tasks {
        task.await.unwrap();
    }
    let rate = sent as f64 / start.elapsed().as_secs_f64();
    let shared = Arc::into_inner(shared).unwrap();
    instances[0].push(shared.into_inner());
    rate
}

/// Raw calls per second when each task of `instances` calls its instances
/// in turn, `per_task` times; the tasks hand their instances back.
async fn raw_calls_per_second(
    instances: &mut Vec<Vec<(Store<Raw>, handler::Guest)>>,
    per_task: usize,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = std::mem::take(instances)
        .into_iter()
        .map(|mut mine| {
            tokio::spawn(async move {
                let count = mine.len();
                for i in 0..per_task {
                    let (store, handler) = &mut mine[i % count];
                    handler.call_handle(store, b"get").await.unwrap().unwrap();
                }
                mine
            })
        })
        .collect();
    for task in tasks {
        instances.push(task.await.unwrap());
    }
    (per_task * instances.len()) as f64 / start.elapsed().as_secs_f64()
}

/// The median of `rates`.
fn median(rates: &mut [f64]) -> f64 {
    rates.sort_unstable_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Calls per second when each of `callers` (one task each; an actor may
/// come several times) calls its actor with `message`, `per_caller` times.
async fn calls_per_second(
    callers: impl Iterator<Item = ::wasmvisor::ActorRef>,
    message: &'static str,
    per_caller: usize,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = callers
        .map(|actor| {
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    actor.call(message).await.unwrap();
                }
            })
        })
        .collect();
    let sent = tasks.len() * per_caller;
    for task in tasks {
        task.await.unwrap();
    }
    sent as f64 / start.elapsed().as_secs_f64()
}

/// Starts `count` counter actors named `{prefix}-{i}` under one supervisor,
/// with small mailboxes.
async fn start_counters(host: &Host, plugin: &Plugin, prefix: &str, count: usize) {
    let mut spec = SupervisorSpec::new(prefix);
    for i in 0..count {
        spec = spec.child(
            ChildSpec::new(format!("{prefix}-{i}"), plugin.clone())
                .limits(Limits::default().mailbox_capacity(16)),
        );
    }
    host.start_supervisor(spec).await.unwrap();
}

/// The argument that makes the bench binary measure one idle-memory row
/// and print it (see [`idle_memory`]).
const IDLE_MEMORY_CHILD: &str = "--idle-memory-child";

/// Resident memory per idle counter actor, with `actors` of them, measured
/// in a process of its own: in this one, memory the allocator kept from
/// earlier sections would be handed out again and hide part of it.
/// Without a pool each instance costs six memory mappings, so 10,000 actors
/// would pass Linux's default cap of 65,530 (`vm.max_map_count`). With
/// `reservation`, the host has that memory reservation.
///
/// A pool reserves two mappings per slot and each actor takes about four
/// more: when `vm.max_map_count` leaves no room for that, the row says so
/// (and how to raise it) instead of being measured.
async fn idle_memory(actors: usize, pool: Option<u32>, reservation: Option<u64>, rows: &mut Rows) {
    let what = format!(
        "resident memory per idle actor ({actors} actors{}{})",
        pool_label(pool),
        reservation.map_or(String::new(), |bytes| format!(
            ", {} memory reservation",
            human_size(bytes as usize)
        ))
    );
    let needed = pool.map_or(0, |slots| slots as usize * 2) + actors * 5;
    let allowed = max_map_count();
    if allowed < needed {
        rows.push(Row {
            what,
            wasmvisor: "not measured".into(),
            floor: "-".into(),
            ratio: format!(
                "needs about {needed} memory mappings; `vm.max_map_count` is {allowed} \
                 (as root: `sysctl -w vm.max_map_count={}`)",
                needed * 2
            ),
        });
        return;
    }
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            IDLE_MEMORY_CHILD,
            &actors.to_string(),
            &pool.unwrap_or(0).to_string(),
            &reservation.unwrap_or(0).to_string(),
        ])
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the idle-memory process failed: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: Vec<f64> = printed
        .split_whitespace()
        .map(|figure| figure.parse().unwrap())
        .collect();
    let [per_actor, maps_per_actor, total] = figures[..] else {
        panic!("the idle-memory process printed {printed:?}");
    };
    rows.push(Row {
        what,
        wasmvisor: format!("{:.1} KiB", per_actor / 1024.0),
        floor: "-".into(),
        ratio: format!(
            "{} in all; {maps_per_actor:.1} memory mappings per actor",
            human_size(total as usize)
        ),
    });
}

/// The child of [`idle_memory`]: `args` are the actors, the pool and the
/// memory reservation (0 for none); prints the resident bytes per actor,
/// the memory mappings per actor, and the process's resident bytes in all.
async fn idle_memory_child(args: &[String]) {
    let actors: usize = args[0].parse().unwrap();
    let pool = Some(args[1].parse::<u32>().unwrap()).filter(|&slots| slots > 0);
    let reservation = Some(args[2].parse::<u64>().unwrap()).filter(|&bytes| bytes > 0);
    let counter = std::fs::read(guest("counter")).unwrap();
    let mut builder = Host::builder();
    if let Some(slots) = pool {
        builder = builder.instance_pool(slots);
    }
    if let Some(bytes) = reservation {
        builder = builder.memory_reservation(bytes);
    }
    let host = builder.build().unwrap();
    let plugin = host.load_plugin("counter.wasm", counter).await.unwrap();
    let (before, maps_before) = (resident_bytes(), memory_mappings());
    start_counters(&host, &plugin, "idle", actors).await;
    let per_actor = resident_bytes().saturating_sub(before) / actors as u64;
    let maps_per_actor = memory_mappings().saturating_sub(maps_before) as f64 / actors as f64;
    println!("{per_actor} {maps_per_actor} {}", resident_bytes());
    host.shutdown().await;
}

/// The CPU one sweep of health checks over [`MANY_ACTORS`] actors costs:
/// the CPU of a host whose actors are checked every [`HEALTH_INTERVAL`]
/// less that of the same host whose actors are never checked, per check
/// made, times the actors. The floor: a raw call of `check` on each of as
/// many instances (see [`raw_check_sweep`]).
async fn health_sweep(rows: &mut Rows) {
    let vitals = std::fs::read(guest("vitals")).unwrap();
    let raw_check = raw_check_sweep(&vitals).await;

    let checked = |interval: Duration| {
        let vitals = vitals.clone();
        async move {
            let host = host_with(Some(MANY_ACTORS_POOL));
            let plugin = host.load_plugin("vitals.wasm", vitals).await.unwrap();
            let mut spec = SupervisorSpec::new("vitals");
            for i in 0..MANY_ACTORS {
                spec = spec.child(
                    ChildSpec::new(format!("vitals-{i}"), plugin.clone())
                        .limits(Limits::default().mailbox_capacity(16))
                        .health(
                            HealthSpec::default()
                                .interval(interval)
                                .timeout(Duration::from_secs(60))
                                .threshold(1_000),
                        ),
                );
            }
            host.start_supervisor(spec).await.unwrap();
            // Every first check has been made (or none ever will).
            tokio::time::sleep(interval.min(HEALTH_WINDOW)).await;
            let checks_before: u64 = host.actors().iter().map(|a| a.health_checks).sum();
            let cpu_before = process_cpu();
            tokio::time::sleep(HEALTH_WINDOW).await;
            let cpu = process_cpu() - cpu_before;
            let checks = host.actors().iter().map(|a| a.health_checks).sum::<u64>() - checks_before;
            host.shutdown().await;
            (cpu, checks)
        }
    };
    let (idle_cpu, _) = checked(Duration::from_secs(3600)).await;
    let (busy_cpu, checks) = checked(HEALTH_INTERVAL).await;
    assert!(checks > 0, "no health check was made");
    let per_check = busy_cpu.saturating_sub(idle_cpu).as_secs_f64() / checks as f64;
    rows.push(Row::times(
        format!(
            "health-check sweep of {MANY_ACTORS} actors, instance pool, CPU ({checks} checks measured; \
             floor: a raw `check` call on each of {MANY_ACTORS} instances)"
        ),
        Duration::from_secs_f64(per_check * MANY_ACTORS as f64),
        raw_check * MANY_ACTORS as u32,
    ));
}

/// The floor of a health-check sweep: one raw `check` call on each of
/// [`MANY_ACTORS`] instances in turn, as a sweep touches each actor's
/// instance once (in a pool as large as the host's, dropped before the host
/// starts, as in the pooled throughput row); the time per call, over
/// [`RAW_SWEEPS`] sweeps after a first one that faults the pages in.
async fn raw_check_sweep(vitals: &[u8]) -> Duration {
    let floor = Floor::new(Some(MANY_ACTORS_POOL));
    let pre = floor.pre(vitals);
    let indices = health::GuestIndices::new(&pre).unwrap();
    let mut instances = Vec::with_capacity(MANY_ACTORS);
    for _ in 0..MANY_ACTORS {
        let mut store = floor.store(BTreeMap::new());
        let instance = pre.instantiate_async(&mut store).await.unwrap();
        let check = indices.load(&mut store, &instance).unwrap();
        instances.push((store, check));
    }
    let mut elapsed = Duration::ZERO;
    for sweep in 0..=RAW_SWEEPS {
        let start = Instant::now();
        for (store, check) in &mut instances {
            check.call_check(&mut *store).await.unwrap();
        }
        if sweep > 0 {
            elapsed += start.elapsed();
        }
    }
    elapsed / (RAW_SWEEPS * MANY_ACTORS as u32)
}

/// Durable commits per second, 1 actor and [`CONCURRENT_ACTORS`] at once;
/// returns how many times the second rate is the first.
async fn durable_commits(counter: &[u8], rows: &mut Rows) -> f64 {
    let scratch = tempfile::tempdir().unwrap();
    let raw_rate = {
        let table: redb::TableDefinition<u32, &[u8]> = redb::TableDefinition::new("bench");
        let db = redb::Database::create(scratch.path().join("raw.redb")).unwrap();
        let start = Instant::now();
        for i in 0..SERIAL_COMMITS {
            let tx = db.begin_write().unwrap();
            tx.open_table(table).unwrap().insert(i, &b"1"[..]).unwrap();
            tx.commit().unwrap();
        }
        f64::from(SERIAL_COMMITS) / start.elapsed().as_secs_f64()
    };
    let host = Host::builder()
        .state_store(RedbStateStore::open(scratch.path().join("host.redb")).unwrap())
        .build()
        .unwrap();
    let plugin = host
        .load_plugin("counter.wasm", counter.to_vec())
        .await
        .unwrap();
    start_counters(&host, &plugin, "durable", CONCURRENT_ACTORS).await;
    let one = host.actor("durable-0").unwrap();
    let start = Instant::now();
    for _ in 0..SERIAL_COMMITS {
        one.call("inc").await.unwrap();
    }
    let one_actor_rate = f64::from(SERIAL_COMMITS) / start.elapsed().as_secs_f64();
    let callers = (0..CONCURRENT_ACTORS).map(|i| host.actor(&format!("durable-{i}")).unwrap());
    let many_actor_rate = calls_per_second(callers, "inc", COMMITS_PER_ACTOR as usize).await;
    host.shutdown().await;
    rows.push(Row::rates(
        "durable commits/s, 1 actor (floor: raw redb commits)",
        one_actor_rate,
        raw_rate,
    ));
    rows.push(Row::rates(
        format!("durable commits/s, {CONCURRENT_ACTORS} actors at once (group commit)"),
        many_actor_rate,
        raw_rate,
    ));
    many_actor_rate / one_actor_rate
}

/// Starts a directory of [`DIR_PLUGINS`] distinct plugins with an empty
/// compile cache, then again with the cache that left; returns how many
/// times faster the second start was.
async fn directory_start(counter: &[u8], rows: &mut Rows) -> f64 {
    let plugins = tempfile::tempdir().unwrap();
    for i in 0..DIR_PLUGINS {
        let bytes = with_custom_section(counter, &format!("wasmvisor-bench-{i}"));
        std::fs::write(plugins.path().join(format!("counter-{i}.wasm")), bytes).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let cold = start_dir(plugins.path(), cache.path()).await;
    let warm = start_dir(plugins.path(), cache.path()).await;
    rows.push(Row::times(
        format!("start a directory of {DIR_PLUGINS} plugins, warm compile cache (floor: cold)"),
        warm,
        cold,
    ));
    cold.as_secs_f64() / warm.as_secs_f64()
}

/// `component` with a custom section named `name` appended: the same
/// plugin, with other bytes (so another cache entry).
fn with_custom_section(component: &[u8], name: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0);
    leb128(payload.len(), &mut bytes);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Starts a fresh host on `dir` with the compile cache in `cache`; returns
/// how long loading and starting every plugin took.
async fn start_dir(dir: &Path, cache: &Path) -> Duration {
    let host = Host::builder().compile_cache(cache).build().unwrap();
    let start = Instant::now();
    let report = ::wasmvisor::dir::start_plugin_dir(&host, dir).await.unwrap();
    let took = start.elapsed();
    assert_eq!(report.started.len(), DIR_PLUGINS, "{:?}", report.failed);
    host.shutdown().await;
    took
}

/// Each language's counter: its size and its cold start, against Rust's.
async fn languages(rows: &mut Rows) {
    let cold_start = |guest_name: &'static str| async move {
        let bytes = std::fs::read(guest(guest_name)).unwrap();
        let size = bytes.len();
        let host = Host::new().unwrap();
        let start = Instant::now();
        let plugin = host.load_plugin(guest_name, bytes).await.unwrap();
        host.start_supervisor(SupervisorSpec::new("cold").child(ChildSpec::new("c", plugin)))
            .await
            .unwrap();
        host.actor("c").unwrap().call("inc").await.unwrap();
        let took = start.elapsed();
        host.shutdown().await;
        (size, took)
    };
    let (rust_size, rust_start) = cold_start("counter").await;
    for (language, guest_name) in [
        ("Rust", "counter"),
        ("Python", "pycounter"),
        ("JavaScript", "jscounter"),
        ("C", "ccounter"),
    ] {
        let (size, took) = cold_start(guest_name).await;
        rows.push(Row {
            what: format!("{language} counter: size (floor: the Rust one's)"),
            wasmvisor: human_size(size),
            floor: human_size(rust_size),
            ratio: format!("{:.1}x", size as f64 / rust_size as f64),
        });
        let mut row = Row::times(
            format!(
                "{language} counter: cold start, compile to first reply (floor: the Rust one's)"
            ),
            took,
            rust_start,
        );
        row.ratio = format!("{:.1}x", took.as_secs_f64() / rust_start.as_secs_f64());
        rows.push(row);
    }
}

/// The markers around the measured part of docs/benchmarks.md; the rest of
/// the page (what the figures mean, what each tuning bought) is written by
/// hand and kept.
const BEGIN: &str = "<!-- measured by `just bench`: begin -->\n";
const END: &str = "<!-- measured by `just bench`: end -->\n";

/// `page` with the part between the markers replaced by `measured` (the
/// whole page, if it has no markers).
fn with_measurements(page: &str, measured: &str) -> String {
    match (page.find(BEGIN), page.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{BEGIN}{measured}{}", &page[..begin], &page[end..])
        }
        _ => format!("# Benchmarks\n\n{BEGIN}{measured}{END}"),
    }
}

fn render(rows: &[Row], group_commit_gain: f64, cache_gain: f64) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: u64 = info
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.0} GiB", kib as f64 / f64::from(1 << 20)))
        })
        .unwrap_or_else(|| "unknown memory".into());
    let mut table = format!(
        "Measured by `just bench` (`host/benches/overhead.rs`, release build) on {cpu}, {} cores, \
         {memory}. Each floor is measured in the same run: raw wasmtime on an engine with the \
         host's settings (a typed call, an `InstancePre` instantiation of the same component), \
         and raw redb commits of one row each with `Durability::Immediate`. A ratio is \
         wasmvisor over the floor: below 1 is better for times, above 1 for rates.\n\n\
         | what | wasmvisor | floor | ratio |\n|---|---|---|---|\n",
        cores()
    );
    for r in rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.what, r.wasmvisor, r.floor, r.ratio
        ));
    }
    table.push_str(&format!(
        "\nGroup commit: {CONCURRENT_ACTORS} actors commit {group_commit_gain:.1}x as many \
         durable updates per second as 1 actor.\n\n\
         Compile cache: a host restarting on {DIR_PLUGINS} plugins starts them {cache_gain:.1}x \
         as fast with the cache a previous run left as with an empty one.\n"
    ));
    table
}

fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `just guests`",
        path.display()
    );
    path
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// How many memory mappings a process may have (`vm.max_map_count`; Linux's
/// default is 65,530).
fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(65_530)
}

/// How many memory mappings the process has (Linux caps them, by default
/// at 65,530: `vm.max_map_count`).
fn memory_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .count()
}

/// The CPU time this process has used (user and system), from
/// `/proc/self/stat`, whose unit (USER_HZ) is 1/100 s on Linux.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name (field 2) may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn human_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.2} µs")
    } else {
        format!("{:.1} ms", micros / 1_000.0)
    }
}

fn human_rate(per_second: f64) -> String {
    format!("{per_second:.0}/s")
}

/// A size in KiB below a MiB and in MiB above.
fn human_size(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}
