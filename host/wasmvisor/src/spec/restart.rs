//! How children are restarted and stopped: OTP's restart types, shutdown
//! specs and strategies, and the restart delays and snapshot policies OTP
//! leaves to the application (S4, S7, S10, S17 of
//! `docs/design/supervision.md`).

use std::time::Duration;

/// When a child is restarted after its instance ends (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartType {
    /// Always restarted, even after a normal exit. The default.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (a crash, a kill, failed health
    /// checks); a normal exit leaves it stopped. For jobs.
    Transient,
    /// Never restarted.
    Temporary,
}

/// How a child is stopped when its supervisor stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Let the message in progress finish, call the guest's `shutdown`
    /// export (if any), and wait up to this long in all; then kill the
    /// instance, even mid-call (exit reason `Killed`). For a child
    /// supervisor, its children are killed at that point. The default for
    /// workers, with 5 s.
    Timeout(Duration),
    /// Kill the instance at once, even in the middle of a message (whose
    /// caller gets [`CallError::Stopped`](crate::CallError::Stopped)).
    BrutalKill,
    /// Wait as long as it takes: the default for child supervisors, which
    /// stop their own children by their own specs. For a worker, its
    /// `shutdown` export still runs under the per-call deadline.
    Infinity,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

/// Which children restart when one of them has to (OTP's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that ended is restarted. The default.
    #[default]
    OneForOne,
    /// Every child is restarted: the others are stopped in reverse start
    /// order, then all start again in start order. For children that
    /// depend on each other.
    OneForAll,
    /// The child and every child started after it are restarted. For a chain
    /// where later children depend on earlier ones.
    RestForOne,
}

impl std::fmt::Display for Strategy {
    /// As in a manifest: `one-for-one`, `one-for-all`, `rest-for-one`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::OneForOne => "one-for-one",
            Strategy::OneForAll => "one-for-all",
            Strategy::RestForOne => "rest-for-one",
        })
    }
}

/// How long a supervisor waits before restarting a child.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Backoff {
    /// Restart at once. The default.
    #[default]
    Immediate,
    /// Wait the same time before every restart.
    Fixed(Duration),
    /// Wait `initial`, then `multiplier` times longer after each restart in a
    /// row, at most `max`. The count starts again once an instance has stayed
    /// up for the supervisor's intensity window.
    Exponential {
        /// The first wait.
        initial: Duration,
        /// The longest wait.
        max: Duration,
        /// The growth factor between waits (at least 1).
        multiplier: u32,
    },
}

impl Backoff {
    /// The wait before the `n`-th restart in a row (counting from 1).
    pub fn delay(&self, n: u32) -> Duration {
        match *self {
            Backoff::Immediate => Duration::ZERO,
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential {
                initial,
                max,
                multiplier,
            } => {
                let factor = multiplier.max(1).saturating_pow(n.saturating_sub(1));
                initial.saturating_mul(factor).min(max)
            }
        }
    }

    pub(crate) fn shortest(&self) -> Duration {
        self.delay(1)
    }

    pub(crate) fn longest(&self) -> Duration {
        match *self {
            Backoff::Exponential { max, .. } => max,
            other => other.delay(1),
        }
    }
}

/// When the host snapshots a plugin that exports `snapshot` (its state in
/// linear memory). Whatever the guest changed in memory after the last
/// snapshot is lost when it crashes; its `state` writes never are, since
/// they commit with every message. A graceful stop always takes a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotPolicy {
    /// After every successful message: nothing is lost. The default.
    #[default]
    EveryMessage,
    /// After every `n`-th successful message: up to `n - 1` messages' worth
    /// of in-memory changes can be lost.
    EveryMessages(u32),
    /// After the first successful message once this long has passed since
    /// the last snapshot: up to that long of in-memory changes can be lost.
    Interval(Duration),
}

/// When a supervisor stops by itself because its *significant* children
/// finished (OTP's `auto_shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Never. The default.
    #[default]
    Never,
    /// When any significant child finishes.
    AnySignificant,
    /// When every significant child has finished.
    AllSignificant,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::millis;

    #[test]
    fn exponential_backoff_grows_and_stops_at_max() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            multiplier: 2,
        };
        let delays: Vec<u64> = (1..=5).map(|n| millis(backoff.delay(n))).collect();
        assert_eq!(delays, vec![10, 20, 40, 50, 50]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(50));
    }
}
