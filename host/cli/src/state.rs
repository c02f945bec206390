//! `wasmvisor state`: inspecting, backing up and restoring a stopped
//! host's state store.

use std::path::{Path, PathBuf};

use wasmvisor::state::backup::{
    StateExport, StoreBackup, backup_store, export_actor, import_actor, restore_store,
};
use wasmvisor::{RedbStateStore, StateError, StateStore};

use crate::STATE_FILE;

#[derive(clap::Subcommand)]
pub(crate) enum StateCommand {
    /// Lists the actors that have state (with STORE only), or one actor's keys.
    List {
        /// The store file, or a plugin directory (its wasmvisor-state.redb).
        store: PathBuf,
        /// The actor whose keys to list.
        actor: Option<String>,
    },
    /// Prints one value, as it is stored.
    Get {
        /// The store file, or a plugin directory.
        store: PathBuf,
        /// The actor.
        actor: String,
        /// The key.
        key: String,
    },
    /// Writes one actor's state to a JSON file (a backup).
    Export {
        /// The store file, or a plugin directory.
        store: PathBuf,
        /// The actor.
        actor: String,
        /// The file to write; `-` for standard output.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Checks every page of a store file and reads every actor in it; exits
    /// non-zero, naming the cause, when the file is damaged.
    Check {
        /// The store file, or a plugin directory.
        store: PathBuf,
    },
    /// Writes every actor's state (and the dead letters) to one JSON file.
    Backup {
        /// The store file, or a plugin directory.
        store: PathBuf,
        /// The file to write; `-` for standard output.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Makes STORE hold what a backup holds. A damaged store is set aside
    /// (kept as FILE.damaged-SECONDS) first; a sound one only with --force
    /// (kept as FILE.replaced-SECONDS).
    Restore {
        /// The store file, or a plugin directory (it need not exist).
        store: PathBuf,
        /// The backup to read.
        #[arg(long, short)]
        input: PathBuf,
        /// Replace a store that is sound (it is set aside, not deleted).
        #[arg(long)]
        force: bool,
    },
    /// Replaces one actor's state with an exported JSON file (a restore).
    Import {
        /// The store file, or a plugin directory.
        store: PathBuf,
        /// The actor (it may differ from the one the file was exported from).
        actor: String,
        /// The file to read.
        #[arg(long, short)]
        input: PathBuf,
    },
}

/// The store file `path` names: itself, or a plugin directory's default one.
fn store_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(STATE_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Opens a stopped host's store: a file, or a plugin directory's default one.
fn open_store(path: &Path) -> anyhow::Result<RedbStateStore> {
    let file = store_file(path);
    if !file.is_file() {
        anyhow::bail!("{}: no such state store", file.display());
    }
    RedbStateStore::open(&file).map_err(|error| match error {
        StateError::InUse { .. } => anyhow::anyhow!(
            "{error}; stop the host first, these tools work on a stopped host's store"
        ),
        StateError::Damaged { .. } => anyhow::anyhow!("{error}\n{}", recovery_hint(&file)),
        other => anyhow::anyhow!("{other}"),
    })
}

/// Opens the store `wasmvisor run` keeps its actors' state in, creating it
/// if there is none. A damaged file stops the host, unless `reset` says to
/// set it aside (never delete it) and start with an empty store.
pub(crate) fn open_for_run(path: &Path, reset: bool) -> anyhow::Result<RedbStateStore> {
    match RedbStateStore::open(path) {
        Err(error @ StateError::Damaged { .. }) if reset => {
            let aside = set_aside(path, "damaged")?;
            tracing::warn!(
                "{error}; --reset-state: it is kept as {} and the host starts with an empty store",
                aside.display()
            );
            Ok(RedbStateStore::open(path)?)
        }
        Err(error @ StateError::Damaged { .. }) => Err(anyhow::anyhow!(
            "{error}\nnothing was changed and no actor was started. {}",
            recovery_hint(path)
        )),
        other => Ok(other?),
    }
}

fn recovery_hint(file: &Path) -> String {
    format!(
        "To go on: `wasmvisor state restore {} -i BACKUP` from a `wasmvisor state backup`, or run \
         the host with --reset-state to set the damaged file aside and start with an empty store \
         (`wasmvisor state import` then restores the actors you exported).",
        file.display()
    )
}

/// Renames a store to `NAME.WHY-SECONDS` beside it.
fn set_aside(path: &Path, why: &str) -> anyhow::Result<PathBuf> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".{why}-{seconds}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|e| {
        anyhow::anyhow!(
            "setting {} aside as {}: {e}",
            path.display(),
            aside.display()
        )
    })?;
    Ok(aside)
}

