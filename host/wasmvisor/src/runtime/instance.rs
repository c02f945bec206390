//! One incarnation of an actor: a wasmtime `Store` and the component instance
//! in it.
//!
//! An [`Instance`] is owned by exactly one actor at a time and never shared.
//! Every guest call goes through [`Instance`]'s methods, which arm the call
//! deadline, run the export, and turn any trap into a [`CrashReason`]. Once a
//! call has trapped the instance is *poisoned*: the actor drops it and never
//! enters it again (wasmtime would refuse to).

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::bindings::health::HealthStatus as WitHealthStatus;
use super::bindings::{cli_run, handler, health, job, lifecycle, snapshot};
use super::call::{KillSwitch, bounded};
use super::clock::Deadlines;
use super::compiled::{Compiled, load_exports};
use super::crash::classify;
use super::guest_io::Kept;
use super::http_request::{HttpHealth, RequestSetup};
use super::imports::{ExitRequest, Peers};
use super::store::{InstanceCount, StoreData, arm, disarm, new_store};
use crate::error::{CrashReason, ExitReason};
use crate::health::HealthStatus;
use crate::spec::{Capabilities, Limits, Stdio};
use crate::state::view::StateView;
use crate::state::{Changes, CommittedState};

/// The deadline of a `wasi:cli` program's run when it has none: far enough
/// never to come, near enough for `Instant` arithmetic.
const NO_RUN_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A live instance of a plugin, with the exports it has.
pub(crate) struct Instance {
    store: Store<StoreData>,
    /// A plugin's; none for a `wasi:cli` command, which takes no messages.
    handler: Option<handler::Guest>,
    /// A `wasi:cli` command's `run`: the instance's job.
    cli_run: Option<cli_run::Guest>,
    health: Option<health::Guest>,
    /// A `wasi:http` proxy's health request, when it exports no check.
    http_health: Option<HttpHealth>,
    lifecycle: Option<lifecycle::Guest>,
    snapshot: Option<snapshot::Guest>,
    job: Option<job::Guest>,
    call_timeout: Duration,
    /// A `wasi:cli` program's run's (none: a year, as good as none).
    run_timeout: Duration,
    /// The deadline of the call in progress (or the last one).
    armed: Duration,
    deadlines: Arc<Deadlines>,
    kill: Arc<KillSwitch>,
}

/// Why an instance could not be started.
#[derive(Debug)]
pub(crate) enum StartError {
    /// Instantiation, `init` or `restore` trapped.
    Crashed(CrashReason),
    /// `init` returned an error.
    Init(String),
    /// `restore` rejected the saved snapshot.
    Restore(String),
    /// A capability could not be granted (a directory that does not exist).
    Capabilities(String),
    /// `init` asked `exit.ignore` and returned `ok`: nothing is to run.
    Ignored,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Crashed(reason) => write!(f, "{reason}"),
            StartError::Init(reason) => write!(f, "`init` failed: {reason}"),
            StartError::Restore(reason) => {
                write!(f, "`restore` rejected the saved snapshot: {reason}")
            }
            StartError::Capabilities(reason) => write!(f, "{reason}"),
            StartError::Ignored => write!(f, "ignored its start (`exit.ignore` in `init`)"),
        }
    }
}

/// What the actor needs to start an instance.
pub(crate) struct StartParams<'a> {
    pub(crate) compiled: &'a Compiled,
    pub(crate) kill: &'a Arc<KillSwitch>,
    /// Where the instance's memory size is reported.
    pub(crate) memory_gauge: &'a Arc<AtomicU64>,
    /// Where the size of the committed state is reported.
    pub(crate) state_gauge: &'a Arc<AtomicU64>,
    /// The host's count of live instances, which this one joins.
    pub(crate) instances: &'a InstanceCount,
    pub(crate) actor: &'a Arc<str>,
    pub(crate) limits: &'a Limits,
    pub(crate) config: &'a [(String, String)],
    pub(crate) capabilities: &'a Capabilities,
    pub(crate) stdio: &'a Stdio,
    /// The other actors, for the `actors` import.
    pub(crate) peers: &'a Arc<dyn Peers>,
    pub(crate) committed: CommittedState,
}

