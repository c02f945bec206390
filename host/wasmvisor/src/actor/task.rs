//! The actor's task: it owns the mailbox and the control channel, starts
//! each instance when its supervisor asks, puts it on the desk and serves
//! messages, health checks and control requests until it ends, and reports
//! how it ended. Between instances it reads no messages, so they wait for
//! the next instance.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::context::ActorContext;
use super::control::{Control, Started};
use super::core::{ActorCore, KillRequest, exit_for};
use super::desk::{Desk, SnapshotClock};
use super::envelope::{Envelope, respond};
use super::info::ActorStatus;
use super::instantiate::compiled;
use super::instantiate::instantiate;
use super::probation::{self, OnProbation};
use super::probe::{HealthProbe, Probe};
use super::upgrade::{Upgraded, upgrade};
use crate::error::{CallError, CrashReason, ExitReason};
use crate::events::Event;
use crate::front::{CrashReport, Route, Serving};
use crate::health::HealthStatus;
use crate::runtime::http_request::RequestSetup;
use crate::runtime::{Instance, Plugin, World};
use crate::spec::Shutdown;

pub(crate) struct ActorTask {
    pub(crate) core: Arc<ActorCore>,
    pub(crate) plugin: Plugin,
    pub(crate) context: ActorContext,
    pub(crate) mailbox: mpsc::Receiver<Envelope>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// Kills asked from outside (see [`ActorRef::kill`](super::ActorRef::kill)).
    pub(crate) kills: mpsc::UnboundedReceiver<KillRequest>,
    /// A control request taken just as a handed-off message ended the
    /// instance: handled first, once that exit is reported.
    pub(crate) deferred: Option<Control>,
    /// The hot upgrade on probation, while one is (see `probation`).
    pub(crate) probation: Option<OnProbation>,
    /// A `wasi:http` actor's route, once its first instance started.
    pub(crate) route: Option<Arc<Route>>,
    /// Crashes of its requests, with the incarnation they happened in.
    pub(crate) http_crashes: mpsc::UnboundedReceiver<CrashReport>,
    pub(crate) http_crash_sender: mpsc::UnboundedSender<CrashReport>,
}

/// How serving one instance ended.
enum Served {
    /// The instance ended by itself: report it to the supervisor.
    Exited(ExitReason),
    /// A handed-off message ended it, and its caller reported the exit.
    Reported,
    /// The supervisor stopped it; `reply` is owed the exit reason.
    Stopped(ExitReason, oneshot::Sender<Option<ExitReason>>),
    /// The supervisor closed the actor for good while it ran.
    Closed(String, Option<oneshot::Sender<()>>),
    /// Killed from outside: report the exit (`Killed`), then answer.
    Killed(KillRequest),
    /// A new version on probation ended this way, and the upgrade was
    /// rolled back: start the previous version again, in its place.
    RolledBack(ExitReason),
}

