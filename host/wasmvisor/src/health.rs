//! Health: what a plugin's `health` export answered, and how failures are
//! counted.
//!
//! The actor probes its instance between messages (see `actor::probe` for
//! the schedule, and [`HealthSpec`](crate::HealthSpec) for its settings). A
//! probe *fails* when the guest answers `unhealthy`, or answers later than
//! the spec's timeout after the probe was due (time spent waiting behind a
//! long message counts, so a wedged actor is found). `healthy` and
//! `degraded` reset the count of failures in a row; `degraded` is reported
//! but never restarts anything. When the count reaches the threshold the
//! instance is stopped and its exit is
//! [`ExitReason::HealthCheckFailed`](crate::ExitReason), which is abnormal.
//! The rules are S18 of `docs/design/supervision.md`.

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
