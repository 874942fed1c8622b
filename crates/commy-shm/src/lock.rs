//! The per-variable writer lock: a compare-and-swap on a word holding the writer's pid.
//!
//! A writer that dies while holding the lock wedges nothing: a waiting writer notices that the holder's process is
//! gone and takes the lock over with a second compare-and-swap. The dead writer never published, so the active slot
//! is intact and the new holder simply overwrites the half-written inactive slot.
//!
//! A holder that is alive but never lets go (stopped with `SIGSTOP`, or a lock word forged by a read-write peer) is
//! waited for only up to a bound: then [`acquire`] fails with [`LockTimeout`] and the caller changes nothing.
//!
//! Bit 31 of the word is a *contended* flag (Linux pids stay below 2^22). A waiter that has spun without success
//! sets it; a writer releasing a contended lock yields the CPU once, so that a writer in a tight loop cannot take
//! the lock back before the waiters get a chance. Uncontended writes never see the flag.

use crate::platform;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Spins before the waiter starts yielding the CPU.
const SPINS: u32 = 64;
/// While yielding, the holder's liveness and the deadline are checked every this many attempts.
const LIVENESS_EVERY: u32 = 32;
/// Set in the lock word by a waiter; the holder yields after releasing.
pub(crate) const CONTENDED: u32 = 1 << 31;

/// The lock stayed held by a live process (or by this one, under a forged word) for the whole bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockTimeout {
    /// The pid the lock word named last.
    pub(crate) holder: u32,
    /// How long the caller waited.
    pub(crate) waited: Duration,
}

/// Holds a variable's lock; releases it on drop (also on unwind).
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    word: &'a AtomicU32,
    me: u32,
}

impl LockGuard<'_> {
    /// Whether the word still names this process: false only if another process judged this one dead and took the
    /// lock over. A writer publishes only while this holds.
    pub(crate) fn still_held(&self) -> bool {
        self.word.load(Ordering::Acquire) & !CONTENDED == self.me
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Release with a compare-and-swap of our own pid (with or without the contended flag), so that a lock
        // somebody else took over is never freed by us.
        let mut seen = self.word.load(Ordering::Relaxed);
        while seen & !CONTENDED == self.me {
            match self
                .word
                .compare_exchange_weak(seen, 0, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if seen & CONTENDED != 0 {
                        std::thread::yield_now();
                    }
                    return;
                }
                Err(now) => seen = now,
            }
        }
    }
}

/// Takes the lock in `word` for process `me`, waiting up to `bound` for a live holder and taking over from a dead
/// one.
pub(crate) fn acquire(word: &AtomicU32, me: u32, bound: Duration) -> Result<LockGuard<'_>, LockTimeout> {
    let mut attempts: u32 = 0;
    let mut started: Option<Instant> = None;
    loop {
        let seen = match word.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(LockGuard { word, me }),
            Err(seen) => seen,
        };
        attempts = attempts.wrapping_add(1);
        if seen == 0 || attempts < SPINS {
            std::hint::spin_loop();
            continue;
        }
        if seen & CONTENDED == 0 {
            // Best effort: if the holder changed meanwhile, the next round sets the flag again.
            let _ = word.compare_exchange(seen, seen | CONTENDED, Ordering::Relaxed, Ordering::Relaxed);
        }
        let holder = seen & !CONTENDED;
        if attempts.is_multiple_of(LIVENESS_EVERY) {
            if holder != me
                && !platform::process_alive(holder)
                && word
                    .compare_exchange(seen | CONTENDED, me, Ordering::Acquire, Ordering::Relaxed)
                    .or_else(|_| word.compare_exchange(seen, me, Ordering::Acquire, Ordering::Relaxed))
                    .is_ok()
            {
                return Ok(LockGuard { word, me });
            }
            let waited = started.get_or_insert_with(Instant::now).elapsed();
            if waited >= bound {
                return Err(LockTimeout { holder, waited });
            }
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(30);

    #[test]
    fn takes_over_from_a_dead_pid() {
        // pid_max on Linux is at most 2^22, so this pid cannot exist.
        let word = AtomicU32::new(4_194_304 + 17);
        let me = platform::current_pid();
        let guard = acquire(&word, me, BOUND).unwrap();
        assert_eq!(word.load(Ordering::Relaxed), me);
        drop(guard);
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_live_holder_is_waited_for_only_up_to_the_bound() {
        // Pid 1 is alive (init, or this container's first process) and never ours.
        let word = AtomicU32::new(1);
        let me = platform::current_pid();
        let err = acquire(&word, me, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.holder, 1);
        assert_eq!(
            word.load(Ordering::Relaxed) & !CONTENDED,
            1,
            "the holder's lock was left alone"
        );
        // A forged word naming this very process cannot be taken over either, and is not waited for for ever.
        word.store(me, Ordering::Relaxed);
        assert_eq!(acquire(&word, me, Duration::from_millis(20)).unwrap_err().holder, me);
    }

    #[test]
    fn a_guard_whose_lock_was_taken_over_does_not_release_the_new_holder() {
        let word = AtomicU32::new(0);
        let me = platform::current_pid();
        let guard = acquire(&word, me, BOUND).unwrap();
        assert!(guard.still_held());
        word.store(1, Ordering::Relaxed); // another process took it over, judging us dead
        assert!(!guard.still_held());
        drop(guard);
        assert_eq!(word.load(Ordering::Relaxed), 1);
    }
}