impl ActorTask {
    pub(crate) async fn run(mut self) {
        // Set while the actor is undefined: messages get this answer.
        let mut parked: Option<String> = None;
        loop {
            let control = match self.deferred.take() {
                Some(control) => Some(control),
                None => tokio::select! {
                    control = self.control.recv() => control,
                    // No instance runs: nothing to kill.
                    Some(kill) = self.kills.recv() => {
                        let _ = kill.send(None);
                        continue;
                    }
                    // Undefined: messages are answered now, not kept for an instance.
                    Some(envelope) = self.mailbox.recv(), if parked.is_some() => {
                        respond(envelope.reply, Err(CallError::Stopped {
                            actor: self.core.shared.name.to_string(),
                            reason: parked.clone().unwrap_or_default(),
                        }));
                        continue;
                    }
                },
            };
            let Some(control) = control else {
                break;
            };
            match control {
                Control::Start {
                    instance,
                    restart,
                    reply,
                } => match self.start(instance, restart).await {
                    // Nothing to run: the supervisor decides what becomes of
                    // the child (S3).
                    Ok(None) => reply.send(&self.core.shared.name, instance, Ok(Started::Ignored)),
                    Ok(Some(running)) => {
                        parked = None;
                        reply.send(
                            &self.core.shared.name,
                            instance,
                            Ok(Started::Running(instance)),
                        );
                        if let ControlFlow::Break((reason, done)) =
                            self.serve_to_the_end(instance, running).await
                        {
                            self.close(reason).await;
                            drop(done);
                            return;
                        }
                    }
                    Err(reason) => reply.send(&self.core.shared.name, instance, Err(reason)),
                },
                // Nothing runs: nothing to stop.
                Control::Stop { reply, .. } => {
                    let _ = reply.send(None);
                }
                // Nothing runs to hand over or to be on probation.
                Control::Upgrade { plugin, reply } => {
                    self.upgrade_started(&plugin);
                    self.adopt(plugin);
                    probation::committed(&self.core, self.plugin.version());
                    let _ = reply.send(Ok(()));
                }
                Control::Park { reason } => {
                    // Messages kept for the next instance will not get one.
                    let first = std::mem::take(&mut self.core.desk.lock().await.first);
                    for envelope in first {
                        respond(
                            envelope.reply,
                            Err(CallError::Stopped {
                                actor: self.core.shared.name.to_string(),
                                reason: reason.clone(),
                            }),
                        );
                    }
                    parked = Some(reason);
                }
                Control::Close { reason, done } => {
                    self.close(reason).await;
                    drop(done);
                    return;
                }
            }
        }
        // The supervisor is gone without closing us (it panicked): do not
        // leave callers waiting forever.
        self.close("its supervisor is gone".to_owned()).await;
    }

    /// Serves instance number `id` until it ends, and the previous version
    /// of the plugin in its place whenever an upgrade on probation is
    /// rolled back (S21); then reports how it ended. Breaks when the actor
    /// is to be closed (why, and who waits for it).
    async fn serve_to_the_end(
        &mut self,
        id: u64,
        mut instance: Instance,
    ) -> ControlFlow<(String, Option<oneshot::Sender<()>>)> {
        loop {
            match self.serve(id, instance).await {
                Served::RolledBack(reason) => match self.start(id, false).await {
                    Ok(Some(previous)) => {
                        instance = previous;
                        continue;
                    }
                    // The previous version will not run again by itself:
                    // its supervisor hears of the new version's exit.
                    Ok(None) | Err(_) => self.core.report_exit(id, reason),
                },
                Served::Exited(reason) => self.core.report_exit(id, reason),
                Served::Reported => {}
                Served::Stopped(reason, reply) => {
                    self.core.mark_down(id, reason.clone());
                    self.context.events.publish(Event::ActorExited {
                        actor: self.core.shared.name.to_string(),
                        instance: id,
                        reason: reason.clone(),
                    });
                    let _ = reply.send(Some(reason));
                }
                Served::Closed(reason, done) => return ControlFlow::Break((reason, done)),
                Served::Killed(kill) => {
                    self.core.report_exit(id, ExitReason::Killed);
                    let _ = kill.send(Some(id));
                }
            }
            return ControlFlow::Continue(());
        }
    }

    /// Starts instance `instance`; `None` when its `init` ignored the start.
    async fn start(&mut self, instance: u64, restart: bool) -> Result<Option<Instance>, String> {
        self.core.shared.kill.reset();
        let Some(mut running) = instantiate(&self.core, &self.context, &self.plugin).await? else {
            return Ok(None);
        };
        // What `init` wrote is committed before the first message.
        self.core
            .commit_changes(&mut running)
            .await
            .map_err(|crash| crash.to_string())?;
        self.core.desk.lock().await.snapshots = SnapshotClock::default();
        {
            let mut status = self.core.shared.lock();
            status.state = ActorStatus::Running;
            status.instance = Some(instance);
            status.running_since = Some(Instant::now());
            status.health = HealthStatus::Unknown;
            status.health_checks = 0;
            status.health_failures = 0;
            status.output = running.kept_output();
            if restart {
                status.restarts += 1;
            }
        }
        if self.plugin.world() == World::HttpProxy {
            self.serve_route(instance, &mut running).await?;
        }
        self.context.events.publish(Event::ActorStarted {
            actor: self.core.shared.name.to_string(),
            instance,
            restart,
        });
        Ok(Some(running))
    }

