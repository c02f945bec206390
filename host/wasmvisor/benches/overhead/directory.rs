//! Starting a directory of distinct plugins with a warm compile cache,
//! against a cold one.

use std::path::Path;
use std::time::{Duration, Instant};

use ::wasmvisor::Host;

use crate::DIR_PLUGINS;
use crate::report::{Row, Rows};

/// Starts a directory of [`DIR_PLUGINS`] distinct plugins with an empty
/// compile cache, then again with the cache that left; returns how many
/// times faster the second start was.
pub(crate) async fn directory_start(counter: &[u8], rows: &mut Rows) -> f64 {
    let plugins = tempfile::tempdir().unwrap();
    for i in 0..DIR_PLUGINS {
        let bytes = with_custom_section(counter, &format!("wasmvisor-bench-{i}"));
        std::fs::write(plugins.path().join(format!("counter-{i}.wasm")), bytes).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let cold = start_dir(plugins.path(), cache.path()).await;
    let warm = start_dir(plugins.path(), cache.path()).await;
    rows.push(Row::times(
        format!("start a directory of {DIR_PLUGINS} plugins, warm compile cache (floor: cold)"),
        warm,
        cold,
    ));
    cold.as_secs_f64() / warm.as_secs_f64()
}

/// `component` with a custom section named `name` appended: the same
/// plugin, with other bytes (so another cache entry).
pub(crate) fn with_custom_section(component: &[u8], name: &str) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0);
    leb128(payload.len(), &mut bytes);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Starts a fresh host on `dir` with the compile cache in `cache`; returns
/// how long loading and starting every plugin took.
pub(crate) async fn start_dir(dir: &Path, cache: &Path) -> Duration {
    let host = Host::builder().compile_cache(cache).build().unwrap();
    let start = Instant::now();
    let report = ::wasmvisor::dir::start_plugin_dir(&host, dir)
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(report.started.len(), DIR_PLUGINS, "{:?}", report.failed);
    host.shutdown().await;
    took
}
