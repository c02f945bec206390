//! Helpers shared by the integration tests.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use wasmvisor::{ChildSpec, Host, Plugin, SupervisorRef, SupervisorSpec};

/// How long any awaited condition may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The built guest example `name` (a `.wasm` component).
pub fn guest(name: &str) -> PathBuf {
    let path = workspace_root()
        .join("guest-examples/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest `{name}` is not built ({} is missing): run `just guests`",
        path.display()
    );
    path
}

/// Loads the guest example `name` into `host`.
pub async fn plugin(host: &Host, name: &str) -> Plugin {
    match host.load_plugin_file(guest(name)).await {
        Ok(plugin) => plugin,
        Err(error) => panic!("loading guest `{name}`: {error}"),
    }
}

/// Starts a supervisor named `name` with `children`, failing the test on error.
pub async fn supervise(host: &Host, spec: SupervisorSpec) -> SupervisorRef {
    match host.start_supervisor(spec).await {
        Ok(supervisor) => supervisor,
        Err(error) => panic!("starting the supervisor: {error}"),
    }
}

/// A host with one supervisor running the guest `guest` as actor `name`,
/// with the child spec adjusted by `tweak`.
pub async fn single(
    host: &Host,
    name: &str,
    guest: &str,
    tweak: impl FnOnce(ChildSpec) -> ChildSpec,
) -> SupervisorRef {
    let child = tweak(ChildSpec::new(name, plugin(host, guest).await));
    supervise(
        host,
        SupervisorSpec::new(format!("{name}-sup")).child(child),
    )
    .await
}

/// Calls actor `name` and returns the reply as text, failing the test on error.
pub async fn call_ok(host: &Host, name: &str, message: &str) -> String {
    let actor = host
        .actor(name)
        .unwrap_or_else(|| panic!("no actor named `{name}`"));
    match actor.call(message).await {
        Ok(reply) => String::from_utf8_lossy(&reply).into_owned(),
        Err(error) => panic!("`{message}` to `{name}` failed: {error}"),
    }
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Awaits `future`, failing the test after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The next `count` exits and starts, in the order they happened, as
/// `exit NAME` / `start NAME`.
pub async fn lifecycle(
    events: &mut tokio::sync::broadcast::Receiver<wasmvisor::Event>,
    count: usize,
) -> Vec<String> {
    within("lifecycle events", async {
        let mut seen = Vec::new();
        while seen.len() < count {
            match events.recv().await.unwrap() {
                wasmvisor::Event::ActorExited { actor, .. } => seen.push(format!("exit {actor}")),
                wasmvisor::Event::ActorStarted { actor, .. } => seen.push(format!("start {actor}")),
                _ => {}
            }
        }
        seen
    })
    .await
}

/// A small deterministic generator (xorshift): a seed replays a run's
/// choices, and a failure names inputs that can be made again.
#[derive(Clone)]
pub struct Random(pub u64);

impl Random {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound`.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// One of `from`.
    pub fn pick<'a>(&mut self, from: &'a [String]) -> &'a str {
        &from[self.below(from.len())]
    }
}

/// The permission bits of `path` (`0o600`: its owner's only).
#[cfg(unix)]
pub fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The exits published from now on, as (actor, reason), once `count` came.
pub async fn exits(
    events: &mut tokio::sync::broadcast::Receiver<wasmvisor::Event>,
    count: usize,
) -> Vec<(String, wasmvisor::ExitReason)> {
    within("the exits", async {
        let mut exits = Vec::new();
        while exits.len() < count {
            if let wasmvisor::Event::ActorExited { actor, reason, .. } =
                events.recv().await.unwrap()
            {
                exits.push((actor, reason));
            }
        }
        exits
    })
    .await
}

/// A value no store structure looks like, to find in a store file's bytes.
pub const MARKER: &[u8] = b"wasmvisor-damage-marker-0123456789abcdef";

/// The ways a store file is damaged behind the host's back, each applied
/// to a copy of `healthy` (a store file whose data holds [`MARKER`]).
pub fn damaged_copies(healthy: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    let bytes = std::fs::read(healthy).unwrap();
    let at = bytes
        .windows(MARKER.len())
        .position(|window| window == MARKER)
        .expect("the marker is in the store file");
    let mut flipped = bytes.clone();
    flipped[at + 7] ^= 0x20;
    vec![
        ("empty", Vec::new()),
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("zeroed", vec![0; bytes.len()]),
        ("bit-flipped", flipped),
    ]
}

/// Makes a store file at `path` whose actor `keeper` holds [`MARKER`].
pub async fn store_with_marker(path: &std::path::Path) {
    use wasmvisor::StateStore;
    let store = wasmvisor::RedbStateStore::open(path).unwrap();
    let changes = wasmvisor::state::Changes {
        base_version: 0,
        writes: [("kept".to_owned(), Some(MARKER.to_vec()))].into(),
        snapshot: None,
    };
    store.commit("keeper", changes).await.unwrap();
}
