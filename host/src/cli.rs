//! The `wasmvisor` command line: `run` a plugin directory, and talk to a
//! running host with `call` and `ps` (through its admin endpoint).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::actor::ActorInfo;
use crate::admin::credentials::{load_or_create_token, read_credentials, remove_addr, write_addr};
use crate::admin::{AdminClient, AdminServer, DEFAULT_ADMIN_ADDR};
use crate::dir_watch::{DEFAULT_SETTLE, watch_plugin_dir};
use crate::host::Host;
use crate::plugin_dir::start_plugin_dir_reporting;
use crate::scaffold::SdkSource;
use crate::state::RedbStateStore;

/// The default state file inside the plugin directory.
const STATE_FILE: &str = "wasmvisor-state.redb";
/// The default compile cache inside the plugin directory.
const COMPILE_CACHE_DIR: &str = "wasmvisor-cache";

#[derive(Parser)]
#[command(
    name = "wasmvisor",
    version,
    about = "Runs WebAssembly components as supervised actors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every NAME.wasm in DIR as a supervised actor named NAME, until Ctrl-C.
    Run(RunArgs),
    /// Sends MESSAGE (as UTF-8 bytes) to the actor NAME and prints the reply.
    Call {
        /// The actor's name.
        name: String,
        /// The message.
        message: String,
        #[command(flatten)]
        target: Target,
    },
    /// Sends MESSAGE to the actor NAME without waiting for a reply.
    Cast {
        /// The actor's name.
        name: String,
        /// The message.
        message: String,
        #[command(flatten)]
        target: Target,
    },
    /// Stops the actor NAME (by its shutdown spec) and starts it again.
    Restart {
        /// The actor's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Stops the actor NAME; it stays down until `start`.
    Stop {
        /// The actor's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Starts the stopped actor NAME.
    Start {
        /// The actor's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Shows everything the host knows about the actor NAME.
    Inspect {
        /// The actor's name.
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Prints the lifecycle events the host kept (its last 1,000), one JSON
    /// object per line, oldest first.
    Events {
        /// Then keep printing events as they happen.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Lists the running host's dead letters (messages that crashed their
    /// actor on every delivery).
    DeadLetters {
        #[command(flatten)]
        target: Target,
    },
    /// Prints the address of the running host's dashboard, with the token
    /// that signs in to it (keep it to yourself).
    Dashboard {
        #[command(flatten)]
        target: Target,
    },
    /// Sends dead letter ID to its actor again and prints the reply.
    Replay {
        /// The dead letter's id (see `dead-letters`).
        id: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Inspects, backs up and restores the state store of a stopped host.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Creates a new Rust plugin NAME (a Cargo project on the wasmvisor-guest
    /// SDK), ready to build with `cargo build --release`.
    New {
        /// The plugin's name (lowercase letters, digits, `-` and `_`).
        name: String,
        /// The folder to create. Default: ./NAME.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The SDK to depend on by path: the `sdk` folder of a wasmvisor
        /// checkout. Default: the one of the source tree wasmvisor was built
        /// from (the SDK is not on crates.io yet).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Lists the running host's actors with status, restarts, health and
    /// version.
    Ps {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// The instance pool of `wasmvisor run`: room for a directory of a
/// thousand plugins, about 4 TiB of address space reserved (not used).
const DEFAULT_INSTANCE_POOL: u32 = 1_000;

/// How `wasmvisor run` runs a plugin directory.
#[derive(clap::Args)]
struct RunArgs {
    /// The plugin directory.
    dir: PathBuf,
    /// The state store file (redb). Default: DIR/wasmvisor-state.redb.
    #[arg(long, conflicts_with = "ephemeral")]
    state: Option<PathBuf>,
    /// Keep state in memory only: it survives crashes, not the host.
    #[arg(long)]
    ephemeral: bool,
    /// Meter fuel, so that manifests can set `limits.fuel_per_call`.
    #[arg(long)]
    fuel: bool,
    /// The admin endpoint's address (loopback only; port 0 picks one).
    #[arg(long, env = "WASMVISOR_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
    admin: SocketAddr,
    /// Do not watch DIR for new, changed and removed plugins.
    #[arg(long)]
    no_watch: bool,
    /// How long a plugin's files must be quiet before a change is applied,
    /// in milliseconds.
    #[arg(long, default_value_t = DEFAULT_SETTLE.as_millis() as u64)]
    settle_ms: u64,
    /// Where compiled plugins are cached. Default: DIR/wasmvisor-cache.
    #[arg(long, conflicts_with = "no_compile_cache")]
    compile_cache: Option<PathBuf>,
    /// Compile every plugin at every start.
    #[arg(long)]
    no_compile_cache: bool,
    /// How many plugin instances may run at once, from a pool reserved at
    /// start (faster restarts, fewer memory mappings; see
    /// `HostBuilder::instance_pool`). 0 maps memory for each instance
    /// instead, with no cap.
    #[arg(long, default_value_t = DEFAULT_INSTANCE_POOL)]
    instance_pool: u32,
    /// Address space reserved for each instance's memory, in MiB, instead of
    /// 4 GiB: guests then check the bounds of memory accesses (slower), and
    /// each pool slot is this large, so many more fit (see
    /// `HostBuilder::memory_reservation`). With a pool, also the most memory
    /// an actor can have.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory_reservation_mib: Option<u64>,
    /// How long a shutdown waits for the messages already queued, in
    /// milliseconds, before it stops the actors.
    #[arg(long, default_value_t = 5000)]
    drain_ms: u64,
    /// Log lines for people (`human`) or one JSON object per line (`json`).
    #[arg(long, env = "WASMVISOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

/// The format of `wasmvisor run`'s log.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// Which running host a command talks to.
#[derive(clap::Args)]
struct Target {
    /// The host's directory (`wasmvisor run DIR`): the CLI reads the admin
    /// address and token the host keeps there.
    #[arg(long, env = "WASMVISOR_DIR", default_value = ".")]
    dir: PathBuf,
    /// The admin endpoint's address. Default: the one the host wrote in
    /// DIR, else 127.0.0.1:7475.
    #[arg(long, env = "WASMVISOR_ADMIN")]
    admin: Option<String>,
    /// The admin token. Default: the one in DIR.
    #[arg(long, env = "WASMVISOR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl Target {
    /// The host's address, and the token to send it.
    fn address_and_token(&self) -> (String, Option<String>) {
        let found = read_credentials(&self.dir);
        // DIR's token goes only where DIR's host is (its address file, or an
        // address given explicitly), never to whatever listens on the
        // default port after that host stopped.
        let (addr, dir_token) = match (&self.admin, found.addr) {
            (Some(addr), _) => (addr.clone(), found.token),
            (None, Some(addr)) => (addr, found.token),
            (None, None) => (DEFAULT_ADMIN_ADDR.to_owned(), None),
        };
        (addr, self.token.clone().or(dir_token))
    }

    fn client(&self) -> AdminClient {
        let (addr, token) = self.address_and_token();
        AdminClient::new(&addr, token)
    }
}

#[derive(Subcommand)]
enum StateCommand {
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

/// Runs the `wasmvisor` command line with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Call {
                name,
                message,
                target,
            } => {
                let reply = target.client().call(&name, message.into_bytes()).await?;
                println!("{}", String::from_utf8_lossy(&reply));
                Ok(())
            }
            Command::Cast {
                name,
                message,
                target,
            } => target.client().cast(&name, message.into_bytes()).await,
            Command::Restart { name, target } => target.client().act(&name, "restart").await,
            Command::Stop { name, target } => target.client().act(&name, "stop").await,
            Command::Start { name, target } => target.client().act(&name, "start").await,
            Command::Inspect { name, target } => inspect(&target.client(), &name).await,
            Command::Events { follow, target } => events(&target.client(), follow).await,
            Command::Ps { json, target } => ps(&target.client(), json).await,
            Command::New { name, dir, sdk } => new_plugin(&name, dir, sdk),
            Command::State { command } => state(command).await,
            Command::DeadLetters { target } => dead_letters(&target.client()).await,
            Command::Dashboard { target } => dashboard(&target),
            Command::Replay { id, target } => {
                let reply = target.client().replay(id).await?;
                println!("{}", String::from_utf8_lossy(&reply));
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<(), String> {
    init_logging(args.log_format);
    let dir = args.dir;
    let mut builder = Host::builder().fuel_metering(args.fuel);
    if !args.ephemeral {
        let path = args.state.unwrap_or_else(|| dir.join(STATE_FILE));
        let store = RedbStateStore::open(&path).map_err(|e| e.to_string())?;
        tracing::info!("state store: {}", path.display());
        builder = builder.state_store(store);
    }
    if !args.no_compile_cache {
        let cache = args
            .compile_cache
            .unwrap_or_else(|| dir.join(COMPILE_CACHE_DIR));
        builder = builder.compile_cache(cache);
    }
    if args.instance_pool > 0 {
        builder = builder.instance_pool(args.instance_pool);
    }
    if let Some(mib) = args.memory_reservation_mib {
        builder = builder.memory_reservation(mib << 20);
    }
    let host = builder.build().map_err(|e| e.to_string())?;
    // The endpoint first: a port in use is reported before anything starts.
    let token = load_or_create_token(&dir)?;
    let server = AdminServer::start(host.clone(), args.admin, &token)
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.addr();
    write_addr(&dir, addr)?;
    // A progress bar while the plugins compile, on a terminal only.
    let progress = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} plugins")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message("loading");
    let report = start_plugin_dir_reporting(&host, &dir, |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })
    .await
    .map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    for error in &report.failed {
        tracing::error!("{error}");
    }
    let watcher = if args.no_watch {
        None
    } else {
        let settle = Duration::from_millis(args.settle_ms);
        match watch_plugin_dir(&host, &dir, &report, settle) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                server.stop().await;
                remove_addr(&dir);
                host.shutdown().await;
                return Err(error.to_string());
            }
        }
    };

    println!(
        "wasmvisor: {} plugin(s) running from {}, {} failed to load",
        report.started.len(),
        dir.display(),
        report.failed.len()
    );
    println!("admin endpoint: http://{addr}");
    // Name the program as it was invoked, so the hints work off PATH too.
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "wasmvisor".into());
    let shown_dir = dir.display();
    println!(
        "dashboard: http://{addr}/ui/ (`{program} dashboard --dir {shown_dir}` prints its sign-in address)"
    );
    if let Some((name, _)) = report.started.first() {
        println!(
            "try: {program} call --dir {shown_dir} {name} <message>   |   {program} ps --dir {shown_dir}"
        );
    }
    wait_for_stop_signal().await;
    // A second Ctrl-C (or SIGTERM) means: do not wait any longer.
    tokio::spawn(async {
        wait_for_stop_signal().await;
        eprintln!("wasmvisor: second signal, exiting without waiting");
        std::process::exit(130);
    });
    // Stop taking work (file changes, requests), let the queued messages
    // be handled within a bound, then stop the tree in reverse order; every
    // commit is already in the store.
    println!("wasmvisor: stopping");
    drop(watcher);
    server.stop().await;
    remove_addr(&dir);
    if !host.drain(Duration::from_millis(args.drain_ms)).await {
        tracing::warn!("messages were still queued after the drain; they are answered `stopped`");
    }
    host.shutdown().await;
    println!("wasmvisor: stopped");
    Ok(())
}

async fn ps(client: &AdminClient, json: bool) -> Result<(), String> {
    let actors = client.actors().await?;
    if json {
        let text = serde_json::to_string_pretty(&actors).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", format_table(&actors));
    }
    Ok(())
}

async fn inspect(client: &AdminClient, name: &str) -> Result<(), String> {
    let detail = client.actor(name).await?;
    let state = client.state(name).await?;
    let keys = state
        .get("entries")
        .and_then(|entries| entries.as_object())
        .map(|entries| entries.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "actor": detail.info,
        "supervisor": detail.supervisor,
        "state": {
            "version": state.get("version"),
            "keys": keys,
        },
    }))
    .map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

async fn events(client: &AdminClient, follow: bool) -> Result<(), String> {
    if follow {
        return client.follow_events(|event| println!("{event}")).await;
    }
    for event in client.recent_events().await? {
        println!("{event}");
    }
    Ok(())
}

/// Prints the dashboard's sign-in address (the token after its `#`: never
/// sent to the host, and dropped from the address bar by the page).
fn dashboard(target: &Target) -> Result<(), String> {
    let (addr, token) = target.address_and_token();
    let Some(token) = token else {
        return Err(format!(
            "no admin token: none in {} (is the host running from there?) and none given with --token",
            target.dir.display()
        ));
    };
    println!("{}", crate::admin::dashboard::sign_in_url(&addr, &token));
    Ok(())
}

async fn dead_letters(client: &AdminClient) -> Result<(), String> {
    let letters = client.dead_letters().await?;
    println!("ID\tACTOR\tATTEMPTS\tLAST CRASH\tMESSAGE");
    for letter in letters {
        let last = letter
            .crashes
            .last()
            .map_or_else(|| "-".to_owned(), ToString::to_string);
        println!(
            "{}\t{}\t{}\t{last}\t{}",
            letter.id,
            letter.actor,
            letter.crashes.len(),
            String::from_utf8_lossy(&letter.message)
        );
    }
    Ok(())
}

/// `wasmvisor new`: writes the plugin and says how to build and run it.
fn new_plugin(name: &str, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> Result<(), String> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let sdk = match sdk {
        Some(path) => SdkSource::at(&path),
        None => SdkSource::of_this_build(),
    }
    .map_err(|e| format!("{e:#}"))?;
    let files = crate::scaffold::new_plugin(name, &dir, &sdk).map_err(|e| format!("{e:#}"))?;
    for file in files {
        println!("created {}", file.display());
    }
    println!(
        "\nBuild it (once: rustup target add wasm32-wasip2):\n    cd {} && cargo build --release\n\
         then copy target/wasm32-wasip2/release/{}.wasm into a plugin directory as {name}.wasm \
         (see its README.md).",
        dir.display(),
        crate::scaffold::wasm_file_stem(name),
    );
    Ok(())
}

/// Opens a stopped host's store: a file, or a plugin directory's default one.
fn open_store(path: &std::path::Path) -> Result<RedbStateStore, String> {
    let file = if path.is_dir() {
        path.join(STATE_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(format!("{}: no such state store", file.display()));
    }
    RedbStateStore::open(&file).map_err(|error| match error {
        crate::state::StateError::InUse { .. } => {
            format!("{error}; stop the host first, these tools work on a stopped host's store")
        }
        other => other.to_string(),
    })
}

async fn state(command: StateCommand) -> Result<(), String> {
    use crate::state::StateStore;
    use crate::state::backup::{StateExport, export_actor, import_actor};
    match command {
        StateCommand::List { store, actor: None } => {
            let store = open_store(&store)?;
            for (actor, version) in store.actors().await.map_err(|e| e.to_string())? {
                println!("{actor}\tversion {version}");
            }
        }
        StateCommand::List {
            store,
            actor: Some(actor),
        } => {
            let store = open_store(&store)?;
            let state = store.load(&actor).await.map_err(|e| e.to_string())?;
            for (key, value) in &state.entries {
                println!("{key}\t{} bytes", value.len());
            }
        }
        StateCommand::Get { store, actor, key } => {
            let store = open_store(&store)?;
            let state = store.load(&actor).await.map_err(|e| e.to_string())?;
            let value = state
                .entries
                .get(&key)
                .ok_or_else(|| format!("actor `{actor}` has no key `{key}`"))?;
            use std::io::Write;
            std::io::stdout()
                .write_all(value)
                .and_then(|()| std::io::stdout().flush())
                .map_err(|e| e.to_string())?;
        }
        StateCommand::Export {
            store,
            actor,
            output,
        } => {
            let store = open_store(&store)?;
            let export = export_actor(&store, &actor)
                .await
                .map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(&export).map_err(|e| e.to_string())?;
            if output.as_os_str() == "-" {
                println!("{json}");
            } else {
                std::fs::write(&output, json + "\n")
                    .map_err(|e| format!("{}: {e}", output.display()))?;
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
            let text =
                std::fs::read_to_string(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let export: StateExport = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a wasmvisor state export: {e}", input.display()))?;
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

fn format_table(actors: &[ActorInfo]) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "STATUS".to_owned(),
        "RESTARTS".to_owned(),
        "HEALTH".to_owned(),
        "UPTIME".to_owned(),
        "VERSION".to_owned(),
        "MEMORY".to_owned(),
        "LAST EXIT".to_owned(),
    ]];
    for actor in actors {
        rows.push([
            actor.name.clone(),
            actor.status.to_string(),
            actor.restarts.to_string(),
            if actor.health_failures > 0 {
                format!(
                    "{} ({} failed in a row)",
                    actor.health, actor.health_failures
                )
            } else {
                actor.health.to_string()
            },
            actor.uptime_ms.map_or_else(
                || "-".to_owned(),
                |ms| format!("{:.1}s", ms as f64 / 1000.0),
            ),
            actor.version.clone().unwrap_or_else(|| "-".to_owned()),
            if actor.memory_bytes == 0 {
                "-".to_owned()
            } else {
                format!("{:.1}MiB", actor.memory_bytes as f64 / f64::from(1 << 20))
            },
            actor
                .last_exit
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    let mut table = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr; stdout carries the lines scripts read. Every line
    // about an actor carries an `actor` field.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &std::path::Path, admin: Option<&str>) -> Target {
        Target {
            dir: dir.to_path_buf(),
            admin: admin.map(str::to_owned),
            token: None,
        }
    }

    #[test]
    fn a_directorys_token_goes_only_where_its_host_is() {
        let dir = tempfile::tempdir().unwrap();
        let token = load_or_create_token(dir.path()).unwrap();
        // The host stopped (no address file): the default port gets no token,
        // whatever listens there now.
        assert_eq!(
            target(dir.path(), None).address_and_token(),
            (DEFAULT_ADMIN_ADDR.to_owned(), None)
        );
        // The address it recorded, or one given on purpose, gets it.
        write_addr(dir.path(), "127.0.0.1:7999".parse().unwrap()).unwrap();
        assert_eq!(
            target(dir.path(), None).address_and_token(),
            ("127.0.0.1:7999".to_owned(), Some(token.clone()))
        );
        assert_eq!(
            target(dir.path(), Some("127.0.0.1:7000")).address_and_token(),
            ("127.0.0.1:7000".to_owned(), Some(token))
        );
    }
}