    /// Mounts a `wasi:http` actor's route (at its first start) and serves
    /// the version it runs from it, for incarnation `id`; sets up the
    /// health request when the component exports no health check.
    async fn serve_route(&mut self, id: u64, instance: &mut Instance) -> Result<(), String> {
        let spec = &self.core.spec;
        let route = match &self.route {
            Some(route) => route.clone(),
            None => {
                let route = self.context.front.mount(
                    spec.http.listen,
                    &spec.http.route,
                    &self.core.shared.name,
                )?;
                self.core.shared.lock().url = Some(route.url());
                self.route = Some(route.clone());
                route
            }
        };
        let compiled = compiled(&self.core, &self.context, &self.plugin).await?;
        let setup = RequestSetup {
            actor: self.core.shared.name.clone(),
            limits: spec.limits.clone(),
            capabilities: spec.capabilities.clone(),
            stdio: spec.stdio.clone(),
            timeout: spec.http.request_timeout,
            instances: self.context.instances.clone(),
        };
        if let Some(path) = &spec.http.health_path {
            instance.set_http_health(compiled.clone(), setup.clone(), path.clone());
        }
        route.serve(Serving {
            compiled,
            setup,
            max_body_bytes: spec.http.max_body_bytes,
            incarnation: id,
            crashes: self.http_crash_sender.clone(),
        });
        Ok(())
    }

    /// Makes `plugin` the version this actor runs from now on; returns the
    /// one it ran.
    fn adopt(&mut self, plugin: Plugin) -> Plugin {
        {
            let mut status = self.core.shared.lock();
            status.version = Some(plugin.version().to_owned());
            status.world = Some(plugin.world());
            status.plugin = Some(plugin.clone());
        }
        self.context.events.publish(Event::ActorUpgraded {
            actor: self.core.shared.name.to_string(),
            version: plugin.version().to_owned(),
        });
        std::mem::replace(&mut self.plugin, plugin)
    }

    fn upgrade_started(&self, to: &Plugin) {
        self.context.events.publish(Event::UpgradeStarted {
            actor: self.core.shared.name.to_string(),
            from: self.plugin.version().to_owned(),
            to: to.version().to_owned(),
        });
    }

    /// Tells that the upgrade to `to` was refused before it took over.
    fn upgrade_refused(&self, to: &Plugin, why: &str) {
        self.context.events.publish(Event::UpgradeRolledBack {
            actor: self.core.shared.name.to_string(),
            version: to.version().to_owned(),
            reason: why.to_owned(),
            in_probation: false,
        });
    }

    /// Ends the probation that runs, if one does, keeping the new version.
    fn end_probation(&mut self, desk: &mut Desk) {
        if let Some(probation) = self.probation.take() {
            probation.commit(&self.core, desk, self.plugin.version());
        }
    }

    /// Settles the probation, if one runs, of the instance that just ended
    /// as `served` says (see `probation`): a rollback when the new version
    /// is to blame, the upgrade kept otherwise.
    async fn settle_probation(&mut self, desk: &mut Desk, served: Served) -> Served {
        let Some(probation) = self.probation.take() else {
            return served;
        };
        let reason = match &served {
            Served::Exited(reason) if probation::rolls_back(reason) => reason.clone(),
            _ => {
                probation.commit(&self.core, desk, self.plugin.version());
                return served;
            }
        };
        let failed = self.plugin.version().to_owned();
        let (previous, restored) = probation
            .roll_back(&self.core, desk, &failed, &reason)
            .await;
        self.adopt(previous);
        if restored {
            Served::RolledBack(reason)
        } else {
            served
        }
    }

    /// Serves messages, health checks and control requests until instance
    /// number `id` ends.
    async fn serve(&mut self, id: u64, instance: Instance) -> Served {
        let served = self.serve_on_desk(id, instance).await;
        if let Some(route) = &self.route {
            route.down("its instance ended; its supervisor decides what comes next");
        }
        // Off the desk (a crashed instance is dropped here): nobody can be
        // handed it any more.
        let core = Arc::clone(&self.core);
        let mut desk = core.desk.lock().await;
        drop(desk.instance.take());
        let served = self.settle_probation(&mut desk, served).await;
        drop(desk);
        match served {
            // Killed mid-call, by the supervisor (whose stop request is
            // waiting: answer that instead of reporting a crash) or from
            // outside (whose request is waiting).
            Served::Exited(ExitReason::Crash(CrashReason::Killed)) => self.after_kill().await,
            served => served,
        }
    }

