//! The actor's task: it owns the mailbox and the control channel, starts
//! each instance when its supervisor asks, puts it on the desk and serves
//! messages, health checks and control requests until it ends, and reports
//! how it ended. Between instances it reads no messages, so they wait for
//! the next instance.

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
use super::instantiate::instantiate;
use super::probe::{HealthProbe, Probe};
use super::upgrade::{Upgraded, upgrade};
use crate::error::{CallError, CrashReason, ExitReason};
use crate::events::Event;
use crate::health::HealthStatus;
use crate::runtime::{Instance, Plugin};
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
                        match self.serve(instance, running).await {
                            Served::Exited(reason) => self.core.report_exit(instance, reason),
                            Served::Reported => {}
                            Served::Stopped(reason, reply) => {
                                self.core.mark_down(instance, reason.clone());
                                self.context.events.publish(Event::ActorExited {
                                    actor: self.core.shared.name.to_string(),
                                    instance,
                                    reason: reason.clone(),
                                });
                                let _ = reply.send(Some(reason));
                            }
                            Served::Closed(reason, done) => {
                                self.close(reason).await;
                                drop(done);
                                return;
                            }
                            Served::Killed(kill) => {
                                self.core.report_exit(instance, ExitReason::Killed);
                                let _ = kill.send(Some(instance));
                            }
                        }
                    }
                    Err(reason) => reply.send(&self.core.shared.name, instance, Err(reason)),
                },
                // Nothing runs: nothing to stop.
                Control::Stop { reply, .. } => {
                    let _ = reply.send(None);
                }
                Control::Upgrade { plugin, reply } => {
                    self.adopt(plugin);
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
            if restart {
                status.restarts += 1;
            }
        }
        self.context.events.publish(Event::ActorStarted {
            actor: self.core.shared.name.to_string(),
            instance,
            restart,
        });
        Ok(Some(running))
    }

    /// Makes `plugin` the version this actor runs from now on.
    fn adopt(&mut self, plugin: Plugin) {
        self.core.shared.lock().version = Some(plugin.version().to_owned());
        self.context.events.publish(Event::ActorUpgraded {
            actor: self.core.shared.name.to_string(),
            version: plugin.version().to_owned(),
        });
        self.plugin = plugin;
    }

    /// Serves messages, health checks and control requests until instance
    /// number `id` ends.
    async fn serve(&mut self, id: u64, instance: Instance) -> Served {
        let served = self.serve_on_desk(id, instance).await;
        // Off the desk (a crashed instance is dropped here): nobody can be
        // handed it any more.
        let ended = self.core.desk.lock().await.instance.take();
        drop(ended);
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
                            match upgrade(&core, &self.context, &mut desk, &plugin).await {
                                Upgraded::Done => {
                                    self.adopt(plugin);
                                    probe = HealthProbe::new(desk.instance.as_ref(), &core.spec.health);
                                    let _ = reply.send(Ok(()));
                                    // The new version's `init` may have asked to end.
                                    if let Some(exit) = core.asked_exit(&mut desk).await {
                                        return Served::Exited(exit);
                                    }
                                }
                                Upgraded::Refused(why) => {
                                    self.context.events.publish(Event::UpgradeFailed {
                                        actor: self.core.shared.name.to_string(),
                                        reason: why.clone(),
                                    });
                                    let _ = reply.send(Err(why));
                                }
                                Upgraded::OldCrashed(crash) => {
                                    let _ = reply.send(Err(format!(
                                        "the running version crashed while handing over: {crash}"
                                    )));
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
                            if let Some(exit) = core.handle(&mut desk, envelope).await.exit {
                                return Served::Exited(exit);
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

/// How serving ended when a handed-off message ended the instance: its
/// caller reported the exit, except a kill's, which the supervisor's stop
/// request answers.
fn ended_in_hand(exit: ExitReason) -> Served {
    match exit {
        ExitReason::Crash(CrashReason::Killed) => Served::Exited(exit),
        _ => Served::Reported,
    }
}
