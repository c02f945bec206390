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
//! - HTTP requests per second and latency through a `wasi:http` actor,
//!   against raw wasmtime-wasi-http serving the same component;
//! - a `wasi:cli` program's start to exit, supervised and as a one-off
//!   run, against raw wasmtime instantiating it and calling `run`;
//! - per language, the counter plugin's size and its cold start (compile,
//!   start, first message answered; no compile cache), against the Rust
//!   counter's.
//!
//! The guests must be built (`just guests`). The table is printed and
//! written to `docs/benchmarks.md`, with the machine it ran on.
//!
//! One file per measured thing (`round_trip`, `throughput`, `restart`,
//! `memory`, `health`, `durable`, `directory`, `http`, `programs`, `languages`), sharing
//! `floor` (raw wasmtime), `harness` (timing, hosts, the process's own
//! readings) and `report` (the table and the page it is written into).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// First: its `time_per!` is used by the sections.
#[macro_use]
mod harness;
mod directory;
mod durable;
mod floor;
mod health;
mod http;
mod languages;
mod memory;
mod programs;
mod report;
mod restart;
mod round_trip;
mod throughput;

use std::path::PathBuf;
use std::time::Duration;

use crate::directory::directory_start;
use crate::durable::durable_commits;
use crate::harness::{guest, on_one_worker_thread};
use crate::health::health_sweep;
use crate::http::http_serving;
use crate::languages::languages;
use crate::memory::{IDLE_MEMORY_CHILD, idle_memory, idle_memory_child};
use crate::programs::programs;
use crate::report::{
    README_BEGIN, README_END, Rows, readme_rows, render, with_measurements, with_section,
};
use crate::restart::restart;
use crate::round_trip::round_trip;
use crate::throughput::throughput;

pub(crate) const ROUND_TRIPS: u32 = 20_000;
/// The round trip and its floor are timed in this many alternating rounds
/// of [`ROUND_TRIPS`] each, and the median round counts: on a shared
/// virtual machine one run of either drifts by 20% from the next.
pub(crate) const ROUND_TRIP_ROUNDS: usize = 7;
pub(crate) const THROUGHPUT_MESSAGES: usize = 200_000;
/// Throughput is measured in this many rounds alternating with the floor's
/// (for the unpooled hosts), and the median round counts.
pub(crate) const THROUGHPUT_ROUNDS: usize = 5;
pub(crate) const RESTARTS: usize = 300;
pub(crate) const SERIAL_COMMITS: u32 = 300;
pub(crate) const CONCURRENT_ACTORS: usize = 100;
pub(crate) const COMMITS_PER_ACTOR: u32 = 30;
pub(crate) const MANY_ACTORS: usize = 10_000;
pub(crate) const DIR_PLUGINS: usize = 100;
/// How long the health-check CPU is measured for, and the interval then.
pub(crate) const HEALTH_WINDOW: Duration = Duration::from_secs(3);
pub(crate) const HEALTH_INTERVAL: Duration = Duration::from_millis(250);
/// How many timed sweeps the health-check floor makes.
pub(crate) const RAW_SWEEPS: u32 = 5;

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
    if wanted("http") {
        http_serving(&mut rows).await;
    }
    if wanted("programs") {
        programs(&mut rows).await;
    }
    if wanted("languages") {
        languages(&mut rows).await;
    }
    if !only.is_empty() {
        return;
    }
    let table = render(&rows.0, group_commit_gain, cache_gain);
    print!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let page = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, with_measurements(&page, &table)).unwrap();
    println!("\nwritten to {}", out.display());
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let front = std::fs::read_to_string(&readme).unwrap();
    let quoted = with_section(&front, README_BEGIN, README_END, &readme_rows(&table))
        .expect("the README has the markers of its performance figures");
    std::fs::write(&readme, quoted).unwrap();
    println!(
        "its rows of the README's figures copied into {}",
        readme.display()
    );
}

/// The instance pool of the hosts and floors that run a few instances.
pub(crate) const SMALL_POOL: u32 = 16;
/// The instance pool of the hosts of [`MANY_ACTORS`] actors.
pub(crate) const MANY_ACTORS_POOL: u32 = MANY_ACTORS as u32 + 16;
/// The most idle actors measured (the stretch goal).
pub(crate) const MOST_ACTORS: usize = 100_000;
/// Their pool.
pub(crate) const MOST_ACTORS_POOL: u32 = MOST_ACTORS as u32 + 16;
/// Their memory reservation: 100,000 pool slots of wasmtime's 4 GiB would
/// need 400 TiB of address space, more than a process has (128 TiB).
pub(crate) const MOST_ACTORS_RESERVATION: u64 = 64 << 20;
