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

#[tokio::test(flavor = "multi_thread")]
async fn compiled_plugins_are_cached_read_back_and_a_damaged_entry_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let host = Host::builder().compile_cache(cache.path()).build().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let stats = host.compile_cache_stats().unwrap();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 1),
        "compiled once, and written"
    );
    host.shutdown().await;
    let cached = entries(cache.path());
    assert!(!cached.is_empty(), "the compiled plugin is on disk");
    let written: Vec<Vec<u8>> = cached.iter().map(|e| std::fs::read(e).unwrap()).collect();

    // The next host reads it back instead of compiling again.
    let host = Host::builder().compile_cache(cache.path()).build().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let stats = host.compile_cache_stats().unwrap();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 0),
        "loaded from the cache, nothing compiled"
    );
    host.shutdown().await;
    let reread: Vec<Vec<u8>> = cached.iter().map(|e| std::fs::read(e).unwrap()).collect();
    assert_eq!(reread, written, "a hit leaves the entry as it was");

    // Damage every entry: the next host must not trust them.
    for entry in &cached {
        std::fs::write(entry, b"not a compiled component").unwrap();
    }
    let host = Host::builder().compile_cache(cache.path()).build().unwrap();
    single(&host, "counter", "counter", |c| c).await;
    assert_eq!(call_ok(&host, "counter", "inc").await, "1");
    let stats = host.compile_cache_stats().unwrap();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 1),
        "a damaged entry is not a hit"
    );
    host.shutdown().await;
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
