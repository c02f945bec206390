//! The CPU a sweep of health checks costs, against raw `check` calls.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ::wasmvisor::{ChildSpec, HealthSpec, Limits, SupervisorSpec};

use crate::floor::{Floor, health};
use crate::harness::{guest, host_with, process_cpu};
use crate::report::{Row, Rows};
use crate::{HEALTH_INTERVAL, HEALTH_WINDOW, MANY_ACTORS, MANY_ACTORS_POOL, RAW_SWEEPS};

/// The CPU one sweep of health checks over [`MANY_ACTORS`] actors costs:
/// the CPU of a host whose actors are checked every [`HEALTH_INTERVAL`]
/// less that of the same host whose actors are never checked, per check
/// made, times the actors. The floor: a raw call of `check` on each of as
/// many instances (see [`raw_check_sweep`]).
pub(crate) async fn health_sweep(rows: &mut Rows) {
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
pub(crate) async fn raw_check_sweep(vitals: &[u8]) -> Duration {
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
