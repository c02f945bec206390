//! Small helpers every room of the crate uses.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// `duration` in whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Locks `mutex`, taking over a poisoned one: every lock in the host guards
/// data that each critical section leaves whole (a single insert, push,
/// swap or field assignment), so a holder's panic cannot leave it half
/// updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
