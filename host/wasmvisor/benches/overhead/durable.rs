//! Durable commits per second through actors, against raw redb commits.

use std::time::Instant;

use ::wasmvisor::{Host, RedbStateStore};

use crate::harness::start_counters;
use crate::report::{Row, Rows};
use crate::throughput::calls_per_second;
use crate::{COMMITS_PER_ACTOR, CONCURRENT_ACTORS, SERIAL_COMMITS};

/// Durable commits per second, 1 actor and [`CONCURRENT_ACTORS`] at once;
/// returns how many times the second rate is the first.
pub(crate) async fn durable_commits(counter: &[u8], rows: &mut Rows) -> f64 {
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
