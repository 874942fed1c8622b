//! The per-variable writer lock: a compare-and-swap on a 64-bit word holding the writer's lock identity (pid and
//! process start time, see `platform::current_identity`), so that neither a reused pid nor a forked child is
//! mistaken for the holder.
//!
//! A writer that dies while holding the lock wedges nothing: a waiting writer notices that the holder's process is
//! gone and takes the lock over with a second compare-and-swap. The dead writer never published, so the active slot
//! is intact and the new holder simply overwrites the half-written inactive slot.
//!
//! A holder that is alive but never lets go (stopped with `SIGSTOP`, or a lock word forged by a read-write peer) is
//! waited for only up to a bound: then [`acquire`] fails with [`LockTimeout`] and the caller changes nothing.
//!
//! Bit 63 of the word is a *contended* flag (identities never set it). A waiter that has spun without success
//! sets it; a writer releasing a contended lock yields the CPU once, so that a writer in a tight loop cannot take
//! the lock back before the waiters get a chance. Uncontended writes never see the flag.

use crate::platform;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Spins before the waiter starts yielding the CPU.
const SPINS: u32 = 64;
/// While yielding, the holder's liveness and the deadline are checked every this many attempts.
const LIVENESS_EVERY: u32 = 32;
/// Set in the lock word by a waiter; the holder yields after releasing.
pub(crate) const CONTENDED: u64 = 1 << 63;
/// The lock word of a file the owner has moved away from (see `relocate.rs`): every bit but the contended flag set,
/// a pid above any `pid_max`, so no identity is ever equal to it. [`acquire`] fails at once on it, and nobody takes
/// it over: a write to a retired file reaches nobody, so it must fail rather than be acknowledged.
pub(crate) const RETIRED: u64 = !CONTENDED;

/// The lock stayed held by a live process (or by this one, under a forged word) for the whole bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockTimeout {
    /// The pid the lock word named last.
    pub(crate) holder: u32,
    /// How long the caller waited.
    pub(crate) waited: Duration,
    /// The word said [`RETIRED`]: the file was moved away from, and the caller did not wait.
    pub(crate) retired: bool,
}

impl From<LockTimeout> for crate::AccessError {
    /// A retired word is [`crate::AccessError::Moved`]; a live holder is a timeout.
    fn from(t: LockTimeout) -> Self {
        match t.retired {
            true => crate::AccessError::Moved,
            false => crate::AccessError::LockTimeout {
                holder: t.holder,
                waited_ms: t.waited.as_millis() as u64,
            },
        }
    }
}

/// Holds a variable's lock; releases it on drop (also on unwind).
#[derive(Debug)]
pub(crate) struct LockGuard<'a> {
    word: &'a AtomicU64,
    me: u64,
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

/// Takes the lock in `word` for `me` with one compare-and-swap, without waiting: `Err` carries the pid the word named
/// (0 if the swap failed spuriously while the lock was free).
#[inline]
pub(crate) fn try_acquire(word: &AtomicU64, me: u64) -> Result<LockGuard<'_>, u32> {
    match word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
        Ok(_) => Ok(LockGuard { word, me }),
        Err(seen) => Err(platform::pid_of(seen & !CONTENDED)),
    }
}

/// Takes the lock in `word` for the process whose identity is `me`, waiting up to `bound` for a live holder and
/// taking over from a dead one.
pub(crate) fn acquire(word: &AtomicU64, me: u64, bound: Duration) -> Result<LockGuard<'_>, LockTimeout> {
    let mut attempts: u32 = 0;
    let mut started: Option<Instant> = None;
    loop {
        let seen = match word.compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(LockGuard { word, me }),
            Err(seen) => seen,
        };
        if seen & !CONTENDED == RETIRED {
            let waited = started.map_or(Duration::ZERO, |at| at.elapsed());
            return Err(LockTimeout {
                holder: 0,
                waited,
                retired: true,
            });
        }
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
                && !platform::identity_alive(holder)
                && word
                    .compare_exchange(seen | CONTENDED, me, Ordering::Acquire, Ordering::Relaxed)
                    .or_else(|_| word.compare_exchange(seen, me, Ordering::Acquire, Ordering::Relaxed))
                    .is_ok()
            {
                // The dead holder's stores to the slot it was filling happened before its death, which we learned
                // of through /proc, not through this word: order our own stores after the takeover explicitly.
                fence(Ordering::Acquire);
                return Ok(LockGuard { word, me });
            }
            let waited = started.get_or_insert_with(Instant::now).elapsed();
            if waited >= bound {
                let holder = platform::pid_of(holder);
                return Err(LockTimeout {
                    holder,
                    waited,
                    retired: false,
                });
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
    fn takes_over_from_a_dead_holder_and_from_a_reused_pid() {
        let me = platform::current_identity();
        // pid_max on Linux is at most 2^22, so pid 2^22 - 1 with start time 1 is not running; and this very pid
        // with another start time is a process that died before ours took its pid.
        for dead in [((1 << 22) - 1) | (1 << 22), me ^ (1 << 22)] {
            let word = AtomicU64::new(dead);
            let guard = acquire(&word, me, BOUND).unwrap();
            assert_eq!(word.load(Ordering::Relaxed), me);
            drop(guard);
            assert_eq!(word.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn a_live_holder_is_waited_for_only_up_to_the_bound() {
        let me = platform::current_identity();
        // The parent of this process is alive; its identity is its pid and start time.
        let parent = rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get() as u32);
        let stat = std::fs::read_to_string(format!("/proc/{parent}/stat")).unwrap();
        let start: u64 = stat
            .rsplit_once(") ")
            .unwrap()
            .1
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        let holder = parent as u64 | start << 22;
        let word = AtomicU64::new(holder);
        let err = acquire(&word, me, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.holder, parent);
        assert_eq!(
            word.load(Ordering::Relaxed) & !CONTENDED,
            holder,
            "the holder's lock was left alone"
        );
        // A forged word naming this very process cannot be taken over either, and is not waited for for ever.
        word.store(me, Ordering::Relaxed);
        assert_eq!(
            acquire(&word, me, Duration::from_millis(20)).unwrap_err().holder,
            platform::pid_of(me)
        );
    }

    #[test]
    fn a_retired_word_fails_at_once_and_is_never_taken_over() {
        let word = AtomicU64::new(RETIRED);
        let err = acquire(&word, platform::current_identity(), BOUND).unwrap_err();
        assert!(err.retired);
        assert_eq!(word.load(Ordering::Relaxed), RETIRED);
        word.store(RETIRED | CONTENDED, Ordering::Relaxed);
        assert!(acquire(&word, platform::current_identity(), BOUND).unwrap_err().retired);
    }

    #[test]
    fn a_guard_whose_lock_was_taken_over_does_not_release_the_new_holder() {
        let word = AtomicU64::new(0);
        let me = platform::current_identity();
        let guard = acquire(&word, me, BOUND).unwrap();
        assert!(guard.still_held());
        word.store(1, Ordering::Relaxed); // another process took it over, judging us dead
        assert!(!guard.still_held());
        drop(guard);
        assert_eq!(word.load(Ordering::Relaxed), 1);
    }
}
