//! Watching a plugin directory while the host runs: new plugins start,
//! changed ones are upgraded in place, removed ones stop.
//!
//! The watcher hears about file events from the operating system (through
//! `notify`) and acts on a plugin once its files have been quiet for the
//! *settle time*, so that a file being copied in is not read half-way. What
//! it does then depends on what is on disk compared with what runs:
//!
//! | on disk                                  | what happens                                   |
//! |------------------------------------------|------------------------------------------------|
//! | a new `NAME.wasm`                        | loaded and started (its manifest applies)      |
//! | `NAME.wasm` with other contents          | compiled aside, then a hot upgrade (see [`SupervisorRef::upgrade_child`]); if it does not load or the upgrade is refused, the running version goes on |
//! | `NAME.toml` changed                      | the plugin restarts with its new settings      |
//! | `NAME.wasm` removed                      | the actor is stopped gracefully; its state stays in the store |
//!
//! Writing a new version to a temporary name and renaming it over the old
//! one is atomic and always safe. A file written in place is safe too: if
//! the writer pauses longer than the settle time, the truncated file fails
//! to load (it is reported, and nothing changes) and the next write is
//! picked up. Changes to `wasmvisor.toml` (groups) apply at the next start
//! of the host.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::host::Host;
use crate::manifest::{HOST_CONFIG_FILE, HostConfig, MANIFEST_EXTENSION};
use crate::plugin_dir::{DirReport, load_child};
use crate::supervisor::SupervisorRef;

/// How long a plugin's files must be quiet before the watcher acts, by
/// default.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(500);

/// A running watch of a plugin directory; stops when dropped.
pub struct DirWatcher {
    task: tokio::task::JoinHandle<()>,
    // Dropping it stops the operating system's notifications.
    _watcher: notify::RecommendedWatcher,
}

impl Drop for DirWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One plugin of the directory that runs.
struct Running {
    /// Its supervisor: its own, or its group's.
    supervisor: SupervisorRef,
    /// Whether the supervisor is its own (else a group's, shared).
    own: bool,
    /// The version (content hash) it runs.
    version: String,
    /// Its manifest's contents when it was started.
    manifest: Option<Vec<u8>>,
}

/// Starts watching `dir`, whose plugins `report` says were started by
/// [`start_plugin_dir`](crate::start_plugin_dir). Changes are applied once a
/// plugin's files have been quiet for `settle`.
///
/// # Errors
///
/// [`Error::Host`] when the directory cannot be watched.
pub fn watch_plugin_dir(
    host: &Host,
    dir: &Path,
    report: &DirReport,
    settle: Duration,
) -> Result<DirWatcher, Error> {
    let (events, mut changes) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver only goes away with the watcher.
        let _ = events.send(event);
    })
    .map_err(|e| Error::host(format!("watching {}", dir.display()), e))?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| Error::host(format!("watching {}", dir.display()), e))?;

    let config = HostConfig::for_dir(dir).unwrap_or_default();
    let mut state = DirState {
        host: host.clone(),
        dir: dir.to_path_buf(),
        config,
        running: BTreeMap::new(),
    };
    for (name, supervisor) in &report.started {
        let version = host
            .actor(name)
            .and_then(|actor| actor.info().version)
            .unwrap_or_default();
        let own = !state.in_group(name);
        let manifest = std::fs::read(state.manifest_path(name)).ok();
        state.running.insert(
            name.clone(),
            Running {
                supervisor: supervisor.clone(),
                own,
                version,
                manifest,
            },
        );
    }

    let task = tokio::spawn(async move {
        let mut pending: HashMap<String, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(
            settle
                .min(Duration::from_millis(100))
                .max(Duration::from_millis(10)),
        );
        loop {
            tokio::select! {
                event = changes.recv() => match event {
                    Some(Ok(event)) => {
                        for path in &event.paths {
                            if let Some(name) = plugin_name(path) {
                                pending.insert(name, Instant::now());
                            } else if path.file_name().is_some_and(|f| f == HOST_CONFIG_FILE) {
                                tracing::warn!(
                                    "{} changed: group changes apply when the host starts again",
                                    path.display()
                                );
                            }
                        }
                    }
                    Some(Err(error)) => tracing::error!("watching the plugin directory: {error}"),
                    None => return,
                },
                _ = tick.tick() => {
                    let due: Vec<String> = pending
                        .iter()
                        .filter(|(_, last)| last.elapsed() >= settle)
                        .map(|(name, _)| name.clone())
                        .collect();
                    for name in due {
                        pending.remove(&name);
                        state.reconcile(&name).await;
                    }
                }
            }
        }
    });
    Ok(DirWatcher {
        task,
        _watcher: watcher,
    })
}

/// The plugin a file belongs to: `NAME` for `NAME.wasm` and `NAME.toml`
/// (not `wasmvisor.toml`, not hidden or temporary files).
fn plugin_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    if file.starts_with('.') || file == HOST_CONFIG_FILE {
        return None;
    }
    let (name, extension) = file.rsplit_once('.')?;
    (extension == "wasm" || extension == MANIFEST_EXTENSION).then(|| name.to_owned())
}

