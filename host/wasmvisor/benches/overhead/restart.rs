//! A restart: a crashing message, then the next message answered with the
//! state restored, against the floor of a state read, an instantiation and
//! a call.

use std::collections::BTreeMap;
use std::time::Instant;

use ::wasmvisor::{MemoryStateStore, StateStore};

use crate::RESTARTS;
use crate::floor::RawCounter;
use crate::harness::{host_with, one_counter, percentile, pool_label};
use crate::report::{Row, Rows, human_duration};

pub(crate) async fn restart(counter: &[u8], pool: Option<u32>, rows: &mut Rows) {
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
