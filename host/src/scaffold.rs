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

/// Where the SDK comes from in the new plugin's `Cargo.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SdkSource {
    /// A path dependency on a checkout of the SDK.
    Path(PathBuf),
    /// The SDK's release on crates.io.
    Registry,
}

impl SdkSource {
    /// The SDK in the source tree this binary was built from, when that
    /// tree is still there; the registry's release otherwise.
    pub(crate) fn default_for_this_build() -> Self {
        let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        if in_tree.join("Cargo.toml").is_file() {
            in_tree.canonicalize().map_or(Self::Registry, Self::Path)
        } else {
            Self::Registry
        }
    }

    fn dependency(&self) -> String {
        match self {
            Self::Path(path) => {
                // A TOML basic string: backslashes and quotes escaped.
                let path = path
                    .display()
                    .to_string()
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"");
                format!("wasmvisor-guest = {{ path = \"{path}\" }}")
            }
            Self::Registry => format!("wasmvisor-guest = \"{}\"", env!("CARGO_PKG_VERSION")),
        }
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
        ("{{wasm_name}}", name.replace('-', "_")),
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

/// `my-plugin` -> `MyPlugin`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
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
        assert_eq!(type_name("my-plugin_2"), "MyPlugin2");
        assert_eq!(type_name("a--b"), "AB");
    }

    #[test]
    fn a_new_plugin_gets_every_file_rendered_and_nothing_is_overwritten() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("hello-world");
        let sdk = SdkSource::Path(PathBuf::from("/opt/sdk \"x\""));
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
        assert!(source.contains("impl Plugin for HelloWorld"), "{source}");
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
    fn the_registry_release_is_a_version_dependency() {
        let dependency = SdkSource::Registry.dependency();
        assert_eq!(
            dependency,
            format!("wasmvisor-guest = \"{}\"", env!("CARGO_PKG_VERSION"))
        );
    }
}
