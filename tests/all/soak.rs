//! The chaos soak: hundreds of plugins from a watched directory, under
//! concurrent callers, while a chaos driver injects every kind of fault at
//! random: panics, traps, hangs, memory blow-ups, failing health checks,
//! poison messages, restarts through the admin API, hot upgrades through
//! the directory, and bad plugin files and manifests dropped into it.
//! Checked as it runs and at the end:
//!
//! - every call is answered (a reply or a typed error) within its deadline;
//! - no counter ever answers a value below one it answered before, and at
//!   the end each counter holds exactly the increments that were
//!   acknowledged: none lost, none made up;
//! - live instances equal running actors (no store outlives its actor);
//! - the host's memory stays under a bound;
//! - the supervisors pushed past their intensity gave up, every other one
//!   runs, and every actor of theirs runs and is healthy;
//! - every poison message went to the dead letters;
//! - no bad file dropped in became an actor, and the directory watcher
//!   still starts a good plugin dropped in after them all.
//!
//! `just test` runs the short form (about 10 seconds, 200 plugins); `just
//! soak` the long one (`WASMVISOR_SOAK_SECS`, `WASMVISOR_SOAK_PLUGINS`;
//! `WASMVISOR_SOAK_SEED` replays a run). The summary is printed at the end.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmvisor::dir::{start_plugin_dir, watch_plugin_dir};
use wasmvisor::{ActorStatus, CallError, HealthStatus, Host, SupervisorStatus};
use wasmvisor_admin::{Action, AdminClient, AdminServer};

use crate::common::{Random, guest};

/// How long a call may take before it counts as unanswered: far beyond any
/// deadline, restart or upgrade in the soak.
const CALL_DEADLINE: Duration = Duration::from_secs(20);
/// The host's resident memory may grow this much over the run.
const MEMORY_BOUND_BYTES: u64 = 1 << 30;

/// The kinds of plugin in the soak, with their manifests.
struct Population {
    counters: Vec<String>,
    crashers: Vec<String>,
    spinners: Vec<String>,
    hogs: Vec<String>,
    vitals: Vec<String>,
    poisoned: Vec<String>,
    doomed: Vec<String>,
}

impl Population {
    /// Writes `plugins` plugins into `dir`: most are counters, the rest a
    /// few of each faulty kind.
    fn write(dir: &Path, plugins: usize) -> Population {
        let few = (plugins / 20).max(2);
        let mut population = Population {
            counters: Vec::new(),
            crashers: Vec::new(),
            spinners: Vec::new(),
            hogs: Vec::new(),
            vitals: Vec::new(),
            poisoned: Vec::new(),
            doomed: Vec::new(),
        };
        // Restarts are many under chaos: a wide intensity, except for the
        // doomed ones, which must give up.
        let supervisor = "[supervisor]\nmax_restarts = 10000\nwithin = \"10s\"\n";
        let add = |kind: &str, guest_name: &str, manifest: String, list: &mut Vec<String>| {
            let name = format!("{kind}-{:03}", list.len());
            std::fs::copy(guest(guest_name), dir.join(format!("{name}.wasm"))).unwrap();
            std::fs::write(dir.join(format!("{name}.toml")), manifest).unwrap();
            list.push(name);
        };
        for _ in 0..few {
            add(
                "crasher",
                "crasher",
                supervisor.into(),
                &mut population.crashers,
            );
            add(
                "spinner",
                "spinner",
                format!("{supervisor}[limits]\ncall_timeout = \"200ms\"\n"),
                &mut population.spinners,
            );
            add(
                "hog",
                "hog",
                format!("{supervisor}[limits]\nmemory_mib = 16\n"),
                &mut population.hogs,
            );
            add(
                "vitals",
                "vitals",
                format!(
                    "{supervisor}[health]\ninterval = \"100ms\"\ntimeout = \"1s\"\nthreshold = 2\n"
                ),
                &mut population.vitals,
            );
            add(
                "poisoned",
                "counter",
                // Top-level keys come before the first table.
                format!("redelivery = 2\n{supervisor}"),
                &mut population.poisoned,
            );
            add(
                "doomed",
                "crasher",
                "[supervisor]\nmax_restarts = 2\nwithin = \"1h\"\n".into(),
                &mut population.doomed,
            );
        }
        while population.total() < plugins {
            add(
                "counter",
                "counter",
                supervisor.into(),
                &mut population.counters,
            );
        }
        population
    }

