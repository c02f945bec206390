//! A directory of plugins: every `NAME.wasm` in it becomes an actor named
//! `NAME`.
//!
//! A plugin runs under a supervisor of its own, so that one plugin that
//! keeps crashing (and exhausts its restart intensity) never stops the
//! others, unless `wasmvisor.toml` puts it in a group: plugins that depend
//! on each other share one supervisor with a strategy (see `manifest` for
//! both files). `NAME.toml` beside a plugin sets its restart type, shutdown,
//! limits, health checks, config and restart policy.
//!
//! A file that cannot be loaded, or whose manifest is broken, is reported
//! with the file and the cause, and skipped; the other plugins start anyway.
//! A broken `wasmvisor.toml` is reported too, and every plugin then runs
//! under its own supervisor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{HOST_CONFIG_FILE, HostConfig, Manifest};
use crate::error::Error;
use crate::host::Host;
use crate::runtime::{Plugin, World};
use crate::spec::{ChildSpec, RestartType, Runs};
use crate::supervisor::SupervisorRef;

/// What starting a plugin directory did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DirReport {
    /// The plugins that run, by actor name, with their supervisors (a
    /// group's supervisor for plugins in a group).
    pub started: Vec<(String, SupervisorRef)>,
    /// One error per file that could not be loaded or started.
    pub failed: Vec<Error>,
    /// The child spec each started plugin runs from, by name (for the
    /// directory watcher).
    pub(crate) specs: BTreeMap<String, ChildSpec>,
}

/// Loads every `*.wasm` file of `dir` (in name order), with its manifest,
/// and starts the plugins: groups from `wasmvisor.toml` first (in the order
/// they are written), then every other plugin under its own supervisor. A
/// plugin without a manifest is permanent, or transient if it is a job
/// (exports `job`).
///
/// # Errors
///
/// Only when `dir` itself cannot be read; a bad plugin, manifest or config
/// file is reported in [`DirReport::failed`] instead.
pub async fn start_plugin_dir(host: &Host, dir: &Path) -> Result<DirReport, Error> {
    start_plugin_dir_with_progress(host, dir, |_, _| {}).await
}

/// [`start_plugin_dir`], calling `loaded(done, total)` after each plugin
/// file is loaded (compiling is what takes time at start-up): for a
/// progress bar.
///
/// # Errors
///
/// As [`start_plugin_dir`].
pub async fn start_plugin_dir_with_progress(
    host: &Host,
    dir: &Path,
    mut loaded: impl FnMut(usize, usize),
) -> Result<DirReport, Error> {
    let mut report = DirReport::default();
    let config = HostConfig::for_dir(dir).unwrap_or_else(|error| {
        report.failed.push(error);
        HostConfig::default()
    });

    let mut children: BTreeMap<String, (ChildSpec, Manifest)> = BTreeMap::new();
    let files = wasm_files(dir)?;
    let total = files.len();
    for (done, path) in files.into_iter().enumerate() {
        match load_child(host, &path).await {
            Ok((name, child, manifest)) => {
                children.insert(name, (child, manifest));
            }
            Err(error) => report.failed.push(error),
        }
        loaded(done + 1, total);
    }

    for group in &config.groups {
        let mut spec = group.supervisor();
        let mut members = Vec::new();
        for name in &group.plugins {
            match children.remove(name) {
                Some((child, _)) => {
                    report.specs.insert(name.clone(), child.clone());
                    spec = spec.child(child);
                    members.push(name.clone());
                }
                None => report.failed.push(Error::Load {
                    path: dir.join(HOST_CONFIG_FILE),
                    reason: format!(
                        "group `{}` lists plugin `{name}`, but {name}.wasm is missing or did not load; \
                         the group starts without it",
                        group.name
                    ),
                }),
            }
        }
        match host.start_supervisor(spec).await {
            Ok(supervisor) => report
                .started
                .extend(members.into_iter().map(|name| (name, supervisor.clone()))),
            Err(error) => report.failed.push(Error::Load {
                path: dir.join(HOST_CONFIG_FILE),
                reason: format!("group `{}`: {error}", group.name),
            }),
        }
    }

    for (name, (child, manifest)) in children {
        report.specs.insert(name.clone(), child.clone());
        let spec = manifest.own_supervisor(&name).child(child);
        match host.start_supervisor(spec).await {
            Ok(supervisor) => report.started.push((name, supervisor)),
            Err(error) => report.failed.push(Error::Load {
                path: dir.join(format!("{name}.wasm")),
                reason: error.to_string(),
            }),
        }
    }
    Ok(report)
}

/// Loads the component `path` and its manifest (`NAME.toml` beside it) as
/// the plugin directory would: the child spec named after the file, checked,
/// and the plugin. For a one-off run of a program with its manifest's
/// settings (`wasmvisor run-once`).
///
/// # Errors
///
/// [`Error::Load`], naming the file or its manifest and the cause.
pub async fn child_spec_for(host: &Host, path: &Path) -> Result<(ChildSpec, Plugin), Error> {
    let (_, child, _) = load_child(host, path).await?;
    match &child.runs {
        Runs::Plugin(plugin) => Ok((child.clone(), plugin.clone())),
        Runs::Supervisor(_) => Err(Error::Load {
            path: path.to_path_buf(),
            reason: "names a supervisor, not a component".into(),
        }),
    }
}

/// Loads one plugin and its manifest into a child spec named after it.
pub(crate) async fn load_child(
    host: &Host,
    path: &Path,
) -> Result<(String, ChildSpec, Manifest), Error> {
    let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
        return Err(Error::Load {
            path: path.to_path_buf(),
            reason: "the file name is not valid UTF-8, so it cannot name an actor".into(),
        });
    };
    let found = Manifest::read_for(path)?;
    // A spec refused below is blamed on the manifest if there is one.
    let blamed = match found {
        Some(_) => Manifest::path_for(path),
        None => path.to_path_buf(),
    };
    let manifest = found.unwrap_or_default();
    let plugin = host.load_plugin_file(path).await?;
    // A job, or a `wasi:cli` program: done once it ends well.
    let restart = if plugin.exports().job || plugin.world() == World::Command {
        RestartType::Transient
    } else {
        RestartType::Permanent
    };
    let plugin_dir = path.parent().unwrap_or(Path::new("."));
    let child = manifest.child(
        ChildSpec::new(name.clone(), plugin).restart(restart),
        plugin_dir,
    );
    // The defaults are valid: a spec that is not came from the manifest, so
    // the error names it (and the value), or the plugin when it has none
    // (its name is refused).
    let checked = child
        .validate()
        .and_then(|()| manifest.own_supervisor(&name).validate());
    if let Err(error) = checked {
        let reason = match error {
            Error::InvalidSpec { reason, .. } => reason,
            other => other.to_string(),
        };
        return Err(Error::Load {
            path: blamed,
            reason,
        });
    }
    Ok((name, child, manifest))
}

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::host(format!("reading plugin directory {}", dir.display()), e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        // Anything named `*.wasm` but hidden files (temporary copies): a
        // directory or a broken link by that name is reported, not skipped.
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "wasm")
                && !path
                    .file_name()
                    .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."))
        })
        .collect();
    files.sort();
    Ok(files)
}
