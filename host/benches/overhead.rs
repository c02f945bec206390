//! `just bench`: what wasmvisor costs over raw wasmtime, measured in one run.
//!
//! Each row is a wasmvisor figure, the floor measured in the same run on the
//! same component, and their ratio:
//!
//! - round trip: `ActorRef::call` (mailbox -> actor task -> guest -> reply)
//!   against a raw async typed call of the same export on a raw store;
//! - restart: a crashing message then the next message answered (with state
//!   restored from the store), against a raw `InstancePre` instantiation
//!   plus one call;
//! - idle actors: resident memory per idle counter actor;
//! - durable commits per second through actors (each `inc` commits to the
//!   redb store before it is answered), with 1 actor and with 100 actors
//!   calling at once, against raw redb commits of one row each, fsync'd;
//! - cold start of a directory of 50 distinct plugins (each a copy of the
//!   counter with a custom section of its own, so that none shares a cache
//!   entry): with an empty compile cache, and with the cache a previous
//!   host left (what a restart of the host costs);
//! - per language, the counter plugin's size and its cold start (compile,
//!   start, first message answered; no compile cache), against the Rust
//!   counter's.
//!
//! The guests must be built (`just guests`). The table is printed and
//! written to `docs/benchmarks.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ::wasmvisor::{ChildSpec, Host, Limits, RedbStateStore, SupervisorSpec};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { "wasmvisor:plugin/actors": async },
    exports: { default: async },
});

use self::wasmvisor::plugin::{actors, log, state};

const ROUND_TRIPS: u32 = 20_000;
const RESTARTS: usize = 300;
const IDLE_ACTORS: usize = 1_000;
const SERIAL_COMMITS: u32 = 300;
const CONCURRENT_ACTORS: usize = 100;
const COMMITS_PER_ACTOR: u32 = 30;
const DIR_PLUGINS: usize = 50;

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
async fn start_dir(dir: &std::path::Path, cache: &std::path::Path) -> Duration {
    let host = Host::builder().compile_cache(cache).build().unwrap();
    let start = Instant::now();
    let report = ::wasmvisor::start_plugin_dir(&host, dir).await.unwrap();
    let took = start.elapsed();
    assert_eq!(report.started.len(), DIR_PLUGINS, "{:?}", report.failed);
    host.shutdown().await;
    took
}

/// The floor's host: just enough for the counter's imports.
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

