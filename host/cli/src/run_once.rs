//! `run-once`: runs a `wasi:cli` program once, to its end, and exits with
//! its exit code, its output printed as it was (stdout to stdout, stderr to
//! stderr), so that a job is scriptable. The program is a `.wasm` file, run
//! in this process with its manifest's settings (`NAME.toml` beside it:
//! limits, capabilities, `[program]` args and stdin), or the actor NAME of
//! a running host (`--actor`), run beside its supervised instances.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wasmvisor::{Host, RunOutcome, RunSpec, Stdin, Stdio};
use wasmvisor_admin::RunRequest;

use crate::target::Target;

#[derive(clap::Args)]
pub(crate) struct RunOnceArgs {
    /// The program: a `wasi:cli` component (`fn main` built for
    /// wasm32-wasip2, or any language's command component).
    #[arg(required_unless_present = "actor", conflicts_with = "actor")]
    file: Option<PathBuf>,
    /// Run the program of the actor NAME of a running host instead (its
    /// limits and capabilities), through its admin endpoint.
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
    /// The program's standard input: a file, or `-` for this command's own.
    /// Default: the manifest's `[program] stdin`, else none.
    #[arg(long, value_name = "FILE")]
    stdin: Option<PathBuf>,
    /// Print how it ended as JSON (exit, exit code, output, duration)
    /// instead of its output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
    /// The program's arguments (after `--`); they replace the manifest's.
    #[arg(last = true)]
    args: Vec<String>,
}

pub(crate) async fn run_once(args: RunOnceArgs) -> anyhow::Result<ExitCode> {
    let stdin = match &args.stdin {
        None => None,
        Some(path) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(Stdio::MAX_STDIN_BYTES + 1)
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            anyhow::ensure!(
                bytes.len() as u64 <= Stdio::MAX_STDIN_BYTES,
                "the standard input is over {} MiB, the most a program's stdin may hold",
                Stdio::MAX_STDIN_BYTES >> 20
            );
            Some(Stdin::Bytes(bytes.into()))
        }
        Some(path) => Some(Stdin::File(path.clone())),
    };
    let outcome = match (&args.file, &args.actor) {
        (Some(file), _) => {
            let host = Host::new()?;
            let (child, plugin) = wasmvisor::dir::child_spec_for(&host, file).await?;
            let mut run = RunSpec::for_child(&child);
            if !args.args.is_empty() {
                run = run.args(args.args.clone());
            }
            if let Some(stdin) = stdin {
                run = run.stdin(stdin);
            }
            host.run_once(&plugin, run).await?
        }
        (None, Some(actor)) => {
            let stdin = match stdin {
                None | Some(Stdin::Empty) => None,
                Some(Stdin::File(path)) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                Some(Stdin::Bytes(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            };
            let request = RunRequest {
                args: args.args.clone(),
                stdin,
            };
            args.target.client().run(actor, &request).await?
        }
        (None, None) => anyhow::bail!("name a program file, or an actor with --actor"),
    };
    report(&outcome, args.json)?;
    Ok(ExitCode::from(exit_status(outcome.exit_code)))
}

/// Prints the outcome: the program's output as it was, and a line on
/// stderr when it did not end normally; or all of it as JSON.
fn report(outcome: &RunOutcome, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome)?);
        return Ok(());
    }
    std::io::stdout().write_all(outcome.output.stdout.as_bytes())?;
    std::io::stderr().write_all(outcome.output.stderr.as_bytes())?;
    if outcome.output.truncated {
        eprintln!("wasmvisor: the output was cut off at its bound");
    }
    if !outcome.exit.is_normal() {
        eprintln!(
            "wasmvisor: the program {} (exit code {})",
            outcome.exit, outcome.exit_code
        );
    }
    Ok(())
}

/// A process exit status for `code`: as a shell would see it, 0 to 255.
fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(if code == 0 { 0 } else { 1 })
}
