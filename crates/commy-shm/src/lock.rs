//! The per-variable writer lock: a compare-and-swap on a word holding the writer's pid.
//!
//! A writer that dies while holding the lock wedges nothing: a waiting writer notices that the holder's process is
//! gone and takes the lock over with a second compare-and-swap. The dead writer never published, so the active slot
//! is intact and the new holder simply overwrites the half-written inactive slot.
//!
//! Bit 31 of the word is a *contended* flag (Linux pids stay below 2^22). A waiter that has spun without success
//! sets it; a writer releasing a contended lock yields the CPU once, so that a writer in a tight loop cannot take
//! the lock back before the waiters get a chance. Uncontended writes never see the flag.

use crate::platform;
use std::sync::atomic::{AtomicU32, Ordering};

/// Spins before the waiter starts yielding the CPU.
const SPINS: u32 = 64;
/// While yielding, the holder's liveness is checked every this many attempts.
const LIVENESS_EVERY: u32 = 32;
/// Set in the lock word by a waiter; the holder yields after releasing.
pub(crate) const CONTENDED: u32 = 1 << 31;

/// Holds a variable's lock; releases it on drop (also on unwind).
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    word: &'a AtomicU32,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let contended = self.word.load(Ordering::Relaxed) & CONTENDED != 0;
        self.word.store(0, Ordering::Release);
        if contended {
            std::thread::yield_now();
        }
    }
}

/// Takes the lock in `word` for process `me`, waiting for a live holder and taking over from a dead one.
pub(crate) fn acquire(word: &AtomicU32, me: u32) -> LockGuard<'_> {
    let mut attempts: u32 = 0;
    loop {
        let seen = match word.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return LockGuard { word },
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
        if holder != me
            && attempts.is_multiple_of(LIVENESS_EVERY)
            && !platform::process_alive(holder)
            && word
                .compare_exchange(seen | CONTENDED, me, Ordering::Acquire, Ordering::Relaxed)
                .or_else(|_| word.compare_exchange(seen, me, Ordering::Acquire, Ordering::Relaxed))
                .is_ok()
        {
            return LockGuard { word };
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_over_from_a_dead_pid() {
        // pid_max on Linux is at most 2^22, so this pid cannot exist.
        let word = AtomicU32::new(4_194_304 + 17);
        let me = platform::current_pid();
        let guard = acquire(&word, me);
        assert_eq!(word.load(Ordering::Relaxed), me);
        drop(guard);
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }
}
