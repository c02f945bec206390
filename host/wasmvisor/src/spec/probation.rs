//! How long a hot upgrade stays on probation (S21 of
//! `docs/design/supervision.md`).

use std::time::Duration;

use super::limits::check_duration;

/// How long a new version that took over in a hot upgrade
/// ([`SupervisorRef::upgrade_child`](crate::SupervisorRef::upgrade_child))
/// stays on probation: until `window` has passed or it has answered
/// `messages` messages, whichever comes first. Until then, a crash of the
/// new version or a failed health check rolls back to the previous version
/// with the state it had at takeover; the messages the new version answered
/// are then handled again by the previous version.
///
/// ```
/// # use std::time::Duration;
/// # use wasmvisor::Probation;
/// let careful = Probation::default().window(Duration::from_secs(60)).messages(1_000);
/// let trusting = Probation::off();
/// # drop((careful, trusting));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probation {
    /// How long the probation lasts at most; zero: no probation (the
    /// upgrade is committed as it takes over). Default: 5 s.
    pub window: Duration,
    /// After how many answered messages it ends, if the window has not
    /// passed first. Default: 100.
    pub messages: u32,
}

impl Default for Probation {
    fn default() -> Self {
        Probation {
            window: Duration::from_secs(5),
            messages: 100,
        }
    }
}

impl Probation {
    /// No probation: an upgrade is committed as soon as the new version
    /// takes over (it must still start and pass a first health check).
    pub fn off() -> Self {
        Probation {
            window: Duration::ZERO,
            messages: 0,
        }
    }

    /// Sets [`Probation::window`].
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets [`Probation::messages`].
    pub fn messages(mut self, messages: u32) -> Self {
        self.messages = messages;
        self
    }

    /// Whether an upgrade goes on probation at all.
    pub(crate) fn is_on(&self) -> bool {
        !self.window.is_zero()
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_duration("the upgrade probation", self.window)?;
        if self.is_on() && self.messages == 0 {
            return Err("an upgrade probation must end after at least 1 message \
                 (for no probation, make its window zero)"
                .into());
        }
        Ok(())
    }
}
