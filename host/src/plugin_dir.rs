//! A directory of plugins: every `NAME.wasm` in it becomes an actor named
//! `NAME`, each under a supervisor of its own, so that one plugin that keeps
//! crashing (and exhausts its restart intensity) never stops the others.
//!
//! A file that cannot be loaded is reported with the file and the cause, and
//! skipped; the other plugins start anyway.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::host::Host;
use crate::supervisor::{ChildSpec, RestartType, SupervisorRef, SupervisorSpec};

/// What starting a plugin directory did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DirReport {
    /// The plugins that run, by actor name, with their supervisors.
    pub started: Vec<(String, SupervisorRef)>,
    /// One error per file that could not be loaded or started.
    pub failed: Vec<Error>,
}

/// Loads every `*.wasm` file of `dir` (in name order) and starts each as a
/// supervised actor named after the file's stem: permanent, or transient if
/// it is a job (exports `job`).
///
/// # Errors
///
/// Only when `dir` itself cannot be read; a bad plugin file is reported in
/// [`DirReport::failed`] instead.
pub async fn start_plugin_dir(host: &Host, dir: &Path) -> Result<DirReport, Error> {
    let mut report = DirReport::default();
    for path in wasm_files(dir)? {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            report.failed.push(Error::Load {
                path: path.clone(),
                reason: "the file name is not valid UTF-8, so it cannot name an actor".into(),
            });
            continue;
        };
        let plugin = match host.load_plugin_file(&path).await {
            Ok(plugin) => plugin,
            Err(error) => {
                report.failed.push(error);
                continue;
            }
        };
        let restart = if plugin.exports().job {
            RestartType::Transient
        } else {
            RestartType::Permanent
        };
        let spec = SupervisorSpec::new(name.clone())
            .child(ChildSpec::new(name.clone(), plugin).restart(restart));
        match host.start_supervisor(spec).await {
            Ok(supervisor) => report.started.push((name, supervisor)),
            Err(error) => report.failed.push(Error::Load {
                path,
                reason: error.to_string(),
            }),
        }
    }
    Ok(report)
}

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::host(format!("reading plugin directory {}", dir.display()), e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    files.sort();
    Ok(files)
}