impl Instance {
    /// Instantiates the plugin with `committed` as its state, then calls
    /// `init` (with the config) and `restore` (with the saved snapshot) when
    /// the plugin exports them.
    pub(crate) async fn start(params: StartParams<'_>) -> Result<Instance, StartError> {
        let snapshot_data = params.committed.snapshot.clone();
        let engine = &params.compiled.engine;
        let mut store = new_store(
            engine,
            params.actor.clone(),
            params.limits,
            (params.capabilities, params.stdio),
            StateView::new(params.committed).reporting_size_to(params.state_gauge),
            params.memory_gauge,
        )
        .map_err(StartError::Capabilities)?;
        store.data_mut().peers = Some(params.peers.clone());
        store.data_mut().counted = Some(params.instances.enter());
        let call_timeout = params.limits.call_timeout;
        let crash = |store: &Store<StoreData>, error| {
            StartError::Crashed(classify(error, store.data(), call_timeout))
        };

        arm(&mut store, call_timeout);
        let loaded = load_exports(params.compiled, &mut store, Some(params.kill)).await;
        disarm(&mut store);
        let mut instance = match loaded {
            Ok(exports) => Instance {
                store,
                handler: exports.handler,
                cli_run: exports.cli_run,
                health: exports.health,
                http_health: None,
                lifecycle: exports.lifecycle,
                snapshot: exports.snapshot,
                job: exports.job,
                call_timeout,
                run_timeout: params.limits.run_timeout.unwrap_or(NO_RUN_TIMEOUT),
                armed: call_timeout,
                deadlines: engine.settings().deadlines.clone(),
                kill: params.kill.clone(),
            },
            Err(error) => return Err(crash(&store, error)),
        };

        instance.store.data_mut().starting = true;
        let started = instance
            .init_and_restore(params.config, params.kill, snapshot_data)
            .await;
        instance.store.data_mut().starting = false;
        started?;
        Ok(instance)
    }

    /// The start's guest calls: `init`, then `restore` (see [`Instance::start`]).
    async fn init_and_restore(
        &mut self,
        config: &[(String, String)],
        kill: &Arc<KillSwitch>,
        snapshot_data: Option<Vec<u8>>,
    ) -> Result<(), StartError> {
        let crash = |instance: &Instance, error| {
            StartError::Crashed(classify(error, instance.store.data(), instance.armed))
        };
        if let Some(lifecycle) = self.lifecycle.clone() {
            let config = config.to_vec();
            self.arm();
            let deadline = self.deadline();
            let result = {
                let call = pin!(lifecycle.call_init(&mut self.store, &config));
                bounded(&self.deadlines, deadline, Some(kill), call).await
            };
            self.disarm();
            match result {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(StartError::Init(reason)),
                Err(error) => return Err(crash(self, error)),
            }
            if self.store.data().exit == Some(ExitRequest::Ignore) {
                return Err(StartError::Ignored);
            }
        }
        if let (Some(snapshot), Some(data)) = (self.snapshot.clone(), snapshot_data) {
            self.arm();
            let deadline = self.deadline();
            let result = {
                let call = pin!(snapshot.call_restore(&mut self.store, &data));
                bounded(&self.deadlines, deadline, Some(kill), call).await
            };
            self.disarm();
            match result {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(StartError::Restore(reason)),
                Err(error) => return Err(crash(self, error)),
            }
        }
        Ok(())
    }

    /// The end the plugin asked for (`exit.shutdown`, `exit.shutdown-with`)
    /// during the calls so far, taken: the caller ends the instance with it.
    pub(crate) fn asked_exit(&mut self) -> Option<ExitReason> {
        match self.store.data_mut().exit.take()? {
            ExitRequest::Shutdown(None) => Some(ExitReason::Shutdown),
            ExitRequest::Shutdown(Some(reason)) => Some(ExitReason::ShutdownWith(reason)),
            // Acted on by `start`, and refused once it is over.
            ExitRequest::Ignore => None,
        }
    }

