//! Health checks: the guest's own `health` export, called on a schedule.
//!
//! The actor probes its instance between messages, every
//! [`HealthSpec::interval`]. A probe *fails* when the guest answers
//! `unhealthy`, or answers later than [`HealthSpec::timeout`] after the probe
//! was due (time spent waiting behind a long message counts, so a wedged
//! actor is found). `healthy` and `degraded` reset the count of failures in a
//! row; `degraded` is reported but never restarts anything. When the count
//! reaches [`HealthSpec::threshold`] the instance is stopped (by its shutdown
//! spec) and the exit is [`ExitReason::HealthCheckFailed`](crate::ExitReason),
//! which is abnormal, so its supervisor restarts it. A probe that traps is a crash at once, as a trapped
//! instance can never be entered again.

use std::time::Duration;

use crate::bindings::health::HealthStatus as WitHealthStatus;
use crate::limits::check_duration;

/// When and how strictly to probe an actor's health.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthSpec {
    /// Time between probes. Default: 10 s.
    pub interval: Duration,
    /// How late a probe's answer may be, counted from when it was due.
    /// Default: 1 s.
    pub timeout: Duration,
    /// Failures in a row that make the host restart the instance. Default: 3.
    pub threshold: u32,
    /// How long after an instance starts the first check runs. Default:
    /// one interval.
    pub initial_delay: Option<Duration>,
}

impl Default for HealthSpec {
    fn default() -> Self {
        HealthSpec {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            threshold: 3,
            initial_delay: None,
        }
    }
}

impl HealthSpec {
    /// Sets [`HealthSpec::interval`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`HealthSpec::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`HealthSpec::initial_delay`].
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Sets [`HealthSpec::threshold`].
    pub fn threshold(mut self, threshold: u32) -> Self {
        self.threshold = threshold;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_duration("health interval", self.interval)?;
        check_duration("health timeout", self.timeout)?;
        if let Some(delay) = self.initial_delay {
            check_duration("health initial delay", delay)?;
        }
        if self.interval.is_zero() {
            return Err("health interval must be more than zero".into());
        }
        if self.threshold == 0 {
            return Err("health threshold must be at least 1".into());
        }
        Ok(())
    }
}

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "kebab-case")]
pub enum HealthStatus {
    /// Not checked yet (or the plugin has no health export).
    Unknown,
    /// The guest says it works.
    Healthy,
    /// The guest works with a problem (the reason); reported only.
    Degraded(String),
    /// The last check failed (the reason: the guest's, or a timeout).
    Unhealthy(String),
}

impl From<WitHealthStatus> for HealthStatus {
    fn from(status: WitHealthStatus) -> Self {
        match status {
            WitHealthStatus::Healthy => HealthStatus::Healthy,
            WitHealthStatus::Degraded(reason) => HealthStatus::Degraded(reason),
            WitHealthStatus::Unhealthy(reason) => HealthStatus::Unhealthy(reason),
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthStatus::Unknown => write!(f, "-"),
            HealthStatus::Healthy => write!(f, "healthy"),
            HealthStatus::Degraded(reason) => write!(f, "degraded: {reason}"),
            HealthStatus::Unhealthy(reason) => write!(f, "unhealthy: {reason}"),
        }
    }
}

/// Counts failed probes in a row for one instance.
#[derive(Debug, Default)]
pub(crate) struct FailureCounter {
    in_a_row: u32,
}

impl FailureCounter {
    /// Records a probe's result (already judged against the timeout) and
    /// returns true when the failures in a row reach `threshold`.
    pub(crate) fn record(&mut self, status: &HealthStatus, threshold: u32) -> bool {
        match status {
            HealthStatus::Unhealthy(_) => self.in_a_row += 1,
            HealthStatus::Healthy | HealthStatus::Degraded(_) | HealthStatus::Unknown => {
                self.in_a_row = 0
            }
        }
        self.in_a_row >= threshold
    }

    pub(crate) fn in_a_row(&self) -> u32 {
        self.in_a_row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_in_a_row_reach_the_threshold() {
        let mut counter = FailureCounter::default();
        let bad = HealthStatus::Unhealthy("x".into());
        assert!(!counter.record(&bad, 3));
        assert!(!counter.record(&bad, 3));
        assert!(!counter.record(&HealthStatus::Degraded("slow".into()), 3));
        assert_eq!(counter.in_a_row(), 0);
        assert!(!counter.record(&bad, 3));
        assert!(!counter.record(&bad, 3));
        assert!(counter.record(&bad, 3));
    }
}
