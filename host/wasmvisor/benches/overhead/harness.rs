//! What every section shares: timing, medians and percentiles, the hosts
//! and runtimes the sections run on, and what the process reads of itself
//! (its memory, mappings and CPU).

use std::path::PathBuf;
use std::time::Duration;

use ::wasmvisor::{ChildSpec, Host, Limits, Plugin, SupervisorSpec};

/// The time one run of `step` (an expression, awaited inside) takes on
/// average, after a warm-up of a twentieth as many runs.
macro_rules! time_per {
    ($runs:expr, $step:expr) => {{
        for _ in 0..$runs / 20 {
            $step;
        }
        let start = std::time::Instant::now();
        for _ in 0..$runs {
            $step;
        }
        start.elapsed() / $runs
    }};
}

/// Starts a supervised counter actor named `counter` that has counted to 1.
pub(crate) async fn one_counter(host: &Host, counter: &[u8]) -> ::wasmvisor::ActorRef {
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

/// A host with the default settings, or with an instance pool of `pool`
/// slots.
pub(crate) fn host_with(pool: Option<u32>) -> Host {
    let builder = Host::builder();
    match pool {
        Some(slots) => builder.instance_pool(slots),
        None => builder,
    }
    .build()
    .unwrap()
}

/// What a row says of its host's instance allocation.
pub(crate) fn pool_label(pool: Option<u32>) -> &'static str {
    match pool {
        Some(_) => ", instance pool",
        None => "",
    }
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where the current runtime runs its tasks, for a row's label: "2
/// cores", or "1 worker thread of 2 cores".
pub(crate) fn workers_label() -> String {
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
pub(crate) async fn on_one_worker_thread<T: Send + 'static>(
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

/// The median of `rates`.
pub(crate) fn median(rates: &mut [f64]) -> f64 {
    rates.sort_unstable_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// Starts `count` counter actors named `{prefix}-{i}` under one supervisor,
/// with small mailboxes.
pub(crate) async fn start_counters(host: &Host, plugin: &Plugin, prefix: &str, count: usize) {
    let mut spec = SupervisorSpec::new(prefix);
    for i in 0..count {
        spec = spec.child(
            ChildSpec::new(format!("{prefix}-{i}"), plugin.clone())
                .limits(Limits::default().mailbox_capacity(16)),
        );
    }
    host.start_supervisor(spec).await.unwrap();
}

pub(crate) fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../guest-examples/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `just guests`",
        path.display()
    );
    path
}

pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

pub(crate) fn resident_bytes() -> u64 {
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
pub(crate) fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(65_530)
}

/// How many memory mappings the process has (Linux caps them, by default
/// at 65,530: `vm.max_map_count`).
pub(crate) fn memory_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .count()
}

/// The CPU time this process has used (user and system), from
/// `/proc/self/stat`, whose unit (USER_HZ) is 1/100 s on Linux.
pub(crate) fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name (field 2) may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