    /// Handles one message. `Ok(Err(reason))` is the plugin's own error
    /// reply; `Err(crash)` means the instance is poisoned.
    pub(crate) async fn handle(
        &mut self,
        message: &[u8],
    ) -> Result<Result<Vec<u8>, String>, CrashReason> {
        let Some(handler) = self.handler.clone() else {
            return Ok(Err(
                "it is a `wasi:cli` program, which takes no messages: it runs once per start"
                    .into(),
            ));
        };
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(handler.call_handle(&mut self.store, message));
            bounded(&self.deadlines, deadline, Some(&self.kill), call).await
        };
        self.finish(result)
    }

    /// Runs the health check, if the plugin exports one, cut off after
    /// `timeout` (the health check's own, not the call timeout): running
    /// past it is [`CrashReason::DeadlineExceeded`] with that limit.
    pub(crate) async fn check_health(
        &mut self,
        timeout: Duration,
    ) -> Option<Result<HealthStatus, CrashReason>> {
        let Some(health) = self.health.clone() else {
            let probe = self.http_health.as_ref()?;
            return Some(probe.check(timeout).await);
        };
        self.arm_for(timeout);
        let deadline = self.deadline();
        let result = {
            let call = pin!(health.call_check(&mut self.store));
            bounded(&self.deadlines, deadline, Some(&self.kill), call).await
        };
        Some(self.finish(result).map(health_status))
    }

    /// Takes a snapshot into the pending changes, if the plugin exports
    /// `snapshot`.
    pub(crate) async fn take_snapshot(&mut self) -> Result<(), CrashReason> {
        let Some(snapshot) = self.snapshot.clone() else {
            return Ok(());
        };
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(snapshot.call_snapshot(&mut self.store));
            bounded(&self.deadlines, deadline, Some(&self.kill), call).await
        };
        let data = self.finish(result)?;
        self.store.data_mut().state.set_snapshot(data);
        Ok(())
    }

    /// Runs the job: a plugin's `job.run`, if it exports one, or a
    /// `wasi:cli` command's `run`. A command's `run` returning an error is
    /// a crash, as it is an exit code of 1 for `wasmtime run`.
    pub(crate) async fn run_job(&mut self) -> Option<Result<Result<(), String>, CrashReason>> {
        if let Some(run) = self.cli_run.clone() {
            self.arm_for(self.run_timeout);
            let deadline = self.deadline();
            let result = {
                let call = pin!(run.call_run(&mut self.store));
                bounded(&self.deadlines, deadline, Some(&self.kill), call).await
            };
            return Some(match self.finish(result) {
                Ok(Ok(())) => Ok(Ok(())),
                Ok(Err(())) => Err(CrashReason::RunFailed),
                Err(crash) => Err(crash),
            });
        }
        let job = self.job.clone()?;
        self.arm();
        let deadline = self.deadline();
        let result = {
            let call = pin!(job.call_run(&mut self.store));
            bounded(&self.deadlines, deadline, Some(&self.kill), call).await
        };
        Some(self.finish(result))
    }

    /// Calls the `shutdown` hook, if exported, within `timeout`.
    pub(crate) async fn shutdown(&mut self, timeout: Duration) -> Result<(), CrashReason> {
        let Some(lifecycle) = self.lifecycle.clone() else {
            return Ok(());
        };
        self.arm_for(timeout);
        let deadline = self.deadline();
        let result = {
            let call = pin!(lifecycle.call_shutdown(&mut self.store));
            bounded(&self.deadlines, deadline, Some(&self.kill), call).await
        };
        self.finish(result)
    }

    /// The output this instance keeps in memory (stdout's, stderr's).
    pub(crate) fn kept_output(&self) -> (Option<Arc<Kept>>, Option<Arc<Kept>>) {
        self.store.data().kept.clone()
    }

    pub(crate) fn has_health_check(&self) -> bool {
        self.health.is_some() || self.http_health.is_some()
    }

    /// Checks a `wasi:http` proxy that exports no health check with a
    /// `GET path` through a fresh instance (see `http_request`).
    pub(crate) fn set_http_health(
        &mut self,
        compiled: Arc<Compiled>,
        setup: RequestSetup,
        path: String,
    ) {
        if self.health.is_none() {
            self.http_health = Some(HttpHealth {
                compiled,
                setup,
                path,
            });
        }
    }

    pub(crate) fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    pub(crate) fn has_job(&self) -> bool {
        self.job.is_some() || self.cli_run.is_some()
    }

    /// The pending state changes of the call that just succeeded.
    pub(crate) fn take_changes(&mut self) -> Changes {
        self.store.data_mut().state.take_changes()
    }

    /// Records a successful commit.
    pub(crate) fn committed_as(&mut self, changes: Changes, version: u64) {
        self.store.data_mut().state.committed_as(changes, version);
    }

    /// Drops the pending state changes.
    pub(crate) fn discard_changes(&mut self) {
        self.store.data_mut().state.discard();
    }

    fn arm(&mut self) {
        self.arm_for(self.call_timeout);
    }

    /// The deadline of the call in progress.
    fn deadline(&self) -> Option<Instant> {
        self.store.data().deadline
    }

    /// Arms the store for a call of at most `timeout`, the limit a
    /// deadline crash of this call then names.
    fn arm_for(&mut self, timeout: Duration) {
        self.armed = timeout;
        arm(&mut self.store, timeout);
    }

    fn disarm(&mut self) {
        disarm(&mut self.store);
    }

    fn finish<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, CrashReason> {
        self.disarm();
        result.map_err(|error| classify(error, self.store.data(), self.armed))
    }
}

/// What a health check answered, in the host's terms.
fn health_status(status: WitHealthStatus) -> HealthStatus {
    match status {
        WitHealthStatus::Healthy => HealthStatus::Healthy,
        WitHealthStatus::Degraded(reason) => HealthStatus::Degraded(reason),
        WitHealthStatus::Unhealthy(reason) => HealthStatus::Unhealthy(reason),
    }
}
