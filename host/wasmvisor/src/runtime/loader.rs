//! Loading plugins: bytes -> checked component -> pre-instance.
//!
//! A [`Plugin`] is a component that the host compiled, linked against its
//! imports and checked against the `wasmvisor:plugin` world once. Every
//! instance of it (the first start and every restart) comes from the same
//! cached `InstancePre`, so a restart does no compiling, linking or export
//! lookups. A plugin whose limits ask for a stack size other than the
//! default runs on another engine (see `engines`), and is compiled for it on
//! the first start that needs it, then cached the same way.
//!
//! Each way a file can be wrong gets its own message naming the file, the
//! cause and the fix: not WebAssembly at all, a core module rather than a
//! component, a truncated or corrupt component, imports the host does not
//! provide (a different world), or a missing `handler` export.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::Component;

use super::bindings::{cli_run, handler, health, incoming_handler, job, lifecycle, snapshot};
use super::compiled::{Compiled, ExportIndices, probe};
use super::engine::Engine;
use super::linker::LinkedEngine;
use super::world::{World, detect};
use crate::error::Error;

/// The largest plugin file the host reads (see [`Plugin::MAX_FILE_BYTES`]).
const MAX_PLUGIN_BYTES: u64 = 256 << 20;

/// Reads the plugin file `path`, refusing what is not one: a directory, a
/// link to nothing, or a file over [`Plugin::MAX_FILE_BYTES`]. The error says
/// which (the caller names the file).
pub(crate) fn read_plugin_file(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|error| match std::fs::read_link(path) {
        Ok(target) => format!(
            "is a symbolic link to {}, which cannot be read: {error}",
            target.display()
        ),
        Err(_) => format!("cannot read the file: {error}"),
    })?;
    if !metadata.is_file() {
        return Err("is not a regular file (a directory?); a plugin is one `.wasm` file".into());
    }
    if metadata.len() > MAX_PLUGIN_BYTES {
        return Err(format!(
            "is {} MiB; a plugin file may be at most {} MiB",
            metadata.len() >> 20,
            MAX_PLUGIN_BYTES >> 20
        ));
    }
    std::fs::read(path).map_err(|error| format!("cannot read the file: {error}"))
}

/// The interface every plugin must export.
pub(crate) const HANDLER_INTERFACE: &str = "wasmvisor:plugin/handler@0.1.1";

/// A compiled, checked plugin component, ready to be instantiated any number
/// of times. Cheap to clone. Load one with
/// [`Host::load_plugin_file`](crate::Host::load_plugin_file) or
/// [`Host::load_plugin`](crate::Host::load_plugin).
///
/// ```no_run
/// # async fn example(host: wasmvisor::Host) -> Result<(), Box<dyn std::error::Error>> {
/// let plugin = host.load_plugin_file("counter.wasm").await?;
/// println!("version {}, health check: {}", plugin.version(), plugin.exports().health);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    source: PathBuf,
    /// The start of the SHA-256 of the component's bytes, in hex.
    version: String,
    /// The component's bytes, to compile it for another engine.
    bytes: Arc<[u8]>,
    /// Compiled for the engine it was loaded with.
    loaded: Arc<Compiled>,
    /// Compiled for other engines of the same host, on demand.
    others: Mutex<Vec<Arc<Compiled>>>,
}

/// Which optional exports a plugin has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PluginExports {
    /// `health`: the host probes it on a schedule.
    pub health: bool,
    /// `lifecycle`: `init` at every start, `shutdown` when stopped.
    pub lifecycle: bool,
    /// `snapshot`: snapshotted after every message, restored after a restart.
    pub snapshot: bool,
    /// `job`: `run` is called once per instance; the plugin can finish.
    pub job: bool,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("source", &self.inner.source)
            .field("version", &self.inner.version)
            .field("exports", &self.exports())
            .finish()
    }
}

impl Plugin {
    /// The largest plugin file the host reads (256 MiB): a file larger than
    /// that is refused before it is read, rather than held in memory whole.
    /// Components built from Python or JavaScript weigh tens of MiB.
    pub const MAX_FILE_BYTES: u64 = MAX_PLUGIN_BYTES;

    /// Compiles and checks `bytes`; `source` names them in errors (a path,
    /// or any label).
    pub(crate) async fn load(
        engine: &LinkedEngine,
        source: PathBuf,
        bytes: Vec<u8>,
    ) -> Result<Plugin, Error> {
        check_header(&bytes).map_err(|reason| Error::Load {
            path: source.clone(),
            reason,
        })?;
        let version = content_hash(&bytes);
        let bytes: Arc<[u8]> = bytes.into();
        let loaded = compile(engine, bytes.clone())
            .await
            .map_err(|reason| Error::Load {
                path: source.clone(),
                reason,
            })?;
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                source,
                version,
                bytes,
                loaded: Arc::new(loaded),
                others: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Reads, compiles and checks the component in `path`.
    pub(crate) async fn load_file(engine: &LinkedEngine, path: &Path) -> Result<Plugin, Error> {
        let owned = path.to_path_buf();
        let read = tokio::task::spawn_blocking(move || read_plugin_file(&owned))
            .await
            .unwrap_or_else(|panic| Err(format!("reading the file failed: {panic}")));
        let bytes = read.map_err(|reason| Error::Load {
            path: path.to_path_buf(),
            reason,
        })?;
        Plugin::load(engine, path.to_path_buf(), bytes).await
    }

    /// Where this plugin came from.
    pub fn source(&self) -> &Path {
        &self.inner.source
    }

    /// The component's version: the first 12 hex digits of the SHA-256 of
    /// its bytes. Two plugins with the same version are the same component.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// The world the component targets: a wasmvisor plugin, a `wasi:cli`
    /// command or a `wasi:http` proxy.
    pub fn world(&self) -> World {
        self.inner.loaded.exports.world
    }

    /// Which optional exports the plugin has.
    pub fn exports(&self) -> PluginExports {
        let exports = &self.inner.loaded.exports;
        PluginExports {
            health: exports.health.is_some(),
            lifecycle: exports.lifecycle.is_some(),
            snapshot: exports.snapshot.is_some(),
            job: exports.job.is_some(),
        }
    }

    /// The engine the plugin was loaded with.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.loaded.engine
    }

