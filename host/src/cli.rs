//! The `wasmvisor` command line: `run` a plugin directory, and talk to a
//! running host with `call` and `ps` (through its admin endpoint).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::actor::ActorInfo;
use crate::admin::{AdminClient, AdminServer, DEFAULT_ADMIN_ADDR};
use crate::host::Host;
use crate::plugin_dir::start_plugin_dir;
use crate::state::RedbStateStore;

/// The default state file inside the plugin directory.
const STATE_FILE: &str = "wasmvisor-state.redb";

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
    Run {
        /// The plugin directory.
        dir: PathBuf,
        /// The state store file (redb). Default: DIR/wasmvisor-state.redb.
        #[arg(long, conflicts_with = "ephemeral")]
        state: Option<PathBuf>,
        /// Keep state in memory only: it survives crashes, not the host.
        #[arg(long)]
        ephemeral: bool,
        /// The admin endpoint's address (loopback only; port 0 picks one).
        #[arg(long, env = "WASMVISOR_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
        admin: SocketAddr,
    },
    /// Sends MESSAGE (as UTF-8 bytes) to the actor NAME and prints the reply.
    Call {
        /// The actor's name.
        name: String,
        /// The message.
        message: String,
        /// The running host's admin endpoint.
        #[arg(long, env = "WASMVISOR_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
        admin: String,
    },
    /// Lists the running host's actors with status, restarts and health.
    Ps {
        /// The running host's admin endpoint.
        #[arg(long, env = "WASMVISOR_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
        admin: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
            Command::Run {
                dir,
                state,
                ephemeral,
                admin,
            } => run(dir, state, ephemeral, admin).await,
            Command::Call {
                name,
                message,
                admin,
            } => call(&admin, &name, message).await,
            Command::Ps { admin, json } => ps(&admin, json).await,
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

async fn run(
    dir: PathBuf,
    state: Option<PathBuf>,
    ephemeral: bool,
    admin: SocketAddr,
) -> Result<(), String> {
    init_logging();
    let builder = Host::builder();
    let builder = if ephemeral {
        builder
    } else {
        let path = state.unwrap_or_else(|| dir.join(STATE_FILE));
        let store = RedbStateStore::open(&path).map_err(|e| e.to_string())?;
        tracing::info!("state store: {}", path.display());
        builder.state_store(store)
    };
    let host = builder.build().map_err(|e| e.to_string())?;
    let report = start_plugin_dir(&host, &dir)
        .await
        .map_err(|e| e.to_string())?;
    for error in &report.failed {
        tracing::error!("{error}");
    }
    let server = AdminServer::start(host.clone(), admin)
        .await
        .map_err(|e| e.to_string())?;
    let addr = server.addr();
    println!(
        "wasmvisor: {} plugin(s) running from {}, {} failed to load",
        report.started.len(),
        dir.display(),
        report.failed.len()
    );
    println!("admin endpoint: http://{addr}");
    if let Some((name, _)) = report.started.first() {
        // Name the program as it was invoked, so the hint works off PATH too.
        let program = std::env::args()
            .next()
            .unwrap_or_else(|| "wasmvisor".into());
        println!(
            "try: {program} call --admin {addr} {name} <message>   |   {program} ps --admin {addr}"
        );
    }
    wait_for_stop_signal().await;
    println!("wasmvisor: stopping");
    server.stop().await;
    host.shutdown().await;
    println!("wasmvisor: stopped");
    Ok(())
}

async fn call(admin: &str, name: &str, message: String) -> Result<(), String> {
    let reply = AdminClient::new(admin)
        .call(name, message.into_bytes())
        .await?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}

async fn ps(admin: &str, json: bool) -> Result<(), String> {
    let actors = AdminClient::new(admin).actors().await?;
    if json {
        let text = serde_json::to_string_pretty(&actors).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", format_table(&actors));
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
        "LAST EXIT".to_owned(),
    ]];
    for actor in actors {
        rows.push([
            actor.name.clone(),
            actor.status.to_string(),
            actor.restarts.to_string(),
            actor.health.to_string(),
            actor.uptime_ms.map_or_else(
                || "-".to_owned(),
                |ms| format!("{:.1}s", ms as f64 / 1000.0),
            ),
            actor
                .last_exit
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        ]);
    }
    let widths: Vec<usize> = (0..6)
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr; stdout carries the lines scripts read.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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