fn raw_store(engine: &Engine) -> Store<Raw> {
    let mut store = Store::new(
        engine,
        Raw {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            entries: BTreeMap::new(),
        },
    );
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Row {
    what: String,
    wasmvisor: String,
    floor: String,
    ratio: String,
}

fn row(what: &str, ours: Duration, floor: Duration) -> Row {
    Row {
        what: what.to_owned(),
        wasmvisor: format!("{:.2} µs", micros(ours)),
        floor: format!("{:.2} µs", micros(floor)),
        ratio: format!("{:.2}x", ours.as_secs_f64() / floor.as_secs_f64()),
    }
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

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let counter = std::fs::read(guest("counter")).unwrap();
    let mut rows = Vec::new();

    // The floor: the same component on a raw store, same engine settings.
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let engine = Engine::new(&config).unwrap();
    let component = Component::new(&engine, &counter).unwrap();
    let mut linker: Linker<Raw> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    Plugin::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |raw| raw).unwrap();
    let pre = PluginPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();

    let mut store = raw_store(&engine);
    let plugin = pre.instantiate_async(&mut store).await.unwrap();
    let handler = plugin.wasmvisor_plugin_handler();
    for _ in 0..1_000 {
        handler
            .call_handle(&mut store, b"get")
            .await
            .unwrap()
            .unwrap();
    }
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        handler
            .call_handle(&mut store, b"get")
            .await
            .unwrap()
            .unwrap();
    }
    let raw_call = start.elapsed() / ROUND_TRIPS;

    let mut raw_restarts = Vec::with_capacity(RESTARTS);
    for _ in 0..RESTARTS {
        let start = Instant::now();
        let mut store = raw_store(&engine);
        let plugin = pre.instantiate_async(&mut store).await.unwrap();
        plugin
            .wasmvisor_plugin_handler()
            .call_handle(&mut store, b"get")
            .await
            .unwrap()
            .unwrap();
        raw_restarts.push(start.elapsed());
    }

    // wasmvisor: the same component as a supervised actor.
    let host = Host::new().unwrap();
    let plugin = host
        .load_plugin("counter.wasm", counter.clone())
        .await
        .unwrap();
    host.start_supervisor(
        SupervisorSpec::new("bench")
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(ChildSpec::new("counter", plugin.clone())),
    )
    .await
    .unwrap();
    let actor = host.actor("counter").unwrap();
    actor.call("inc").await.unwrap();
    for _ in 0..1_000 {
        actor.call("get").await.unwrap();
    }
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        actor.call("get").await.unwrap();
    }
    let actor_call = start.elapsed() / ROUND_TRIPS;
    rows.push(row("round trip, read-only message", actor_call, raw_call));

    let mut restarts = Vec::with_capacity(RESTARTS);
    for _ in 0..RESTARTS {
        let start = Instant::now();
        assert!(actor.call("crash").await.is_err());
        assert_eq!(actor.call("get").await.unwrap(), b"1");
        restarts.push(start.elapsed());
    }
    let (ours_p50, floor_p50) = (
        percentile(&mut restarts, 0.5),
        percentile(&mut raw_restarts, 0.5),
    );
    let (ours_p99, floor_p99) = (
        percentile(&mut restarts, 0.99),
        percentile(&mut raw_restarts, 0.99),
    );
    rows.push(row(
        "restart p50 (crash, then next message answered)",
        ours_p50,
        floor_p50,
    ));
    rows.push(row("restart p99", ours_p99, floor_p99));
    host.shutdown().await;

    // Idle actors: resident memory per actor.
    let host = Host::new().unwrap();
    let plugin = host
        .load_plugin("counter.wasm", counter.clone())
        .await
        .unwrap();
    let before = resident_bytes();
    let mut spec = SupervisorSpec::new("idle");
    for i in 0..IDLE_ACTORS {
        spec = spec.child(
            ChildSpec::new(format!("counter-{i}"), plugin.clone())
                .limits(Limits::default().mailbox_capacity(16)),
        );
    }
    host.start_supervisor(spec).await.unwrap();
    let per_actor = resident_bytes().saturating_sub(before) / IDLE_ACTORS as u64;
    host.shutdown().await;
    rows.push(Row {
        what: format!("resident memory per idle actor ({IDLE_ACTORS} actors)"),
        wasmvisor: format!("{:.1} KiB", per_actor as f64 / 1024.0),
        floor: "-".into(),
        ratio: "-".into(),
    });

    // Durable commits: raw redb, then through actors.
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
        .load_plugin("counter.wasm", counter.clone())
        .await
        .unwrap();
    let mut spec = SupervisorSpec::new("durable");
    for i in 0..CONCURRENT_ACTORS {
        spec = spec.child(ChildSpec::new(format!("durable-{i}"), plugin.clone()));
    }
    host.start_supervisor(spec).await.unwrap();
    let one = host.actor("durable-0").unwrap();
    let start = Instant::now();
    for _ in 0..SERIAL_COMMITS {
        one.call("inc").await.unwrap();
    }
    let one_actor_rate = f64::from(SERIAL_COMMITS) / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let callers: Vec<_> = (0..CONCURRENT_ACTORS)
        .map(|i| {
            let actor = host.actor(&format!("durable-{i}")).unwrap();
            tokio::spawn(async move {
                for _ in 0..COMMITS_PER_ACTOR {
                    actor.call("inc").await.unwrap();
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let total = CONCURRENT_ACTORS as f64 * f64::from(COMMITS_PER_ACTOR);
    let many_actor_rate = total / start.elapsed().as_secs_f64();
    host.shutdown().await;
    for (what, rate) in [
        ("durable commits/s, 1 actor".to_owned(), one_actor_rate),
        (
            format!("durable commits/s, {CONCURRENT_ACTORS} actors at once (group commit)"),
            many_actor_rate,
        ),
    ] {
        rows.push(Row {
            what,
            wasmvisor: format!("{rate:.0}/s"),
            floor: format!("{raw_rate:.0}/s"),
            ratio: format!("{:.2}x", rate / raw_rate),
        });
    }
    let group_commit_gain = many_actor_rate / one_actor_rate;

    let plugins = tempfile::tempdir().unwrap();
    for i in 0..DIR_PLUGINS {
        let bytes = with_custom_section(&counter, &format!("wasmvisor-bench-{i}"));
        std::fs::write(plugins.path().join(format!("counter-{i}.wasm")), bytes).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let cold = start_dir(plugins.path(), cache.path()).await;
    let warm = start_dir(plugins.path(), cache.path()).await;
    rows.push(Row {
        what: format!(
            "start a directory of {DIR_PLUGINS} plugins, warm compile cache (floor: cold)"
        ),
        wasmvisor: format!("{:.0} ms", warm.as_secs_f64() * 1000.0),
        floor: format!("{:.0} ms", cold.as_secs_f64() * 1000.0),
        ratio: format!("{:.2}x", warm.as_secs_f64() / cold.as_secs_f64()),
    });
    let cache_gain = cold.as_secs_f64() / warm.as_secs_f64();

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
        rows.push(Row {
            what: format!(
                "{language} counter: cold start, compile to first reply (floor: the Rust one's)"
            ),
            wasmvisor: format!("{:.0} ms", took.as_secs_f64() * 1000.0),
            floor: format!("{:.0} ms", rust_start.as_secs_f64() * 1000.0),
            ratio: format!("{:.1}x", took.as_secs_f64() / rust_start.as_secs_f64()),
        });
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut table = format!(
        "# Benchmarks\n\nMeasured by `just bench` (`host/benches/overhead.rs`) on {cpu}, {cores} cores.\n\
         Each floor is measured in the same run: a raw wasmtime typed call and a raw `InstancePre` \
         instantiation of the same component (`counter`), and raw redb commits of one row each \
         with `Durability::Immediate`.\n\n\
         | what | wasmvisor | floor | ratio |\n|---|---|---|---|\n"
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.what, r.wasmvisor, r.floor, r.ratio
        ));
    }
    table.push_str(&format!(
        "\nGroup commit: {CONCURRENT_ACTORS} actors commit {group_commit_gain:.1}x as many \
         durable updates per second as 1 actor (the floor is raw redb, one fsync'd commit of \
         one row at a time).\n\n\
         Compile cache: a host restarting on {DIR_PLUGINS} plugins starts them {cache_gain:.1}x \
         as fast with the cache a previous run left as with an empty one.\n"
    ));
    print!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    std::fs::write(&out, &table).unwrap();
    println!("\nwritten to {}", out.display());
}

/// A component's size, in KiB below a MiB and in MiB above.
fn human_size(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}
