//! The `wasmvisor` command line: `run` a plugin directory, and talk to a
//! running host (`call`, `ps`, `restart`, ...) through its admin endpoint.
//! One module per command group; this file parses the command line and
//! hands each command to its module.
//!
//! | command                                   | module            |
//! |-------------------------------------------|-------------------|
//! | `run`                                     | `run.rs`          |
//! | `run-once`                                | `run_once.rs`     |
//! | `call`, `cast`, `restart`, `stop`, `start`, `kill`, `upgrade`, `inspect`, `ps` | `actors.rs` |
//! | `events`                                  | `events.rs`       |
//! | `dead-letters`, `replay`                  | `dead_letters.rs` |
//! | `dashboard`                               | `dashboard.rs`    |
//! | `state list/get/export/import`            | `state.rs`        |
//! | `new`                                     | `new.rs`, `scaffold.rs` |
//!
//! Which host a command talks to is `target.rs`.

mod actors;
mod dashboard;
mod dead_letters;
mod events;
mod new;
mod run;
mod run_once;
mod scaffold;
mod state;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmvisor_admin::Action;

use crate::target::Target;

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
    Run(run::RunArgs),
    /// Runs a `wasi:cli` program once (a .wasm file with its manifest, or
    /// `--actor NAME` of a running host), prints its output and exits with
    /// its exit code: `wasmvisor run-once tool.wasm -- --flag arg`.
    RunOnce(run_once::RunOnceArgs),
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
    /// Upgrades the actor NAME to the component FILE while it runs: the new
    /// version takes over between two messages with the state and the
    /// mailbox, or is refused (a file that does not load, a failed `init`,
    /// `restore` or first health check) and the running version goes on.
    /// Once it took over, it is on probation (the child's `[upgrade]`
    /// settings): a crash or a failed health check until then rolls back
    /// to the running version and the state it had at takeover.
    Upgrade {
        /// The actor's name.
        name: String,
        /// The new version's `.wasm` component.
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Kills the actor or supervisor NAME at once (a supervisor with every
    /// actor below it), with exit reason `killed`: its supervisor restarts
    /// it unless it is temporary.
    Kill {
        /// The actor's or supervisor's name.
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
        command: state::StateCommand,
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
    let result = runtime.block_on(dispatch(cli.command));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `command`; its exit code.
async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    let done = match command {
        // The program's exit code is the command's.
        Command::RunOnce(args) => return run_once::run_once(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Call {
            name,
            message,
            target,
        } => actors::call(&target.client(), &name, message).await,
        Command::Cast {
            name,
            message,
            target,
        } => actors::cast(&target.client(), &name, message).await,
        Command::Restart { name, target } => {
            actors::act(&target.client(), &name, Action::Restart).await
        }
        Command::Stop { name, target } => actors::act(&target.client(), &name, Action::Stop).await,
        Command::Start { name, target } => {
            actors::act(&target.client(), &name, Action::Start).await
        }
        Command::Upgrade { name, file, target } => {
            actors::upgrade(&target.client(), &name, &file).await
        }
        Command::Kill { name, target } => actors::act(&target.client(), &name, Action::Kill).await,
        Command::Inspect { name, target } => actors::inspect(&target.client(), &name).await,
        Command::Events { follow, target } => events::events(&target.client(), follow).await,
        Command::Ps { json, target } => actors::ps(&target.client(), json).await,
        Command::New { name, dir, sdk } => new::new_plugin(&name, dir, sdk),
        Command::State { command } => state::state(command).await,
        Command::DeadLetters { target } => dead_letters::dead_letters(&target.client()).await,
        Command::Dashboard { target } => dashboard::dashboard(&target),
        Command::Replay { id, target } => dead_letters::replay(&target.client(), id).await,
    };
    done.map(|()| ExitCode::SUCCESS)
}
