//! Restart intensity (S5 of `docs/design/supervision.md`): one sliding
//! window of restart attempts per supervisor. Before every attempt the
//! supervisor records it; the attempt that makes more than `max_restarts`
//! within `within` is not made, and the supervisor gives up.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::status::RestartBudget;
use crate::util::millis;

/// The restart attempts of one supervisor within its window, oldest first.
#[derive(Debug)]
pub(crate) struct RestartIntensity {
    max_restarts: u32,
    within: Duration,
    attempts: VecDeque<Instant>,
}

impl RestartIntensity {
    /// At most `max_restarts` attempts within `within`.
    pub(crate) fn new(max_restarts: u32, within: Duration) -> Self {
        RestartIntensity {
            max_restarts,
            within,
            attempts: VecDeque::new(),
        }
    }

    /// Records an attempt made at `now`; true when it is one too many (the
    /// supervisor must not make it, and gives up instead). An attempt
    /// exactly `within` old is still in the window, as in OTP.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        // Oldest first: drop the attempts that left the window from the
        // front, rather than scanning every attempt still in the window.
        while self
            .attempts
            .front()
            .is_some_and(|&attempt| now.duration_since(attempt) > self.within)
        {
            self.attempts.pop_front();
        }
        self.attempts.push_back(now);
        self.attempts.len() > self.max_restarts as usize
    }

    /// The intensity, and how many attempts of the window ending at `now`
    /// used it.
    pub(crate) fn budget(&self, now: Instant) -> RestartBudget {
        let used = self
            .attempts
            .iter()
            .filter(|&&attempt| now.duration_since(attempt) <= self.within)
            .count();
        RestartBudget {
            max_restarts: self.max_restarts,
            within_ms: millis(self.within),
            used: u32::try_from(used).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attempt_past_the_maximum_within_the_window_is_refused() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut intensity = RestartIntensity::new(2, Duration::from_millis(100));
        assert!(!intensity.record(at(0)));
        assert!(!intensity.record(at(50)));
        assert!(intensity.record(at(100)), "the third within 100 ms");
        assert_eq!(intensity.budget(at(100)).used, 3);
    }

    #[test]
    fn attempts_leave_the_window_once_older_than_it() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut intensity = RestartIntensity::new(1, Duration::from_millis(100));
        assert!(!intensity.record(at(0)));
        // Exactly 100 ms old: still in the window.
        assert!(intensity.record(at(100)));
        let mut intensity = RestartIntensity::new(1, Duration::from_millis(100));
        assert!(!intensity.record(at(0)));
        assert!(!intensity.record(at(101)));
        assert_eq!(intensity.budget(at(150)).left(), 0);
        assert_eq!(intensity.budget(at(202)).left(), 1);
    }

    #[test]
    fn zero_restarts_refuses_the_first() {
        let mut intensity = RestartIntensity::new(0, Duration::from_secs(1));
        assert!(intensity.record(Instant::now()));
    }
}
