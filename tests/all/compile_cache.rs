//! The compile cache: compiled components kept on disk across hosts, read
//! back by the next host (not just written), and a damaged entry rebuilt
//! instead of trusted.

use std::path::{Path, PathBuf};

use wasmvisor::Host;

use crate::common::{call_ok, single};

/// The cached artifacts under `dir` (not the cache's bookkeeping files:
/// usage statistics, hidden work files).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_none_or(|ext| ext != "stats")
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            {
                found.push(path);
            }
        }
    }
    found
}

/// Runs a host with the compile cache in `cache` on the counter until it
/// answers, and returns how its cache did: (hits, misses).
async fn host_on(cache: &Path) -> (u64, u64) {
    let host = Host::builder().compile_cache(cache).build().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let stats = host.compile_cache_stats().unwrap();
    host.shutdown().await;
    (stats.hits, stats.misses)
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_plugins_are_cached_read_back_and_a_damaged_entry_is_rebuilt() {
    let parent = tempfile::tempdir().unwrap();
    let cache = parent.path().join("cache");
    let cache = cache.as_path();
    assert_eq!(host_on(cache).await, (0, 1), "compiled once, and written");
    #[cfg(unix)]
    assert_eq!(crate::common::mode(cache), 0o700, "made for its owner only");
    let cached = entries(cache);
    assert!(!cached.is_empty(), "the compiled plugin is on disk");
    let contents =
        || -> Vec<Vec<u8>> { cached.iter().map(|e| std::fs::read(e).unwrap()).collect() };
    let written = contents();

    // The next host reads it back instead of compiling again.
    assert_eq!(
        host_on(cache).await,
        (1, 0),
        "loaded from the cache, nothing compiled"
    );
    assert_eq!(contents(), written, "a hit leaves the entry as it was");

    // Damage every entry: the next host must not trust them.
    for entry in &cached {
        std::fs::write(entry, b"not a compiled component").unwrap();
    }
    assert_eq!(host_on(cache).await, (0, 1), "a damaged entry is not a hit");
    assert_eq!(Host::new().unwrap().compile_cache_stats(), None);
    for entry in &cached {
        assert_ne!(
            std::fs::read(entry).unwrap(),
            b"not a compiled component",
            "{} was compiled again and replaced",
            entry.display()
        );
    }
}
