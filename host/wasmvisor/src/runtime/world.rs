//! Which world a component was built for, found from its exports at load.
//!
//! The host runs three kinds of component:
//!
//! - a **wasmvisor plugin** exports `wasmvisor:plugin/handler` (and maybe
//!   `health`, `lifecycle`, `snapshot`, `job`): an actor that handles
//!   messages;
//! - a **`wasi:cli` command** exports `wasi:cli/run`: a program with
//!   `fn main`, built with no SDK (`cargo build --target wasm32-wasip2`,
//!   componentize-py, jco, TinyGo, ...). Each instance runs `run` once, with
//!   the arguments, environment and stdio its child spec gives, and ends as
//!   the program ends;
//! - a **`wasi:http` proxy** exports `wasi:http/incoming-handler`: what
//!   `wasmtime serve` and Spin run.
//!
//! A component that exports the handler is a plugin whatever else it
//! exports. One that is none of the three is refused, naming the exports it
//! has and the worlds it could target.

use wasmtime::component::{Component, types::ComponentItem};

/// The world a component targets, as the host runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// A wasmvisor plugin: exports `wasmvisor:plugin/handler`.
    Plugin,
    /// A `wasi:cli/command` program: exports `wasi:cli/run`.
    Command,
    /// A `wasi:http/proxy` handler: exports `wasi:http/incoming-handler`.
    HttpProxy,
}

impl World {
    /// The short name `ps`, `inspect` and the admin API show: `plugin`,
    /// `command` or `http-proxy`.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Plugin => "plugin",
            World::Command => "command",
            World::HttpProxy => "http-proxy",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The interface name prefixes that tell the worlds apart (any version).
const PLUGIN_EXPORT: &str = "wasmvisor:plugin/handler@";
const CLI_EXPORT: &str = "wasi:cli/run@0.2";
const HTTP_EXPORT: &str = "wasi:http/incoming-handler@0.2";

/// The world `component` targets, from the names of its exports; the
/// reason it is refused when it targets none the host runs.
pub(crate) fn detect(component: &Component) -> Result<World, String> {
    let engine = component.engine();
    let exports: Vec<(String, bool)> = component
        .component_type()
        .exports(engine)
        .map(|(name, item)| {
            (
                name.to_owned(),
                matches!(item.ty, ComponentItem::ComponentInstance(_)),
            )
        })
        .collect();
    let has = |prefix: &str| exports.iter().any(|(name, _)| name.starts_with(prefix));
    if has(PLUGIN_EXPORT) {
        Ok(World::Plugin)
    } else if has(CLI_EXPORT) {
        Ok(World::Command)
    } else if has(HTTP_EXPORT) {
        Ok(World::HttpProxy)
    } else {
        Err(none_of_the_worlds(&exports))
    }
}

/// Why a component that targets no world the host runs is refused.
fn none_of_the_worlds(exports: &[(String, bool)]) -> String {
    let listed = if exports.is_empty() {
        "it exports nothing".to_owned()
    } else {
        let names: Vec<String> = exports
            .iter()
            .map(|(name, instance)| match instance {
                true => format!("`{name}`"),
                false => format!("`{name}` (a function)"),
            })
            .collect();
        format!("its exports are {}", names.join(", "))
    };
    format!(
        "is not a component the host can run: {listed}. The host runs a wasmvisor plugin \
         (export `wasmvisor:plugin/handler`, the `plugin` world in wit/), a `wasi:cli/command` \
         program (export `wasi:cli/run`, as `cargo build --target wasm32-wasip2` makes of \
         `fn main`) or a `wasi:http/proxy` handler (export `wasi:http/incoming-handler`)"
    )
}

#[cfg(test)]
mod tests {
    use super::none_of_the_worlds;

    #[test]
    fn a_component_of_no_world_is_told_what_it_exports_and_what_it_could() {
        let reason = none_of_the_worlds(&[("add".into(), false), ("my:pkg/api".into(), true)]);
        assert!(
            reason.contains("`add` (a function), `my:pkg/api`"),
            "{reason}"
        );
        for world in [
            "wasmvisor:plugin/handler",
            "wasi:cli/run",
            "wasi:http/incoming-handler",
        ] {
            assert!(reason.contains(world), "{reason}");
        }
        assert!(none_of_the_worlds(&[]).contains("exports nothing"));
    }
}