    /// Waits for the stop (or close) that came with a kill, or the outside
    /// kill request behind it.
    async fn after_kill(&mut self) -> Served {
        loop {
            let control = match self.deferred.take() {
                Some(control) => Some(control),
                None => tokio::select! {
                    biased;
                    control = self.control.recv() => control,
                    Some(kill) = self.kills.recv() => return Served::Killed(kill),
                },
            };
            match control {
                Some(Control::Stop { reply, .. }) => {
                    return Served::Stopped(ExitReason::Killed, reply);
                }
                Some(Control::Close { reason, done }) => return Served::Closed(reason, done),
                Some(Control::Start {
                    instance, reply, ..
                }) => reply.send(
                    &self.core.shared.name,
                    instance,
                    Err("already running".to_owned()),
                ),
                Some(Control::Park { .. }) => {}
                Some(Control::Upgrade { reply, .. }) => {
                    let _ = reply.send(Err("the actor is being stopped".to_owned()));
                }
                None => return Served::Closed("its supervisor is gone".to_owned(), None),
            }
        }
    }

    /// Puts `instance` on the desk and serves until it ends; it is left on
    /// the desk unless it was stopped.
    async fn serve_on_desk(&mut self, id: u64, instance: Instance) -> Served {
        let core = Arc::clone(&self.core);
        let mut desk = core.desk.lock().await;
        let has_job = instance.has_job();
        desk.instance = Some(instance);
        desk.serving_id = id;
        // `init` may have asked to end at once (S20).
        if let Some(exit) = core.asked_exit(&mut desk).await {
            return Served::Exited(exit);
        }
        if has_job && let Some(exit) = self.run_job(&mut desk).await {
            return Served::Exited(exit);
        }
        let mut probe = HealthProbe::new(desk.instance.as_ref(), &core.spec.health);
        // Messages that crashed the previous instance (or were taken just
        // as it ended) go first.
        while let Some(envelope) = desk.first.pop_front() {
            if let Some(exit) = core.handle(&mut desk, envelope).await.exit {
                return Served::Exited(exit);
            }
        }
        drop(desk);
        loop {
            tokio::select! {
                biased;
                // (A deferred request is set only as this loop returns.)
                control = self.control.recv() => {
                    let mut desk = core.desk.lock().await;
                    if let Some(exit) = desk.ended.take() {
                        self.deferred = control;
                        return ended_in_hand(exit);
                    }
                    match control {
                        Some(Control::Stop { shutdown, reply }) => {
                            let reason = self.stop_instance(&mut desk, shutdown, true).await;
                            return Served::Stopped(reason, reply);
                        }
                        Some(Control::Start { instance, reply, .. }) => reply.send(
                            &self.core.shared.name,
                            instance,
                            Err("already running".to_owned()),
                        ),
                        Some(Control::Upgrade { plugin, reply }) => {
                            // An upgrade on probation is kept once another replaces it.
                            self.end_probation(&mut desk);
                            self.upgrade_started(&plugin);
                            match upgrade(&core, &self.context, &mut desk, &plugin).await {
                                Upgraded::Done { takeover } => {
                                    let previous = self.adopt(plugin);
                                    // What the old version's checks said is not the new one's.
                                    {
                                        let mut status = self.core.shared.lock();
                                        status.health = HealthStatus::Unknown;
                                        status.health_failures = 0;
                                    }
                                    match takeover {
                                        Some(takeover) => {
                                            self.probation =
                                                Some(OnProbation::begin(&core, &mut desk, previous, takeover));
                                        }
                                        None => probation::committed(&core, self.plugin.version()),
                                    }
                                    if self.plugin.world() == World::HttpProxy
                                        && let Some(instance) = desk.instance.as_mut()
                                        && let Err(why) = self.serve_route(id, instance).await
                                    {
                                        let _ = reply.send(Err(why.clone()));
                                        return Served::Exited(ExitReason::Crash(CrashReason::Trap(why)));
                                    }
                                    probe = HealthProbe::new(desk.instance.as_ref(), &core.spec.health);
                                    let _ = reply.send(Ok(()));
                                    // The new version's `init` may have asked to end.
                                    if let Some(exit) = core.asked_exit(&mut desk).await {
                                        return Served::Exited(exit);
                                    }
                                }
                                Upgraded::Refused(why) => {
                                    self.upgrade_refused(&plugin, &why);
                                    let _ = reply.send(Err(why));
                                }
                                Upgraded::OldCrashed(crash) => {
                                    let why = format!(
                                        "the running version crashed while handing over: {crash}"
                                    );
                                    self.upgrade_refused(&plugin, &why);
                                    let _ = reply.send(Err(why));
                                    return Served::Exited(exit_for(crash));
                                }
                            }
                        }
                        // Only meaningful between instances.
                        Some(Control::Park { .. }) => {}
                        Some(Control::Close { reason, done }) => {
                            self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Closed(reason, done);
                        }
                        None => {
                            self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Closed("its supervisor is gone".to_owned(), None);
                        }
                    }
                },
                Some(kill) = self.kills.recv() => {
                    let mut desk = core.desk.lock().await;
                    match desk.ended.take() {
                        // Ended in a caller's hands: by this kill (which it
                        // left for us to report), or by itself first (which
                        // it reported).
                        Some(ExitReason::Crash(CrashReason::Killed)) | None => {}
                        Some(_) => {
                            let _ = kill.send(None);
                            return Served::Reported;
                        }
                    }
                    drop(desk.instance.take());
                    return Served::Killed(kill);
                }
                () = probation_over(self.probation.as_ref().map(|p| p.until)) => {
                    let mut desk = core.desk.lock().await;
                    if let Some(exit) = desk.ended.take() {
                        return ended_in_hand(exit);
                    }
                    self.end_probation(&mut desk);
                }
                due = probe.due() => {
                    let mut desk = core.desk.lock().await;
                    if let Some(exit) = desk.ended.take() {
                        return ended_in_hand(exit);
                    }
                    let Some((instance, _)) = desk.serving() else {
                        continue;
                    };
                    let checked = probe
                        .check(instance, due, &core.spec.health, &core.shared, &self.context.events)
                        .await;
                    match checked {
                        Probe::Passed => {
                            // On probation, one failed check is one too many (S21).
                            if self.probation.is_some()
                                && let HealthStatus::Unhealthy(why) = self.core.shared.lock().health.clone()
                            {
                                return Served::Exited(ExitReason::HealthCheckFailed(why));
                            }
                            if let Some(exit) = core.asked_exit(&mut desk).await {
                                return Served::Exited(exit);
                            }
                        }
                        Probe::Crashed(crash) => return Served::Exited(exit_for(crash)),
                        // The instance cannot be entered again: no graceful stop.
                        Probe::CutOff(why) => return Served::Exited(ExitReason::HealthCheckFailed(why)),
                        Probe::FailedTooOften(last) => {
                            // No snapshot of an unhealthy instance: the next one
                            // would only restore what made this one sick.
                            self.stop_instance(&mut desk, self.core.spec.shutdown, false).await;
                            return Served::Exited(ExitReason::HealthCheckFailed(last));
                        }
                    }
                }
                Some((incarnation, crash)) = self.http_crashes.recv() => {
                    // A request of an earlier incarnation, finishing late, is
                    // not this one's crash.
                    if incarnation == id {
                        return Served::Exited(exit_for(crash));
                    }
                }
                envelope = self.mailbox.recv() => {
                    core.taken.store(envelope.is_some(), Ordering::SeqCst);
                    let mut desk = core.desk.lock().await;
                    core.taken.store(false, Ordering::SeqCst);
                    if let Some(exit) = desk.ended.take() {
                        // For the next instance, after any kept for redelivery.
                        desk.first.extend(envelope);
                        return ended_in_hand(exit);
                    }
                    match envelope {
                        Some(envelope) => {
                            // On probation: kept, to be handled again after a rollback.
                            let message = self.probation.is_some().then(|| envelope.message.clone());
                            let handled = core.handle(&mut desk, envelope).await;
                            if let Some(exit) = handled.exit {
                                return Served::Exited(exit);
                            }
                            if let (Some(message), true) = (message, handled.acknowledged)
                                && let Some(probation) = self.probation.as_mut()
                                && probation.answered(&core, message)
                            {
                                self.end_probation(&mut desk);
                            }
                        }
                        // Every handle is gone, the registry's too: nobody can
                        // send again, so the instance can end.
                        None => {
                            let reason =
                                self.stop_instance(&mut desk, self.core.spec.shutdown, true).await;
                            return Served::Exited(reason);
                        }
                    }
                },
            }
        }
    }