    /// The plugin compiled for `engine`: the one it was loaded with, or
    /// compiled now (once) for another engine of the same host.
    pub(crate) async fn compiled_for(
        &self,
        linked: &LinkedEngine,
    ) -> Result<Arc<Compiled>, String> {
        let engine = &linked.engine;
        if self.inner.loaded.engine.same(engine) {
            return Ok(self.inner.loaded.clone());
        }
        if let Some(compiled) = self.cached(engine) {
            return Ok(compiled);
        }
        let compiled = Arc::new(compile(linked, self.inner.bytes.clone()).await?);
        let mut others = crate::util::lock(&self.inner.others);
        // Another start may have compiled it meanwhile: keep just one.
        match others.iter().find(|c| c.engine.same(engine)) {
            Some(existing) => Ok(existing.clone()),
            None => {
                others.push(compiled.clone());
                Ok(compiled)
            }
        }
    }

    fn cached(&self, engine: &Engine) -> Option<Arc<Compiled>> {
        crate::util::lock(&self.inner.others)
            .iter()
            .find(|c| c.engine.same(engine))
            .cloned()
    }
}

/// Compiles `bytes` for `engine`, links them against the host's imports and
/// checks every export.
async fn compile(linked: &LinkedEngine, bytes: Arc<[u8]>) -> Result<Compiled, String> {
    let engine = &linked.engine;
    // Compiling is CPU-bound and can take a while: keep it off the async workers.
    let compile_engine = engine.wasmtime().clone();
    let component = tokio::task::spawn_blocking(move || Component::new(&compile_engine, &bytes))
        .await
        .map_err(|e| format!("compilation did not finish: {e}"))?
        .map_err(|e| format!("not a valid WebAssembly component (truncated or corrupt?): {e:#}"))?;

    let pre = linked.linker.instantiate_pre(&component).map_err(|e| {
        format!(
            "imports something the host does not provide; plugins may import only WASI 0.2 \
             and the `wasmvisor:plugin` interfaces of 0.1.1 or earlier: {e:#}"
        )
    })?;
    let world = detect(&component)?;
    let exports = match world {
        World::Plugin => ExportIndices {
            world,
            handler: Some(handler::GuestIndices::new(&pre).map_err(|e| {
                format!(
                    "does not export `{HANDLER_INTERFACE}` as the host knows it (build it \
                     against the `plugin` world in wit/): {e:#}"
                )
            })?),
            cli_run: None,
            http: None,
            health: health::GuestIndices::new(&pre).ok(),
            lifecycle: lifecycle::GuestIndices::new(&pre).ok(),
            snapshot: snapshot::GuestIndices::new(&pre).ok(),
            job: job::GuestIndices::new(&pre).ok(),
        },
        World::Command => ExportIndices {
            world,
            handler: None,
            cli_run: Some(cli_run::GuestIndices::new(&pre).map_err(|e| {
                format!("exports `wasi:cli/run`, but not as WASI 0.2 defines it: {e:#}")
            })?),
            http: None,
            health: None,
            lifecycle: None,
            snapshot: None,
            job: None,
        },
        World::HttpProxy => ExportIndices {
            world,
            handler: None,
            cli_run: None,
            http: Some(incoming_handler::GuestIndices::new(&pre).map_err(|e| {
                format!(
                    "exports `wasi:http/incoming-handler`, but not as WASI 0.2 defines it: {e:#}"
                )
            })?),
            // A proxy may also export wasmvisor's own health check.
            health: health::GuestIndices::new(&pre).ok(),
            lifecycle: None,
            snapshot: None,
            job: None,
        },
    };
    let compiled = Compiled {
        engine: engine.clone(),
        pre,
        exports,
    };
    // Instantiate once, so that exports with the right names but the wrong
    // signatures are reported now, naming the file, rather than at start.
    probe(&compiled).await.map_err(|e| format!("{e:#}"))?;
    Ok(compiled)
}

/// The first 12 hex digits of the SHA-256 of `bytes`.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Tells a component from a core module and from a file that is not
/// WebAssembly at all, before handing it to the compiler.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];
    if bytes.is_empty() {
        return Err("the file is empty (was it copied completely?)".into());
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("not a WebAssembly file (no `\\0asm` header)".into());
    }
    if bytes[4..8] == CORE_MODULE_VERSION {
        return Err("a core WebAssembly module, not a component: build it for \
             `wasm32-wasip2`, or wrap it with `wasm-tools component new`"
            .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_header;

    #[test]
    fn header_check_names_each_kind_of_wrong_file() {
        let reason = |bytes: &[u8]| check_header(bytes).err().unwrap_or_default();
        assert!(reason(b"").contains("empty"));
        assert!(reason(b"hello world").contains("not a WebAssembly file"));
        assert!(reason(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
