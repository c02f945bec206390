//! One-off runs of a `wasi:cli` program: started with given arguments, run
//! to its end outside any supervisor, answered with its exit code and
//! output. What `wasmvisor run-once` and the admin API's runs do, so that a
//! job is scriptable.
//!
//! A run has the program's sandbox (limits and capabilities, nothing granted
//! by default) and no state: a program keeps what it must in the files it
//! is granted. Its exit code is the one `wasmtime run` gives: 0 for a normal
//! end, the code it exited with, 1 when `run` returned an error or exited
//! with a failure status (which carries no code), and 134 (128 + SIGABRT,
//! as for a process that aborts) for a trap or a limit.

use std::sync::Arc;
use std::time::Instant;

use crate::error::{CrashReason, Error, ExitReason};
use crate::host::Host;
use crate::runtime::{Instance, KillSwitch, Plugin, ProgramOutput, StartError, StartParams, World};
use crate::spec::{Capabilities, ChildSpec, Limits, Output, Stdin, Stdio};
use crate::state::CommittedState;
use crate::util::millis;

/// How a one-off run is set up: the name it is logged under, the command
/// line and streams, the limits and the capabilities.
///
/// ```
/// use wasmvisor::{Capabilities, RunSpec, Stdio};
///
/// let run = RunSpec::new("report")
///     .stdio(Stdio::new().args(["--since", "yesterday"]))
///     .capabilities(Capabilities::new().dir("data", "/data", true));
/// # drop(run);
/// ```
#[derive(Debug, Clone)]
pub struct RunSpec {
    name: String,
    stdio: Stdio,
    limits: Limits,
    capabilities: Capabilities,
}

impl RunSpec {
    /// A run logged as `name` (also the program's `argv[0]`), with no
    /// arguments, an empty stdin, stdout and stderr kept (up to
    /// [`Output::DEFAULT_KEPT_BYTES`] each), default limits and nothing
    /// granted.
    pub fn new(name: impl Into<String>) -> Self {
        RunSpec {
            name: name.into(),
            stdio: Stdio::new().stdout(Output::keep()).stderr(Output::keep()),
            limits: Limits::default(),
            capabilities: Capabilities::default(),
        }
    }

    /// The run of `child`'s program as its spec sets it up: its name,
    /// limits, capabilities, arguments and stdin, with both outputs kept
    /// (up to [`Output::DEFAULT_KEPT_BYTES`] each) wherever the child's go.
    pub fn for_child(child: &ChildSpec) -> Self {
        RunSpec::new(child.id())
            .args(child.stdio.args.iter().cloned())
            .stdin(child.stdio.stdin.clone())
            .limits(child.limits.clone())
            .capabilities(child.capabilities.clone())
    }

    /// Sets the arguments after `argv[0]`, in place of any set before.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stdio.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Sets where standard input comes from.
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdio.stdin = stdin;
        self
    }

    /// Sets the command line and streams (the default keeps both outputs;
    /// an output sent elsewhere is not in the outcome).
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Sets the limits: [`Limits::run_timeout`] bounds the run.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets what the program may reach (nothing by default).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

/// How a one-off run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RunOutcome {
    /// How the run ended, as a supervisor would see it.
    pub exit: ExitReason,
    /// Its exit code, as `wasmtime run` gives it (see
    /// [`RunOutcome::exit_code_for`]).
    pub exit_code: i32,
    /// What it wrote to the outputs its [`Stdio`] keeps.
    pub output: ProgramOutput,
    /// How long it ran, from the start of instantiation, in milliseconds.
    pub duration_ms: u64,
}

impl RunOutcome {
    /// The exit code of a run that ended as `exit` says: 0 for a normal
    /// end, the code it exited with, 1 for a failure without a code, 134
    /// (128 + SIGABRT) for a trap, a limit or a kill.
    pub fn exit_code_for(exit: &ExitReason) -> i32 {
        match exit {
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::ShutdownWith(_) => 0,
            ExitReason::Crash(CrashReason::Exit(code)) => *code,
            ExitReason::Crash(CrashReason::ExitFailure | CrashReason::RunFailed) => 1,
            _ => 134,
        }
    }
}