    fn total(&self) -> usize {
        self.counters.len()
            + self.crashers.len()
            + self.spinners.len()
            + self.hogs.len()
            + self.vitals.len()
            + self.poisoned.len()
            + self.doomed.len()
    }
}

/// What went wrong; the soak fails if anything did.
#[derive(Default)]
struct Violations(Mutex<Vec<String>>);

impl Violations {
    fn report(&self, what: String) {
        let mut list = self.0.lock().unwrap();
        if list.len() < 50 {
            list.push(what);
        }
    }

    fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Counts by kind.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    fn add(&self, kind: &str) {
        *self.0.lock().unwrap().entry(kind.to_owned()).or_default() += 1;
    }

    fn get(&self, kind: &str) -> u64 {
        self.0.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.0.lock().unwrap().values().sum()
    }

    fn show(&self) -> String {
        let counts = self.0.lock().unwrap();
        counts
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The kind of a call's typed error, for the tally.
fn error_kind(error: &CallError) -> &'static str {
    match error {
        CallError::NotFound(_) => "not-found",
        CallError::MailboxFull { .. } => "mailbox-full",
        CallError::Rejected { .. } => "rejected",
        CallError::Crashed { .. } => "crashed",
        CallError::DeadLettered { .. } => "dead-lettered",
        CallError::StateCommit { .. } => "state-commit",
        CallError::Stopped { .. } => "stopped",
        _ => "other",
    }
}

/// The process's resident memory, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Sends `message` to `name`; an answer is a reply or a typed error, and it
/// must come within [`CALL_DEADLINE`].
async fn call(
    host: &Host,
    name: &str,
    message: &str,
    violations: &Violations,
) -> Option<Result<Vec<u8>, CallError>> {
    let Some(actor) = host.actor(name) else {
        return Some(Err(CallError::NotFound(name.to_owned())));
    };
    match tokio::time::timeout(CALL_DEADLINE, actor.call(message)).await {
        Ok(answer) => Some(answer),
        Err(_) => {
            violations.report(format!(
                "`{message}` to `{name}` got no answer within {} s",
                CALL_DEADLINE.as_secs()
            ));
            None
        }
    }
}

/// One caller: increments random counters until `until`, checking that
/// each counter's answers only grow. Returns every acknowledged value.
async fn caller(
    host: Host,
    counters: Arc<Vec<String>>,
    mut random: Random,
    until: Instant,
    calls: Arc<Tally>,
    violations: Arc<Violations>,
) -> HashMap<String, Vec<u64>> {
    let mut acknowledged: HashMap<String, Vec<u64>> = HashMap::new();
    while Instant::now() < until {
        let name = random.pick(&counters).to_owned();
        match call(&host, &name, "inc", &violations).await {
            Some(Ok(reply)) => {
                calls.add("ok");
                let value: u64 = String::from_utf8_lossy(&reply).parse().unwrap_or_else(|_| {
                    violations.report(format!("`{name}` answered `inc` with {reply:?}"));
                    0
                });
                let seen = acknowledged.entry(name.clone()).or_default();
                if let Some(&last) = seen.last()
                    && value <= last
                {
                    violations.report(format!(
                        "`{name}` went backwards: {value} after {last} for the same caller"
                    ));
                }
                seen.push(value);
            }
            Some(Err(error)) => calls.add(error_kind(&error)),
            None => calls.add("unanswered"),
        }
    }
    acknowledged
}

/// The chaos driver: one random fault at a time until `until`.
#[allow(clippy::too_many_arguments)]
async fn chaos(
    host: Host,
    admin: AdminClient,
    dir: std::path::PathBuf,
    population: Arc<Population>,
    mut random: Random,
    until: Instant,
    faults: Arc<Tally>,
    violations: Arc<Violations>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let v1 = std::fs::read(guest("counter")).unwrap();
    let v2 = std::fs::read(guest("counter_v2")).unwrap();
    let p = &population;
    // Upgrades go to one half of the counters, admin stops and restarts to
    // the other: an upgrade landing between a stop and its start would
    // rightly make the start fail with "running".
    let (upgraded, managed) = p.counters.split_at(p.counters.len() / 2);
    // The doomed ones first: each crashes until its supervisor gives up.
    for name in &p.doomed {
        for _ in 0..3 {
            let _ = call(&host, name, "panic", &violations).await;
            faults.add("doomed crash");
        }
    }
    while Instant::now() < until {
        match random.below(11) {
            0 => {
                let _ = call(&host, random.pick(&p.crashers), "panic", &violations).await;
                faults.add("panic");
            }
            1 => {
                let _ = call(&host, random.pick(&p.crashers), "unreachable", &violations).await;
                faults.add("trap");
            }
            2 => {
                let _ = call(&host, random.pick(&p.spinners), "spin", &violations).await;
                faults.add("hang");
            }
            3 => {
                let _ = call(&host, random.pick(&p.hogs), "hog", &violations).await;
                faults.add("memory blow-up");
            }
            4 => {
                let _ = call(
                    &host,
                    random.pick(&p.vitals),
                    "unhealthy chaos",
                    &violations,
                )
                .await;
                faults.add("failing health");
            }
            5 => {
                let name = random.pick(&p.poisoned);
                match call(&host, name, "crash", &violations).await {
                    Some(Err(CallError::DeadLettered { .. })) => faults.add("poison message"),
                    other => violations.report(format!(
                        "a poison message to `{name}` was answered with {other:?}, not dead-lettered"
                    )),
                }
            }
            6 => {
                let _ = call(&host, random.pick(&p.counters), "crash", &violations).await;
                faults.add("counter crash");
            }
            7 => {
                let name = random.pick(managed);
                match admin.act(name, Action::Restart).await {
                    Ok(_) => faults.add("admin restart"),
                    Err(error) => violations.report(format!("restarting `{name}`: {error}")),
                }
            }
            8 => {
                // A hot upgrade the way deployments do it: write aside, rename.
                let name = random.pick(upgraded);
                let bytes = if random.below(2) == 0 { &v1 } else { &v2 };
                let aside = dir.join(format!(".{name}.wasm.part"));
                std::fs::write(&aside, bytes).unwrap();
                std::fs::rename(&aside, dir.join(format!("{name}.wasm"))).unwrap();
                faults.add("upgrade");
            }
            10 => {
                // Written aside and renamed in, as deployments do.
                let name = format!("bad-{}", bad.len());
                for (file, contents) in bad_drop(random.next(), &name, &v1) {
                    let aside = dir.join(format!(".{file}.part"));
                    std::fs::write(&aside, contents).unwrap();
                    std::fs::rename(&aside, dir.join(file)).unwrap();
                }
                bad.push(name);
                faults.add("bad plugin dropped in");
            }
            _ => {
                let name = random.pick(managed);
                match admin
                    .act(name, Action::Stop)
                    .await
                    .and(admin.act(name, Action::Start).await)
                {
                    Ok(_) => faults.add("admin stop and start"),
                    Err(error) => violations.report(format!("stop/start of `{name}`: {error}")),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1 + random.below(10) as u64)).await;
    }
    bad
}

/// A bad plugin dropped into the directory, by kind: the files to write, in
/// order (a manifest before its component, so that the plugin is never
/// seen without it), each with its contents.
fn bad_drop(kind: u64, name: &str, counter: &[u8]) -> Vec<(String, Vec<u8>)> {
    let wasm = format!("{name}.wasm");
    let manifest = |text: &str| (format!("{name}.toml"), text.as_bytes().to_vec());
    match kind % 5 {
        0 => vec![(wasm, b"not a component at all".to_vec())],
        1 => vec![(wasm, counter[..counter.len() / 2].to_vec())],
        2 => vec![
            manifest("[limits]\nmailbox_capacity = 18446744073709551615\n"),
            (wasm, counter.to_vec()),
        ],
        3 => vec![
            manifest("[limits\nmemory_mib = 4\n"),
            (wasm, counter.to_vec()),
        ],
        _ => vec![
            manifest("[limits]\nmemory_mib = 99999999\n"),
            (wasm, counter.to_vec()),
        ],
    }
}

/// Waits until nothing is starting, restarting or stopping, and the vitals
/// are healthy again (their chaos is over); `false` if that never came.
async fn settled(host: &Host, population: &Population) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let actors = host.actors();
        let steady = actors
            .iter()
            .all(|a| matches!(a.status, ActorStatus::Running | ActorStatus::Stopped(_)));
        let healthy = actors
            .iter()
            .filter(|a| population.vitals.contains(&a.name))
            .all(|a| a.health == HealthStatus::Healthy);
        if steady && healthy {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_chaos_loses_nothing_and_leaks_nothing() {
    let seconds: u64 = env_or("WASMVISOR_SOAK_SECS", 8);
    let plugins: usize = env_or("WASMVISOR_SOAK_PLUGINS", 200);
    let seed: u64 = env_or(
        "WASMVISOR_SOAK_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    let dir = tempfile::tempdir().unwrap();
    let population = Arc::new(Population::write(dir.path(), plugins));
    let state = tempfile::tempdir().unwrap();
    let host = Host::builder()
        .state_store(wasmvisor::RedbStateStore::open(state.path().join("state.redb")).unwrap())
        .compile_cache(state.path().join("cache"))
        .build()
        .unwrap();
    let report = start_plugin_dir(&host, dir.path()).await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.started.len(), population.total());
    let _watcher = watch_plugin_dir(&host, dir.path(), &report, Duration::from_millis(50)).unwrap();
    let admin_server = AdminServer::start(host.clone(), "127.0.0.1:0".parse().unwrap(), "soak")
        .await
        .unwrap();
    let admin = AdminClient::new(&admin_server.addr().to_string(), Some("soak".into()));
    let baseline = resident_bytes();

    let violations = Arc::new(Violations::default());
    let calls = Arc::new(Tally::default());
    let faults = Arc::new(Tally::default());
    let checks = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(baseline));
    let until = Instant::now() + Duration::from_secs(seconds);

    // The monitor: memory, and the number of live instances.
    let monitor = {
        let (host, violations, checks, peak) = (
            host.clone(),
            violations.clone(),
            checks.clone(),
            peak.clone(),
        );
        let actors = population.total() as u64;
        tokio::spawn(async move {
            while Instant::now() < until {
                let resident = resident_bytes();
                peak.fetch_max(resident, Ordering::Relaxed);
                if resident > baseline + MEMORY_BOUND_BYTES {
                    violations.report(format!(
                        "resident memory {} MiB, over the bound of {} MiB above the start",
                        resident >> 20,
                        MEMORY_BOUND_BYTES >> 20
                    ));
                }
                // Each actor has at most its instance and the one replacing
                // it (a hot upgrade) at once.
                let live = host.live_instances();
                if live > 2 * actors {
                    violations.report(format!("{live} live instances for {actors} actors"));
                }
                checks.fetch_add(2, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let counters = Arc::new(population.counters.clone());
    let mut random = Random(seed);
    let callers: Vec<_> = (0..16)
        .map(|_| {
            tokio::spawn(caller(
                host.clone(),
                counters.clone(),
                Random(random.next() | 1),
                until,
                calls.clone(),
                violations.clone(),
            ))
        })
        .collect();
    let driver = tokio::spawn(chaos(
        host.clone(),
        admin,
        dir.path().to_path_buf(),
        population.clone(),
        Random(random.next() | 1),
        until,
        faults.clone(),
        violations.clone(),
    ));

    let mut acknowledged: HashMap<String, Vec<u64>> = HashMap::new();
    for caller in callers {
        for (name, values) in caller.await.unwrap() {
            acknowledged.entry(name).or_default().extend(values);
        }
    }
    let bad = driver.await.unwrap();
    monitor.await.unwrap();

    // The end: settled, then every invariant.
    if !settled(&host, &population).await {
        violations.report("the host did not settle within 60 s after the chaos".into());
    }
    let count_check = || checks.fetch_add(1, Ordering::Relaxed);
    for name in &population.counters {
        count_check();
        let mut values = acknowledged.remove(name).unwrap_or_default();
        let final_value = match call(&host, name, "get", &violations).await {
            Some(Ok(reply)) => String::from_utf8_lossy(&reply).parse::<u64>().unwrap_or(0),
            other => {
                violations.report(format!("`get` on `{name}` at the end: {other:?}"));
                continue;
            }
        };
        values.sort_unstable();
        let acked = values.len() as u64;
        values.dedup();
        if values.len() as u64 != acked {
            violations.report(format!("`{name}` acknowledged the same value twice"));
        }
        if final_value != acked {
            violations.report(format!(
                "`{name}` holds {final_value}, but {acked} increments were acknowledged"
            ));
        }
    }
    let actors = host.actors();
    let running = actors
        .iter()
        .filter(|a| a.status == ActorStatus::Running)
        .count() as u64;
    count_check();
    if host.live_instances() != running {
        violations.report(format!(
            "{} live instances for {running} running actors",
            host.live_instances()
        ));
    }
    for (name, supervisor) in &report.started {
        count_check();
        let status = supervisor.status();
        let doomed = population.doomed.contains(name);
        match (&status, doomed) {
            (SupervisorStatus::GaveUp(_), true) | (SupervisorStatus::Running, false) => {}
            _ => violations.report(format!("supervisor `{name}` is {status:?}")),
        }
    }
    for actor in &actors {
        count_check();
        let doomed = population.doomed.contains(&actor.name);
        if !doomed && actor.status != ActorStatus::Running {
            violations.report(format!("`{}` ends {}", actor.name, actor.status));
        }
    }
    count_check();
    let dead_letters = host.dead_letters().await.unwrap().len() as u64;
    if dead_letters != faults.get("poison message") {
        violations.report(format!(
            "{dead_letters} dead letters for {} poison messages",
            faults.get("poison message")
        ));
    }

    for name in &bad {
        count_check();
        if let Some(actor) = host.actor(name) {
            violations.report(format!(
                "the bad plugin `{name}` runs: {:?}",
                actor.info().status
            ));
        }
    }
    // The watcher lived through every bad file: a good plugin still starts.
    count_check();
    std::fs::copy(guest("counter"), dir.path().join("late.wasm")).unwrap();
    let late = tokio::time::timeout(CALL_DEADLINE, async {
        loop {
            if let Some(actor) = host.actor("late")
                && actor.call("inc").await.is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    if late.await.is_err() {
        violations.report("a plugin dropped in after the chaos did not start".into());
    }

    let restarts: u64 = actors.iter().map(|a| a.restarts).sum();
    let violations = violations.list();
    println!(
        "soak summary: {plugins} plugins, {seconds} s, seed {seed}\n  \
         calls: {} ({})\n  faults injected: {} ({})\n  restarts: {restarts}\n  \
         invariant checks: {}\n  resident memory: {} MiB at the start, {} MiB at the peak\n  \
         violations: {}",
        calls.total(),
        calls.show(),
        faults.total(),
        faults.show(),
        checks.load(Ordering::Relaxed),
        baseline >> 20,
        peak.load(Ordering::Relaxed) >> 20,
        violations.len(),
    );
    for violation in &violations {
        println!("  violation: {violation}");
    }
    admin_server.stop().await;
    host.shutdown().await;
    assert!(violations.is_empty(), "{violations:#?} (seed {seed})");
    assert!(calls.get("ok") > 0 && faults.total() > 0);
}
