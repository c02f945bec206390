//! When and how strictly an actor's health is checked.

use std::time::Duration;

use super::limits::check_duration;

/// When and how strictly to probe an actor's health.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HealthSpec {
    /// Time between probes. Default: 10 s.
    pub interval: Duration,
    /// How long a check may take. An answer later than this, counted from
    /// when the check was due (so a check that waited behind a long message
    /// is late), is a failure. The check call itself runs under this as its
    /// deadline, not under the call timeout of
    /// [`Limits`](crate::Limits::call_timeout): one that runs past it is cut
    /// off, and as an interrupted instance is never entered again, the
    /// instance ends at once with
    /// [`ExitReason::HealthCheckFailed`](crate::ExitReason::HealthCheckFailed),
    /// whatever the count. Default: 1 s.
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
