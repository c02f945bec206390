//! Health probes of one instance: the schedule, the count of failures in a
//! row, and what a probe's answer means for the instance (S18 of
//! `docs/design/supervision.md`).

use tokio::time::{Interval, MissedTickBehavior};

use super::shared::ActorShared;
use crate::error::CrashReason;
use crate::events::{Event, EventBus};
use crate::health::{FailureCounter, HealthStatus};
use crate::runtime::Instance;
use crate::spec::HealthSpec;
use crate::util::millis;

/// What one health probe means for the instance.
pub(crate) enum Probe {
    /// It goes on.
    Passed,
    /// The check trapped: the instance is gone.
    Crashed(CrashReason),
    /// The check ran past its timeout and was cut off, so the instance is
    /// gone too (the reason).
    CutOff(String),
    /// The failures in a row reached the threshold (the last failure).
    FailedTooOften(String),
}

/// The health checks of one instance: when the next is due, and how many
/// failed in a row. A new instance gets a new one.
pub(crate) struct HealthProbe {
    /// `None` without a `health` export: never due.
    timer: Option<Interval>,
    failures: FailureCounter,
}

impl HealthProbe {
    /// The schedule of a fresh `instance`: the first check one interval (or
    /// the initial delay) from now, then every interval.
    pub(crate) fn new(instance: Option<&Instance>, spec: &HealthSpec) -> Self {
        let timer = instance.filter(|i| i.has_health_check()).map(|_| {
            let first = tokio::time::Instant::now() + spec.initial_delay.unwrap_or(spec.interval);
            let mut timer = tokio::time::interval_at(first, spec.interval);
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
            timer
        });
        HealthProbe {
            timer,
            failures: FailureCounter::default(),
        }
    }

    /// Completes when the next check is due (with when it was due), or
    /// never when the plugin has no health check.
    pub(crate) async fn due(&mut self) -> tokio::time::Instant {
        match &mut self.timer {
            Some(timer) => timer.tick().await,
            None => std::future::pending().await,
        }
    }

    /// Runs one check that was due at `due` on `instance`, and records its
    /// result in `shared` (publishing a change of health on `events`).
    pub(crate) async fn check(
        &mut self,
        instance: &mut Instance,
        due: tokio::time::Instant,
        spec: &HealthSpec,
        shared: &ActorShared,
        events: &EventBus,
    ) -> Probe {
        let (status, cut_off) = match instance.check_health(spec.timeout).await {
            None => return Probe::Passed,
            Some(Ok(status)) => {
                // A health check observes; whatever it wrote is not kept.
                instance.discard_changes();
                let late = due.elapsed();
                let status = if late > spec.timeout {
                    HealthStatus::Unhealthy(format!(
                        "no answer within {} ms (answered after {} ms)",
                        millis(spec.timeout),
                        millis(late)
                    ))
                } else {
                    status
                };
                (status, false)
            }
            // Cut off at its own deadline: wasmtime never lets an interrupted
            // instance be entered again, so it cannot count as one failure
            // among the threshold and go on (S18).
            Some(Err(CrashReason::DeadlineExceeded { .. })) => {
                let reason = format!(
                    "no answer within {} ms: the check was cut off",
                    millis(spec.timeout)
                );
                (HealthStatus::Unhealthy(reason), true)
            }
            Some(Err(crash)) => return Probe::Crashed(crash),
        };
        let failed_too_often = self.failures.record(&status, spec.threshold);
        let changed = {
            let mut shown = shared.lock();
            let changed = shown.health != status;
            shown.health = status.clone();
            shown.health_checks += 1;
            shown.health_failures = self.failures.in_a_row();
            changed
        };
        if changed {
            events.publish(Event::HealthChanged {
                actor: shared.name.to_string(),
                status: status.clone(),
            });
        }
        let last = || match &status {
            HealthStatus::Unhealthy(reason) => reason.clone(),
            other => other.to_string(),
        };
        if cut_off {
            return Probe::CutOff(last());
        }
        if failed_too_often {
            let last = last();
            return Probe::FailedTooOften(format!(
                "{last} ({} checks in a row)",
                self.failures.in_a_row()
            ));
        }
        Probe::Passed
    }
}
