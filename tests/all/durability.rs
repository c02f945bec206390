//! Acknowledged state survives `kill -9` of the host: a host process under
//! load from concurrent callers is killed at random moments; after each
//! restart every update whose reply a caller received is there, no update
//! is half-applied, and counters never go backwards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Command;

use crate::cli::{start_host, stop_host};
use crate::common::{guest, within};

const COUNTERS: usize = 4;
const CALLERS_PER_COUNTER: usize = 3;
const KILLS: usize = 3;

/// A delay between 100 and 600 ms, different on every run.
fn random_delay() -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(100 + random % 500)
}

fn parse_pair(reply: &str) -> (u64, u64) {
    let mut parts = reply.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_updates_survive_kill_9_of_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..COUNTERS).map(|i| format!("c{i}")).collect();
    for name in &names {
        std::fs::copy(guest("counter"), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    // The highest value whose reply reached a caller, per counter.
    let acked: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let mut floor: HashMap<String, u64> = HashMap::new();

    for round in 0..KILLS {
        let host = start_host(dir.path()).await;
        let client = host.client();

        // What the restarted host found: nothing acknowledged is missing,
        // nothing went backwards, and no update is half-applied.
        for name in &names {
            let reply = client.call(name, b"pair".to_vec()).await.unwrap();
            let (left, right) = parse_pair(&String::from_utf8(reply).unwrap());
            assert_eq!(
                left, right,
                "round {round}: `{name}` has a half-applied update"
            );
            let acknowledged = acked.lock().unwrap().get(name).copied().unwrap_or(0);
            assert!(
                left >= acknowledged,
                "round {round}: `{name}` lost acknowledged updates: {left} < {acknowledged}"
            );
            let previous = floor.get(name).copied().unwrap_or(0);
            assert!(
                left >= previous,
                "round {round}: `{name}` went backwards: {left} < {previous}"
            );
            floor.insert(name.clone(), left);
        }

        // Load from concurrent callers until the host dies under them.
        let callers: Vec<_> = names
            .iter()
            .flat_map(|name| std::iter::repeat_n(name.clone(), CALLERS_PER_COUNTER))
            .map(|name| {
                let client = client.clone();
                let acked = acked.clone();
                tokio::spawn(async move {
                    let mut calls = 0u32;
                    // Bounded: the kill comes long before this runs out.
                    while calls < 100_000 {
                        let Ok(reply) = client.call(&name, b"pair-add 1".to_vec()).await else {
                            return calls;
                        };
                        let (left, right) = parse_pair(&String::from_utf8(reply).unwrap());
                        assert_eq!(left, right);
                        let mut acked = acked.lock().unwrap();
                        let best = acked.entry(name.clone()).or_insert(0);
                        *best = (*best).max(left);
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        tokio::time::sleep(random_delay()).await;
        let pid = host.child.id().unwrap().to_string();
        let killed = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
        let mut child = host.child;
        within("the killed host to exit", child.wait())
            .await
            .unwrap();
        let mut calls = 0;
        for caller in callers {
            calls += within("a caller to notice", caller).await.unwrap();
        }
        assert!(
            calls > 0,
            "round {round}: the host answered no calls before the kill"
        );
    }

    // A last, clean run checks the final state.
    let host = start_host(dir.path()).await;
    let client = host.client();
    for name in &names {
        let reply = client.call(name, b"pair".to_vec()).await.unwrap();
        let (left, right) = parse_pair(&String::from_utf8(reply).unwrap());
        assert_eq!(left, right);
        assert!(left >= acked.lock().unwrap()[name]);
    }
    stop_host(host).await;
}
