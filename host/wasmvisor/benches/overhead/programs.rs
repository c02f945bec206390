//! A `wasi:cli` program's start to exit: `fn main() { println!("hi") }`
//! (guest-examples/hello) run as a supervised temporary child (started, its
//! exit seen) and as a one-off run (`Host::run_once`), against raw
//! wasmtime instantiating the same command from its pre-instance and
//! calling `run` on a fresh store.

use std::time::Instant;

use ::wasmvisor::{ChildSpec, Event, Host, RestartType, RunSpec, Stdio, SupervisorSpec};
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::floor::Floor;
use crate::harness::{guest, percentile};
use crate::report::{Row, Rows};

/// Runs timed of each.
const RUNS: usize = 200;

pub(crate) async fn programs(rows: &mut Rows) {
    let hello = std::fs::read(guest("hello")).unwrap();
    let floor = Floor::new(None);
    let command = CommandPre::new(floor.pre(&hello)).unwrap();
    let host = Host::new().unwrap();
    let plugin = host.load_plugin("hello", hello).await.unwrap();
    let jobs = host
        .start_supervisor(SupervisorSpec::dynamic("jobs"))
        .await
        .unwrap();
    let mut events = host.subscribe();
    let (mut raw, mut supervised, mut one_off) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let start = Instant::now();
        let mut store = floor.store(Default::default());
        let instance = command.instantiate_async(&mut store).await.unwrap();
        instance
            .wasi_cli_run()
            .call_run(&mut store)
            .await
            .unwrap()
            .unwrap();
        drop(store);
        raw.push(start.elapsed());

        let name = format!("hello-{run}");
        let start = Instant::now();
        jobs.start_child(
            ChildSpec::new(name.clone(), plugin.clone())
                .restart(RestartType::Temporary)
                .stdio(Stdio::new()),
        )
        .await
        .unwrap();
        loop {
            if let Event::ActorExited { actor, reason, .. } = events.recv().await.unwrap()
                && actor == name
            {
                assert!(reason.is_normal(), "{reason}");
                break;
            }
        }
        supervised.push(start.elapsed());

        let start = Instant::now();
        let outcome = host.run_once(&plugin, RunSpec::new("hello")).await.unwrap();
        assert_eq!(outcome.output.stdout, "hi\n");
        one_off.push(start.elapsed());
    }
    host.shutdown().await;
    let floor_p50 = percentile(&mut raw, 0.5);
    rows.push(Row::times(
        format!(
            "`wasi:cli` program, start to exit as a supervised temporary child (p50 of {RUNS}; \
             floor: raw instantiate and `run`)"
        ),
        percentile(&mut supervised, 0.5),
        floor_p50,
    ));
    rows.push(Row::times(
        format!(
            "`wasi:cli` program, one-off run with its output kept (p50 of {RUNS}; floor as above)"
        ),
        percentile(&mut one_off, 0.5),
        floor_p50,
    ));
}