/// Reads `input` as JSON of `T`; `what` names `T` in the error.
fn read_json<T: serde::de::DeserializeOwned>(input: &Path, what: &str) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(input).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not {what}: {e}", input.display()))
}

/// Writes `json` to `output` (`-`: standard output), for its
/// owner's eyes only: it is actors' state.
fn write_json(output: &Path, json: String) -> anyhow::Result<()> {
    if output.as_os_str() == "-" {
        println!("{json}");
        return Ok(());
    }
    wasmvisor_admin::credentials::write_owner_only(output, (json + "\n").as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", output.display()))
}

/// Runs a `state` subcommand.
pub(crate) async fn state(command: StateCommand) -> anyhow::Result<()> {
    match command {
        StateCommand::List { store, actor: None } => {
            let store = open_store(&store)?;
            for (actor, version) in store.actors().await? {
                println!("{actor}\tversion {version}");
            }
        }
        StateCommand::List {
            store,
            actor: Some(actor),
        } => {
            let store = open_store(&store)?;
            let state = store.load(&actor).await?;
            for (key, value) in &state.entries {
                println!("{key}\t{} bytes", value.len());
            }
        }
        StateCommand::Get { store, actor, key } => {
            let store = open_store(&store)?;
            let state = store.load(&actor).await?;
            let value = state
                .entries
                .get(&key)
                .ok_or_else(|| anyhow::anyhow!("actor `{actor}` has no key `{key}`"))?;
            use std::io::Write;
            std::io::stdout()
                .write_all(value)
                .and_then(|()| std::io::stdout().flush())?;
        }
        StateCommand::Check { store: path } => {
            // Opening checks every page; reading every actor checks that
            // what the pages hold is what the host wrote.
            let store = open_store(&path)?;
            let actors = store.actors().await?;
            let mut entries = 0;
            for (actor, _) in &actors {
                entries += store.load(actor).await?.entries.len();
            }
            println!(
                "{}: ok, {} actors, {entries} entries",
                store.path().display(),
                actors.len()
            );
        }
        StateCommand::Backup { store, output } => {
            let store = open_store(&store)?;
            let backup = backup_store(&store).await?;
            write_json(&output, serde_json::to_string_pretty(&backup)?)?;
            if output.as_os_str() != "-" {
                eprintln!(
                    "backed up {} actors to {}",
                    backup.actors.len(),
                    output.display()
                );
            }
        }
        StateCommand::Restore {
            store,
            input,
            force,
        } => {
            let backup: StoreBackup = read_json(&input, "a wasmvisor state backup")?;
            let file = store_file(&store);
            if file.exists() {
                let why = match RedbStateStore::open(&file) {
                    Err(StateError::Damaged { .. }) => "damaged",
                    // Closed before it is moved aside.
                    Ok(sound) if force => {
                        drop(sound);
                        "replaced"
                    }
                    Ok(_) => anyhow::bail!(
                        "{} is a sound store; pass --force to set it aside and restore the backup \
                         in its place",
                        file.display()
                    ),
                    Err(other) => return Err(other.into()),
                };
                let aside = set_aside(&file, why)?;
                eprintln!("the {why} store is kept as {}", aside.display());
            }
            let restored = RedbStateStore::open(&file)?;
            let count = restore_store(&restored, &backup).await?;
            eprintln!("restored {count} actors into {}", file.display());
        }
        StateCommand::Export {
            store,
            actor,
            output,
        } => {
            let store = open_store(&store)?;
            let export = export_actor(&store, &actor).await?;
            write_json(&output, serde_json::to_string_pretty(&export)?)?;
            if output.as_os_str() != "-" {
                eprintln!(
                    "exported actor `{actor}` ({} entries, version {}) to {}",
                    export.entries.len(),
                    export.version,
                    output.display()
                );
            }
        }
        StateCommand::Import {
            store,
            actor,
            input,
        } => {
            let export: StateExport = read_json(&input, "a wasmvisor state export")?;
            let store = open_store(&store)?;
            let version = import_actor(&store, &actor, &export).await?;
            eprintln!(
                "imported {} entries into actor `{actor}` (now at version {version})",
                export.entries.len()
            );
        }
    }
    Ok(())
}
