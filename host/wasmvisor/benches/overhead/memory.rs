//! Resident memory per idle actor, each row measured in a child process of
//! its own.

use ::wasmvisor::Host;

use crate::harness::{
    guest, max_map_count, memory_mappings, pool_label, resident_bytes, start_counters,
};
use crate::report::{Row, Rows, human_size};

/// The argument that makes the bench binary measure one idle-memory row
/// and print it (see [`idle_memory`]).
pub(crate) const IDLE_MEMORY_CHILD: &str = "--idle-memory-child";

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
pub(crate) async fn idle_memory(
    actors: usize,
    pool: Option<u32>,
    reservation: Option<u64>,
    rows: &mut Rows,
) {
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
pub(crate) async fn idle_memory_child(args: &[String]) {
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
