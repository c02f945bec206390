//! `wasmvisor run DIR`: a host on a plugin directory, with its state store,
//! compile cache, instance pool, admin endpoint and directory watcher, until
//! Ctrl-C or SIGTERM; then a graceful drain and stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wasmvisor::Host;
use wasmvisor::dir::{DEFAULT_SETTLE, start_plugin_dir_with_progress, watch_plugin_dir};
use wasmvisor_admin::credentials::{load_or_create_token, remove_addr, write_addr};
use wasmvisor_admin::{AdminServer, ConnectionLimits, DEFAULT_ADMIN_ADDR};

use crate::STATE_FILE;

/// The default compile cache inside the plugin directory.
const COMPILE_CACHE_DIR: &str = "wasmvisor-cache";

/// The instance pool of `wasmvisor run`: room for a directory of a
/// thousand plugins, about 4 TiB of address space reserved (not used).
const DEFAULT_INSTANCE_POOL: u32 = 1_000;

/// How `wasmvisor run` runs a plugin directory.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The plugin directory.
    dir: PathBuf,
    /// The state store file (redb). Default: DIR/wasmvisor-state.redb.
    #[arg(long, conflicts_with = "ephemeral")]
    state: Option<PathBuf>,
    /// Keep state in memory only: it survives crashes, not the host.
    #[arg(long)]
    ephemeral: bool,
    /// When the state store is damaged (empty, truncated, altered), set it
    /// aside as FILE.damaged-SECONDS and start with an empty store, instead
    /// of refusing to start.
    #[arg(long, conflicts_with = "ephemeral")]
    reset_state: bool,
    /// Meter fuel, so that manifests can set `limits.fuel_per_call`.
    #[arg(long)]
    fuel: bool,
    /// The admin endpoint's address (loopback only; port 0 picks one).
    #[arg(long, env = "WASMVISOR_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
    admin: SocketAddr,
    /// The most connections the admin endpoint keeps open at once; more
    /// wait to be accepted. Lowered to fit the open-files limit.
    #[arg(long, default_value_t = ConnectionLimits::default().connections() as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    admin_max_connections: u32,
    /// How long a client of the admin endpoint has to send a request's
    /// head, in milliseconds; an idle connection is closed after as long.
    #[arg(long, default_value_t = ConnectionLimits::default().header_time().as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    admin_header_timeout_ms: u64,
    /// The longest pause inside a request body to the admin endpoint, in
    /// milliseconds.
    #[arg(long, default_value_t = ConnectionLimits::default().body_time().as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    admin_body_timeout_ms: u64,
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

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mut stop_signals = StopSignals::register()?;
    raise_open_files_limit();
    let dir = args.dir;
    let mut builder = Host::builder().fuel_metering(args.fuel);
    if !args.ephemeral {
        let path = args.state.unwrap_or_else(|| dir.join(STATE_FILE));
        let store = crate::state::open_for_run(&path, args.reset_state)?;
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
    let host = builder.build()?;
    // The endpoint first: a port in use is reported before anything starts.
    let token = load_or_create_token(&dir)?;
    let limits = ConnectionLimits::default()
        .max_connections(args.admin_max_connections as usize)
        .header_timeout(Duration::from_millis(args.admin_header_timeout_ms))
        .body_timeout(Duration::from_millis(args.admin_body_timeout_ms));
    let server = AdminServer::start_with(host.clone(), args.admin, &token, limits).await?;
    let addr = server.addr();
    write_addr(&dir, addr)?;
    // A progress bar while the plugins compile, on a terminal only.
    let progress = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} plugins")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message("loading");
    let report = start_plugin_dir_with_progress(&host, &dir, |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })
    .await?;
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
                return Err(error.into());
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
    for actor in host.actors() {
        if let Some(url) = &actor.url {
            println!("http: {} at {url}", actor.name);
        }
    }
    if let Some((name, _)) = report.started.first() {
        println!(
            "try: {program} call --dir {shown_dir} {name} <message>   |   {program} ps --dir {shown_dir}"
        );
    }
    stop_signals.next().await;
    // A second Ctrl-C (or SIGTERM) means: do not wait any longer.
    tokio::spawn(async move {
        stop_signals.next().await;
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

/// Raises the process's soft limit on open files to its hard limit, as
/// servers do: a host of many plugins, each with files and connections,
/// should not run out at a default 1024 the operator never chose.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(error) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!("raising the open-files limit: {error}");
            }
        }
    }
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

/// The signals that stop the host: SIGTERM and SIGINT (Ctrl-C).
///
/// They are registered when `run` begins, before any line a supervisor
/// or script waits for is printed: a signal that arrives between the
/// ready lines and the wait is then queued for the wait, instead of
/// killing the process by the signal's default action.
struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use anyhow::Context;
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next stop signal (one queued since `register` counts).
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
