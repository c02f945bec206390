//! Each language's counter: its size and its cold start, against Rust's.

use std::time::Instant;

use ::wasmvisor::{ChildSpec, Host, SupervisorSpec};

use crate::harness::guest;
use crate::report::{Row, Rows, human_size};

/// Each language's counter: its size and its cold start, against Rust's.
pub(crate) async fn languages(rows: &mut Rows) {
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
        let mut row = Row::times(
            format!(
                "{language} counter: cold start, compile to first reply (floor: the Rust one's)"
            ),
            took,
            rust_start,
        );
        row.ratio = format!("{:.1}x", took.as_secs_f64() / rust_start.as_secs_f64());
        rows.push(row);
    }
}
