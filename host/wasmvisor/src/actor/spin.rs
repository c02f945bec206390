//! Waiting a moment for a lock that another thread holds, by spinning.
//!
//! A call to a busy actor goes through its mailbox: the actor task is woken
//! for it, and the caller is woken for the reply. When the actor is busy
//! only because another caller, on another worker thread, is running a
//! handed-off message (a guest call of a microsecond or two), those two
//! wake-ups cost far more than the wait: waking a parked thread takes tens
//! of microseconds on a virtual machine. So a caller that finds the desk
//! held first tries again for a bounded number of spins, and only then
//! takes the mailbox. It spins only on a multi-threaded runtime: on a
//! current-thread one the holder cannot run while the caller spins.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// How many times a caller tries again for a held desk: about 30 µs of
/// spinning at most on the AMD EPYC that docs/benchmarks.md was measured
/// on (a handed-off guest call lets go within a few); about as long as
/// waking a parked thread takes there. Fewer caught too few releases in the
/// one-actor throughput benchmark; more spent the time better given to the
/// mailbox.
pub(crate) const DESK_SPINS: u32 = 1000;

/// Locks `lock` if it is free or becomes free within `spins` tries;
/// `None` if it stays held, or as soon as `give_up` says so.
pub(crate) fn lock_soon<T>(
    lock: &Arc<Mutex<T>>,
    spins: u32,
    give_up: impl Fn() -> bool,
) -> Option<OwnedMutexGuard<T>> {
    if let Ok(guard) = Arc::clone(lock).try_lock_owned() {
        return Some(guard);
    }
    if !may_spin() {
        return None;
    }
    for _ in 0..spins {
        if give_up() {
            return None;
        }
        std::hint::spin_loop();
        if let Ok(guard) = Arc::clone(lock).try_lock_owned() {
            return Some(guard);
        }
    }
    None
}

/// Whether spinning can help: on a multi-threaded tokio runtime, or on a
/// thread outside any runtime (the holder then runs on another thread).
fn may_spin() -> bool {
    tokio::runtime::Handle::try_current().map_or(true, |runtime| {
        runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_lock_released_by_another_thread_while_spinning_is_taken() {
        let lock = Arc::new(Mutex::new(()));
        let held = Arc::clone(&lock).try_lock_owned().unwrap();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            drop(held);
        });
        // Without spinning, a held lock is `None` at once.
        assert!(lock_soon(&lock, u32::MAX, || false).is_some());
        holder.join().unwrap();
    }

    #[test]
    fn a_lock_that_stays_held_is_given_up_after_the_spins() {
        let lock = Arc::new(Mutex::new(()));
        let _held = Arc::clone(&lock).try_lock_owned().unwrap();
        assert!(lock_soon(&lock, 100, || false).is_none());
    }

    #[test]
    fn spinning_stops_as_soon_as_it_is_told_to() {
        let lock = Arc::new(Mutex::new(()));
        let _held = Arc::clone(&lock).try_lock_owned().unwrap();
        let asked = Cell::new(0);
        let give_up = || {
            asked.set(asked.get() + 1);
            asked.get() == 3
        };
        assert!(lock_soon(&lock, u32::MAX, give_up).is_none());
        assert_eq!(asked.get(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn on_a_current_thread_runtime_a_held_lock_is_not_waited_for() {
        let lock = Arc::new(Mutex::new(()));
        let _held = Arc::clone(&lock).try_lock_owned().unwrap();
        let give_up = || panic!("spun on a current-thread runtime");
        assert!(lock_soon(&lock, u32::MAX, give_up).is_none());
    }
}