    async fn run_job(&mut self, desk: &mut Desk) -> Option<ExitReason> {
        let (instance, snapshots) = desk.serving()?;
        match instance.run_job().await? {
            // Done, or done early by asking to shut down (S20).
            Ok(Ok(())) => Some(match self.core.commit(instance, snapshots, true).await {
                Ok(()) => instance.asked_exit().unwrap_or(ExitReason::Normal),
                Err(crash) => ExitReason::Crash(crash),
            }),
            Ok(Err(reason)) => Some(ExitReason::Crash(CrashReason::GuestError(reason))),
            Err(crash) => Some(exit_for(crash)),
        }
    }

    /// Takes the instance off the desk and stops it following `shutdown`;
    /// returns how it ended. A graceful stop commits the guest's last writes
    /// and, with `snapshot`, snapshots it first (not an unhealthy instance:
    /// the next one would only restore what made this one sick).
    async fn stop_instance(
        &self,
        desk: &mut Desk,
        shutdown: Shutdown,
        snapshot: bool,
    ) -> ExitReason {
        let Some(mut instance) = desk.instance.take() else {
            return ExitReason::Shutdown;
        };
        let timeout = match shutdown {
            Shutdown::BrutalKill => return ExitReason::Killed,
            Shutdown::Timeout(timeout) => timeout,
            // A guest call never outlives its deadline, even here.
            Shutdown::Infinity => self.core.spec.limits.call_timeout,
        };
        let reason = match instance.shutdown(timeout).await {
            Ok(()) => {
                let committed = if snapshot {
                    self.core
                        .commit(&mut instance, &mut desk.snapshots, true)
                        .await
                } else {
                    self.core.commit_changes(&mut instance).await
                };
                match committed {
                    Ok(()) => ExitReason::Shutdown,
                    Err(CrashReason::Killed) => ExitReason::Killed,
                    Err(crash) => ExitReason::Crash(crash),
                }
            }
            Err(CrashReason::DeadlineExceeded { .. } | CrashReason::Killed) => ExitReason::Killed,
            Err(crash) => ExitReason::Crash(crash),
        };
        drop(instance);
        reason
    }