/// What the watcher knows of the directory.
struct DirState {
    host: Host,
    dir: PathBuf,
    config: HostConfig,
    running: BTreeMap<String, Running>,
}

impl DirState {
    fn wasm_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wasm"))
    }

    fn manifest_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{MANIFEST_EXTENSION}"))
    }

    fn in_group(&self, name: &str) -> bool {
        self.config.group_of(name).is_some()
    }

    /// Brings the running plugin `name` in line with its files.
    async fn reconcile(&mut self, name: &str) {
        let wasm = self.wasm_path(name);
        if !wasm.is_file() {
            if self.running.contains_key(name) {
                self.remove(name).await;
            }
            return;
        }
        let manifest = std::fs::read(self.manifest_path(name)).ok();
        let Some(running) = self.running.get(name) else {
            self.add(name, manifest).await;
            return;
        };
        if running.manifest != manifest {
            tracing::info!(
                actor = name,
                "manifest changed: restarting with its new settings"
            );
            self.remove(name).await;
            self.add(name, manifest).await;
            return;
        }
        self.upgrade(name, &wasm).await;
    }

    /// Compiles the new contents of `wasm` aside and upgrades the actor.
    async fn upgrade(&mut self, name: &str, wasm: &Path) {
        let bytes = match std::fs::read(wasm) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!("{}: cannot read the file: {error}", wasm.display());
                return;
            }
        };
        let Some(running) = self.running.get_mut(name) else {
            return;
        };
        if crate::loader::content_hash(&bytes) == running.version {
            return;
        }
        let plugin = match self.host.load_plugin(wasm, bytes).await {
            Ok(plugin) => plugin,
            Err(error) => {
                self.reject(name, format!("{error}; the running version goes on"));
                return;
            }
        };
        match running.supervisor.upgrade_child(name, plugin.clone()).await {
            Ok(()) => {
                tracing::info!(actor = name, version = plugin.version(), "upgraded");
                running.version = plugin.version().to_owned();
            }
            Err(error) => tracing::error!(actor = name, "{error}"),
        }
    }

    /// Loads and starts a plugin that is not running.
    async fn add(&mut self, name: &str, manifest: Option<Vec<u8>>) {
        let wasm = self.wasm_path(name);
        let (_, child, plugin_manifest) = match load_child(&self.host, &wasm).await {
            Ok(loaded) => loaded,
            Err(error) => {
                self.reject(name, error.to_string());
                return;
            }
        };
        let version = match &child.kind {
            crate::supervisor::ChildSpecKind::Worker(plugin) => plugin.version().to_owned(),
            crate::supervisor::ChildSpecKind::Supervisor(_) => String::new(),
        };
        let group = self.config.group_of(name).map(|g| g.name.clone());
        let group_supervisor = group.as_ref().and_then(|group| {
            self.host
                .supervisors()
                .into_iter()
                .find(|s| s.name() == group)
        });
        let started = match group_supervisor {
            Some(supervisor) => supervisor
                .start_child(child)
                .await
                .map(|_| (supervisor, false))
                .map_err(|e| e.to_string()),
            None => self
                .host
                .start_supervisor(plugin_manifest.own_supervisor(name).child(child))
                .await
                .map(|supervisor| (supervisor, true))
                .map_err(|e| e.to_string()),
        };
        match started {
            Ok((supervisor, own)) => {
                tracing::info!(actor = name, version, "plugin started");
                self.running.insert(
                    name.to_owned(),
                    Running {
                        supervisor,
                        own,
                        version,
                        manifest,
                    },
                );
            }
            Err(error) => self.reject(name, format!("{}: {error}", wasm.display())),
        }
    }

    /// Reports a plugin file that could not be loaded or started.
    fn reject(&self, name: &str, reason: String) {
        self.host.publish(crate::events::Event::PluginRejected {
            plugin: name.to_owned(),
            reason,
        });
    }

    /// Stops a plugin whose file is gone; its state stays in the store.
    async fn remove(&mut self, name: &str) {
        let Some(running) = self.running.remove(name) else {
            return;
        };
        if running.own {
            self.host.stop_supervisor(running.supervisor.name()).await;
        } else {
            let _ = running.supervisor.terminate_child(name).await;
            let _ = running.supervisor.delete_child(name).await;
        }
        tracing::info!(actor = name, "plugin removed: stopped, its state kept");
    }
}

#[cfg(test)]
mod tests {
    use super::plugin_name;
    use std::path::Path;

    #[test]
    fn only_plugins_and_their_manifests_count() {
        let name = |file: &str| plugin_name(Path::new(file));
        assert_eq!(name("/d/counter.wasm").as_deref(), Some("counter"));
        assert_eq!(name("/d/counter.toml").as_deref(), Some("counter"));
        assert_eq!(name("/d/wasmvisor.toml"), None);
        assert_eq!(name("/d/.counter.wasm.swp"), None);
        assert_eq!(name("/d/counter.wasm.part"), None);
        assert_eq!(name("/d/wasmvisor-state.redb"), None);
    }
}
