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
//! | `NAME.wasm` with other contents          | compiled aside, then a hot upgrade (see [`SupervisorRef::upgrade_child`](crate::SupervisorRef::upgrade_child)); if it does not load or the upgrade is refused, the running version goes on |
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

use super::manifest::{HOST_CONFIG_FILE, HostConfig, MANIFEST_EXTENSION, Manifest};
use super::plugin_dir::{DirReport, load_child};
use crate::error::{ChildError, Error};
use crate::events::Event;
use crate::host::Host;
use crate::runtime::{content_hash, read_plugin_file};
use crate::spec::{ChildSpec, Runs, SupervisorSpec};
use crate::supervisor::{SupervisorRef, SupervisorStatus};

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
    /// What it was started from (to start it again if new settings fail).
    loaded: Loaded,
}

/// A plugin loaded from its files, ready to start.
#[derive(Clone)]
struct Loaded {
    child: ChildSpec,
    /// The supervisor it gets when it is not in a group.
    own_supervisor: SupervisorSpec,
    /// Its manifest's contents.
    manifest: Option<Vec<u8>>,
    /// Its version (content hash).
    version: String,
}

/// Starts watching `dir`, whose plugins `report` says were started by
/// [`start_plugin_dir`](super::start_plugin_dir). Changes are applied once a
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
        rejected: HashMap::new(),
    };
    for (name, supervisor) in &report.started {
        let own = !state.in_group(name);
        let Some(child) = report.specs.get(name).cloned() else {
            continue;
        };
        let version = match &child.runs {
            Runs::Plugin(plugin) => plugin.version().to_owned(),
            Runs::Supervisor(_) => String::new(),
        };
        let manifest_path = state.manifest_path(name);
        let own_supervisor = Manifest::for_plugin(&state.wasm_path(name))
            .map(|m| m.own_supervisor(name))
            .unwrap_or_else(|_| SupervisorSpec::new(name.clone()));
        state.running.insert(
            name.clone(),
            Running {
                supervisor: supervisor.clone(),
                own,
                loaded: Loaded {
                    child,
                    own_supervisor,
                    manifest: std::fs::read(manifest_path).ok(),
                    version,
                },
            },
        );
    }

    // Everything is looked at once: files that changed while the plugins
    // were loading (before the watch began) are caught up with. Unchanged
    // ones are left alone, and the ones that failed at start (already
    // reported) wait for their next change.
    let failed: Vec<String> = report
        .failed
        .iter()
        .filter_map(|error| match error {
            Error::Load { path, .. } => plugin_name(path),
            _ => None,
        })
        .collect();
    let initial: HashMap<String, Instant> = state
        .running
        .keys()
        .cloned()
        .chain(
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|entry| plugin_name(&entry.path())),
        )
        .filter(|name| !failed.contains(name))
        .map(|name| (name, Instant::now()))
        .collect();
    let task = tokio::spawn(async move {
        let mut pending = initial;
        let mut tick = tokio::time::interval(
            settle
                .min(Duration::from_millis(100))
                .max(Duration::from_millis(10)),
        );
        loop {
            tokio::select! {
                event = changes.recv() => match event {
                    // Opening or reading a file changes nothing: the
                    // watcher's own reads would otherwise bring it back to
                    // the file again and again.
                    Some(Ok(event)) if matches!(event.kind, notify::EventKind::Access(_)) => {}
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
    /// What was last reported of each rejected plugin (its files' hashes and
    /// the reason), so that it is reported once per change.
    rejected: HashMap<String, (Option<String>, Option<String>, String)>,
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
            match self.load(name, manifest).await {
                Ok(loaded) => {
                    if let Err(error) = self.start(name, loaded).await {
                        self.reject(name, error);
                    }
                }
                Err(error) => self.reject(name, error),
            }
            return;
        };
        if running.loaded.manifest != manifest {
            self.reconfigure(name, manifest).await;
            return;
        }
        self.upgrade(name, &wasm).await;
    }

    /// Restarts `name` with its changed manifest: checked before the running
    /// plugin is stopped, and rolled back if the new settings do not start.
    async fn reconfigure(&mut self, name: &str, manifest: Option<Vec<u8>>) {
        let loaded = match self.load(name, manifest).await {
            Ok(loaded) => loaded,
            Err(error) => {
                self.reject(
                    name,
                    format!("{error}; it runs on with its previous settings"),
                );
                return;
            }
        };
        tracing::info!(
            actor = name,
            "manifest changed: restarting with its new settings"
        );
        let previous = self.remove(name).await;
        if let Err(error) = self.start(name, loaded).await {
            self.reject(name, format!("{error}; back to its previous settings"));
            if let Some(previous) = previous
                && let Err(error) = self.start(name, previous.loaded).await
            {
                self.reject(name, error);
            }
        }
    }

    /// Compiles the new contents of `wasm` aside and upgrades the actor.
    async fn upgrade(&mut self, name: &str, wasm: &Path) {
        let bytes = match read_plugin_file(wasm) {
            Ok(bytes) => bytes,
            Err(reason) => {
                tracing::error!("{}: {reason}", wasm.display());
                return;
            }
        };
        let Some(running) = self.running.get(name) else {
            return;
        };
        if content_hash(&bytes) == running.loaded.version {
            return;
        }
        let plugin = match self.host.load_plugin(wasm, bytes).await {
            Ok(plugin) => plugin,
            Err(error) => {
                self.reject(name, format!("{error}; the running version goes on"));
                return;
            }
        };
        let Some(running) = self.running.get_mut(name) else {
            return;
        };
        match running.supervisor.upgrade_child(name, plugin.clone()).await {
            Ok(()) => {
                tracing::info!(actor = name, version = plugin.version(), "upgraded");
                running.loaded.version = plugin.version().to_owned();
                running.loaded.child.runs = Runs::Plugin(plugin);
            }
            // Its supervisor gave up on it (or it is gone): nothing runs to
            // hand over from, so the new version simply starts afresh.
            Err(ChildError::SupervisorDown(_) | ChildError::NotFound(_)) => {
                let mut loaded = running.loaded.clone();
                loaded.version = plugin.version().to_owned();
                loaded.child.runs = Runs::Plugin(plugin);
                self.remove(name).await;
                if let Err(error) = self.start(name, loaded).await {
                    self.reject(name, error);
                }
            }
            // The actor published why (`upgrade-failed`).
            Err(error) => tracing::error!(actor = name, "{error}"),
        }
    }

    /// Loads `NAME.wasm` with its manifest (whose contents are `manifest`).
    async fn load(&self, name: &str, manifest: Option<Vec<u8>>) -> Result<Loaded, String> {
        let (_, child, plugin_manifest) = load_child(&self.host, &self.wasm_path(name))
            .await
            .map_err(|e| e.to_string())?;
        let version = match &child.runs {
            Runs::Plugin(plugin) => plugin.version().to_owned(),
            Runs::Supervisor(_) => String::new(),
        };
        Ok(Loaded {
            child,
            own_supervisor: plugin_manifest.own_supervisor(name),
            manifest,
            version,
        })
    }

    /// Starts a loaded plugin: in its group's supervisor if its group runs,
    /// else under a supervisor of its own.
    async fn start(&mut self, name: &str, loaded: Loaded) -> Result<(), String> {
        let group = self.config.group_of(name).map(|g| g.name.clone());
        // The group's supervisor, if it runs (one that gave up cannot take
        // children; the plugin then runs on its own).
        let group_supervisor = group.as_ref().and_then(|group| {
            self.host
                .supervisors()
                .into_iter()
                .find(|s| s.name() == group && s.status() == SupervisorStatus::Running)
        });
        let wasm = self.wasm_path(name);
        let failed = |error: String| format!("{}: {error}", wasm.display());
        let (supervisor, own) = match group_supervisor {
            Some(supervisor) => {
                supervisor
                    .start_child(loaded.child.clone())
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (supervisor, false)
            }
            None => {
                let spec = loaded.own_supervisor.clone().child(loaded.child.clone());
                let supervisor = self
                    .host
                    .start_supervisor(spec)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (supervisor, true)
            }
        };
        tracing::info!(actor = name, version = loaded.version, "plugin started");
        self.running.insert(
            name.to_owned(),
            Running {
                supervisor,
                own,
                loaded,
            },
        );
        Ok(())
    }

    /// Reports a plugin file that could not be loaded or started, once per
    /// contents of its files (its `.wasm` and its manifest) and reason.
    fn reject(&mut self, name: &str, reason: String) {
        let read = |path: PathBuf| std::fs::read(path).map(|bytes| content_hash(&bytes)).ok();
        let fingerprint = (
            read(self.wasm_path(name)),
            read(self.manifest_path(name)),
            reason.clone(),
        );
        if self.rejected.get(name) == Some(&fingerprint) {
            return;
        }
        self.rejected.insert(name.to_owned(), fingerprint);
        self.host.publish(Event::PluginRejected {
            plugin: name.to_owned(),
            reason,
        });
    }

    /// Stops a plugin (its file is gone, or it restarts with new settings);
    /// its state stays in the store. Returns what it ran.
    async fn remove(&mut self, name: &str) -> Option<Running> {
        let running = self.running.remove(name)?;
        if running.own {
            self.host.stop_supervisor(&running.supervisor).await;
        } else {
            let _ = running.supervisor.terminate_child(name).await;
            let _ = running.supervisor.delete_child(name).await;
        }
        tracing::info!(actor = name, "plugin stopped, its state kept");
        Some(running)
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