    /// Answers every waiting message with `Stopped` and ends the task; later
    /// sends fail, and are answered the same way by the handle.
    async fn close(mut self, reason: String) {
        if let Some(route) = &self.route {
            route.close(format!("it is stopped: {reason}"));
        }
        {
            let mut status = self.core.shared.lock();
            status.state = ActorStatus::Stopped(reason.clone());
            status.instance = None;
            status.running_since = None;
        }
        self.mailbox.close();
        let kept = std::mem::take(&mut self.core.desk.lock().await.first);
        let waiting = std::iter::from_fn(|| self.mailbox.try_recv().ok());
        for envelope in kept.into_iter().chain(waiting) {
            respond(
                envelope.reply,
                Err(CallError::Stopped {
                    actor: self.core.shared.name.to_string(),
                    reason: reason.clone(),
                }),
            );
        }
    }
}

/// Completes when the probation ending at `until` is over; never without one.
async fn probation_over(until: Option<tokio::time::Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// How serving ended when a handed-off message ended the instance: its
/// caller reported the exit, except a kill's, which the supervisor's stop
/// request answers.
fn ended_in_hand(exit: ExitReason) -> Served {
    match exit {
        ExitReason::Crash(CrashReason::Killed) => Served::Exited(exit),
        _ => Served::Reported,
    }
}
