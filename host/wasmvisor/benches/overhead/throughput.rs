//! Messages per second through 1, 100 and 10,000 actors, against raw calls
//! on as many raw instances as can run at once, and (for the one actor)
//! against one raw instance shared by as many tasks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;

use crate::floor::{Raw, RawCounter, handler};
use crate::harness::{cores, host_with, median, pool_label, start_counters, workers_label};
use crate::report::{Row, Rows};
use crate::{THROUGHPUT_MESSAGES, THROUGHPUT_ROUNDS};

/// Messages per second through `actors` counter actors, every actor with
/// callers of its own on every core, against the raw call floor: as many
/// raw instances, called in turn by one task per core (one task for one
/// actor, which handles one message at a time).
///
/// With a pool, the floor is dropped before the host starts: two pools of
/// 10,000 slots would not fit under Linux's default cap on memory mappings.
pub(crate) async fn throughput(counter: &[u8], actors: usize, pool: Option<u32>, rows: &mut Rows) {
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
pub(crate) async fn shared_raw_calls_per_second(
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
pub(crate) async fn raw_calls_per_second(
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

/// Calls per second when each of `callers` (one task each; an actor may
/// come several times) calls its actor with `message`, `per_caller` times.
pub(crate) async fn calls_per_second(
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