impl Host {
    /// Runs the `wasi:cli` program of actor `name` once, beside its
    /// supervised instances: the version it runs now, with its limits and
    /// capabilities, its manifest's stdio but `args` and `stdin` in place
    /// of its own, and both outputs kept (up to
    /// [`Output::DEFAULT_KEPT_BYTES`] each).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchActor`] with no such actor, and those of
    /// [`Host::run_once`].
    pub async fn run_actor_once(
        &self,
        name: &str,
        args: Vec<String>,
        stdin: Stdin,
    ) -> Result<RunOutcome, Error> {
        let actor = self
            .actor(name)
            .ok_or_else(|| Error::NoSuchActor(name.to_owned()))?;
        let (spec, plugin) = actor.spec_and_plugin();
        let plugin = plugin.ok_or_else(|| Error::NoSuchActor(name.to_owned()))?;
        let run = RunSpec::for_child(&spec).args(args).stdin(stdin);
        self.run_once(&plugin, run).await
    }

    /// Runs the `wasi:cli` program `plugin` once, as `run` says, to its end;
    /// answers its exit code and kept output. A crash is an outcome, not an
    /// error.
    ///
    /// ```no_run
    /// # async fn example(host: wasmvisor::Host) -> Result<(), Box<dyn std::error::Error>> {
    /// use wasmvisor::{RunSpec, Stdio};
    ///
    /// let tool = host.load_plugin_file("tool.wasm").await?;
    /// let outcome = host
    ///     .run_once(&tool, RunSpec::new("tool").stdio(Stdio::new().arg("--version").stdout(wasmvisor::Output::keep())))
    ///     .await?;
    /// println!("exit {}: {}", outcome.exit_code, outcome.output.stdout);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSpec`] when `plugin` is not a `wasi:cli` program or
    /// the spec is wrong (a bad limit, an output bound), and
    /// [`Error::Load`] when it cannot be started: a granted directory or a
    /// stdio file that cannot be opened, an engine for its stack size.
    pub async fn run_once(&self, plugin: &Plugin, run: RunSpec) -> Result<RunOutcome, Error> {
        let invalid = |reason: String| Error::InvalidSpec {
            what: run.name.clone(),
            reason,
        };
        if plugin.world() != World::Command {
            return Err(invalid(format!(
                "{} is a {} component; a one-off run is for a `wasi:cli` program",
                plugin.source().display(),
                plugin.world()
            )));
        }
        run.limits.validate().map_err(invalid)?;
        run.capabilities.validate().map_err(invalid)?;
        run.stdio.validate().map_err(invalid)?;
        let cannot_start = |reason: String| Error::Load {
            path: plugin.source().to_path_buf(),
            reason,
        };
        let context = self.actor_context();
        let engine = context
            .engines
            .for_stack(run.limits.wasm_stack_bytes)
            .map_err(|e| cannot_start(format!("cannot set up its engine: {e:#}")))?;
        let compiled = plugin.compiled_for(&engine).await.map_err(cannot_start)?;
        let name: Arc<str> = Arc::from(run.name.as_str());
        let started_at = Instant::now();
        let started = Instance::start(StartParams {
            compiled: &compiled,
            kill: &Arc::new(KillSwitch::default()),
            memory_gauge: &Arc::default(),
            state_gauge: &Arc::default(),
            instances: &context.instances,
            actor: &name,
            limits: &run.limits,
            config: &[],
            capabilities: &run.capabilities,
            stdio: &run.stdio,
            peers: &context.peers,
            committed: CommittedState::default(),
        })
        .await;
        let (exit, kept) = match started {
            Ok(mut instance) => {
                let exit = match instance.run_job().await {
                    Some(Ok(Ok(()))) | None => ExitReason::Normal,
                    Some(Ok(Err(reason))) => ExitReason::Crash(CrashReason::GuestError(reason)),
                    Some(Err(CrashReason::Exit(0))) => ExitReason::Normal,
                    Some(Err(crash)) => ExitReason::Crash(crash),
                };
                (exit, instance.kept_output())
            }
            Err(StartError::Crashed(crash)) => (ExitReason::Crash(crash), (None, None)),
            Err(error) => return Err(cannot_start(error.to_string())),
        };
        Ok(RunOutcome {
            exit_code: RunOutcome::exit_code_for(&exit),
            exit,
            output: ProgramOutput::of(&kept).unwrap_or_default(),
            duration_ms: millis(started_at.elapsed()),
        })
    }
}
