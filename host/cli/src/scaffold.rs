//! `wasmvisor new NAME`: a new Rust plugin, ready to build.
//!
//! Writes a Cargo project on the Rust guest SDK (`wasmvisor-guest`): a
//! stateful counter with JSON messages and a health check, a manifest to
//! copy beside the component, a `.cargo/config.toml` that builds for
//! `wasm32-wasip2`, and a README with the commands from build to a running,
//! supervised plugin. The templates are the files in `scaffold/`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The SDK a new plugin depends on: a `wasmvisor-guest` crate folder.
///
/// By path only: the SDK is not published on crates.io (yet), and its
/// macros read the WIT package from the checkout it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SdkSource(PathBuf);

impl SdkSource {
    /// The SDK at `path`, refused with the reason if `path` is not the
    /// `wasmvisor-guest` crate.
    pub(crate) fn at(path: &Path) -> anyhow::Result<Self> {
        let manifest_path = path.join("Cargo.toml");
        let manifest = fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "{} is not the SDK: no Cargo.toml there (give the `sdk` folder of a wasmvisor checkout)",
                path.display()
            )
        })?;
        let name = toml::from_str::<toml::Table>(&manifest)
            .ok()
            .and_then(|table| {
                table
                    .get("package")?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            });
        if name.as_deref() != Some("wasmvisor-guest") {
            bail!(
                "{} is not the SDK: its package is not `wasmvisor-guest` (give the `sdk` folder of a wasmvisor checkout)",
                manifest_path.display()
            );
        }
        Ok(Self(std::path::absolute(path)?))
    }

    /// The SDK in the source tree this binary was built from.
    pub(crate) fn of_this_build() -> anyhow::Result<Self> {
        let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
        let in_tree = in_tree.canonicalize().unwrap_or(in_tree);
        Self::at(&in_tree)
            .context("the SDK of the source tree wasmvisor was built from is gone; pass --sdk PATH")
    }

    fn dependency(&self) -> String {
        // A TOML basic string: backslashes and quotes escaped.
        let path = self
            .0
            .display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        format!("wasmvisor-guest = {{ path = \"{path}\" }}")
    }
}

/// The files of a new plugin: path inside its folder, template.
const TEMPLATES: [(&str, &str); 6] = [
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.tmpl")),
    (
        ".cargo/config.toml",
        include_str!("scaffold/dot-cargo/config.toml.tmpl"),
    ),
    ("src/lib.rs", include_str!("scaffold/lib.rs.tmpl")),
    ("{{name}}.toml", include_str!("scaffold/manifest.toml.tmpl")),
    ("README.md", include_str!("scaffold/README.md.tmpl")),
    (".gitignore", include_str!("scaffold/gitignore.tmpl")),
];

/// Creates the plugin `name` in the new folder `dir`; returns the files
/// written. Refuses a name that is not a plugin name, and a `dir` that
/// already exists (nothing is overwritten).
pub(crate) fn new_plugin(name: &str, dir: &Path, sdk: &SdkSource) -> anyhow::Result<Vec<PathBuf>> {
    check_name(name)?;
    if dir.exists() {
        bail!(
            "{} already exists: a new plugin needs a new folder",
            dir.display()
        );
    }
    let values = [
        ("{{name}}", name.to_owned()),
        ("{{wasm_name}}", wasm_file_stem(name)),
        ("{{type_name}}", type_name(name)),
        ("{{sdk_dependency}}", sdk.dependency()),
    ];
    let render = |template: &str| {
        values
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(key, value)
            })
    };
    let mut written = Vec::new();
    for (path, template) in TEMPLATES {
        let path = dir.join(render(path));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::write(&path, render(template))
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// The name cargo gives the plugin's component: the crate name with `-`
/// turned into `_` (`my-plugin` builds `my_plugin.wasm`).
pub(crate) fn wasm_file_stem(name: &str) -> String {
    name.replace('-', "_")
}

/// A plugin name is a crate name and an actor name at once: lowercase ASCII
/// letters, digits, `-` and `_`, starting with a letter, at most 64 long.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "`{name}` is not a plugin name: use lowercase letters, digits, `-` and `_`, \
             starting with a letter (at most 64)"
        );
    }
    Ok(())
}

/// `my-counter` -> `MyCounterPlugin`: the suffix keeps the type clear of
/// the template's own names (`Plugin`, `Error`, `Command`, ...).
fn type_name(name: &str) -> String {
    let words: String = name
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    format!("{words}Plugin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_become_types() {
        for bad in ["", "Counter", "9lives", "my plugin", "dots.not", "ünï"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        check_name("my-plugin_2").unwrap();
        assert_eq!(type_name("my-counter_2"), "MyCounter2Plugin");
        assert_eq!(type_name("a--b"), "ABPlugin");
        // The names the template itself uses stay free.
        assert_eq!(type_name("plugin"), "PluginPlugin");
        assert_eq!(type_name("command"), "CommandPlugin");
    }

    #[test]
    fn a_new_plugin_gets_every_file_rendered_and_nothing_is_overwritten() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("hello-world");
        let sdk = SdkSource(PathBuf::from("/opt/sdk \"x\""));
        let files = new_plugin("hello-world", &dir, &sdk).unwrap();
        assert_eq!(files.len(), TEMPLATES.len());
        for file in &files {
            let text = fs::read_to_string(file).unwrap();
            assert!(
                !text.contains("{{"),
                "{} has a placeholder left: {text}",
                file.display()
            );
        }
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(r#"wasmvisor-guest = { path = "/opt/sdk \"x\"" }"#),
            "{manifest}"
        );
        let source = fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(
            source.contains("impl Plugin for HelloWorldPlugin"),
            "{source}"
        );
        assert!(dir.join("hello-world.toml").is_file());
        let readme = fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(
            readme.contains("release/hello_world.wasm ../plugins/hello-world.wasm"),
            "{readme}"
        );

        let again = new_plugin("hello-world", &dir, &sdk)
            .unwrap_err()
            .to_string();
        assert!(again.contains("already exists"), "{again}");
        assert_eq!(fs::read_to_string(dir.join("src/lib.rs")).unwrap(), source);
    }

    #[test]
    fn only_the_sdk_crate_is_accepted_as_the_sdk() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
        SdkSource::at(&sdk).unwrap();
        SdkSource::of_this_build().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let wrong = SdkSource::at(&root).unwrap_err().to_string();
        assert!(
            wrong.contains("its package is not `wasmvisor-guest`"),
            "{wrong}"
        );
        let empty = tempfile::tempdir().unwrap();
        let none = SdkSource::at(empty.path()).unwrap_err().to_string();
        assert!(none.contains("no Cargo.toml there"), "{none}");
    }
}
