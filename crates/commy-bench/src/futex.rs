//! The raw futex ping-pong between two processes: the floor under any cross-process change signal, and the local
//! watch's baseline.
//!
//! Two words of a [`FutexWords`] file: the pinger publishes round `i` in the ping word and wakes its sleeper, the
//! echoer sleeps until it sees `i`, then publishes `i` in the pong word and wakes the pinger. Nothing else happens:
//! no version table, no scan, no lock. The words and the futex calls are commy-shm's own (`raw-futex` feature), so
//! this is exactly the system calls a commy write and a `Watcher` make, and no unsafe code here.

use commy_shm::raw_futex::FutexWords;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The pinger's word and the echoer's.
const PING: usize = 0;
const PONG: usize = 1;
/// How long one futex wait sleeps before it re-checks its deadline.
const SLICE: Duration = Duration::from_millis(100);

/// One side of a raw futex ping-pong over a shared file.
#[derive(Debug)]
pub(crate) struct FutexPingPong {
    words: FutexWords,
}

impl FutexPingPong {
    /// Creates the shared file at `path` (which must not exist) and maps it.
    pub(crate) fn create(path: &Path) -> std::io::Result<FutexPingPong> {
        Ok(FutexPingPong {
            words: FutexWords::create(path)?,
        })
    }

    /// Maps the file that [`FutexPingPong::create`] made: either side.
    pub(crate) fn open(path: &Path) -> std::io::Result<FutexPingPong> {
        Ok(FutexPingPong {
            words: FutexWords::open(path)?,
        })
    }

    /// The pinger's round `i`: publishes `i` in the ping word, wakes the echoer, and sleeps until the pong word holds
    /// `i`. `false` if `deadline` passed first.
    pub(crate) fn round(&self, i: u32, deadline: Instant) -> bool {
        self.post(PING, i);
        self.wait_for(PONG, i, deadline)
    }

    /// The echoer: for rounds `1..=rounds`, sleeps until the ping word holds the round, then echoes it in the pong
    /// word. `false` if some round did not come within `per_round`.
    pub(crate) fn echo(&self, rounds: u32, per_round: Duration) -> bool {
        for i in 1..=rounds {
            if !self.wait_for(PING, i, Instant::now() + per_round) {
                return false;
            }
            self.post(PONG, i);
        }
        true
    }

    /// Publishes `value` and wakes the word's sleeper (a FUTEX_WAKE whether or not one sleeps, as the floor).
    fn post(&self, word: usize, value: u32) {
        self.words.word(word).store(value, Ordering::Release);
        self.words.wake(word);
    }

    /// Sleeps on `word` until it holds `value` or `deadline` passes. Looks before it sleeps, so a value published
    /// before the first wait is seen.
    fn wait_for(&self, word: usize, value: u32, deadline: Instant) -> bool {
        loop {
            let seen = self.words.word(word).load(Ordering::Acquire);
            if seen == value {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.words.wait(word, seen, SLICE.min(deadline - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_pong_between_two_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pp");
        let pinger = FutexPingPong::create(&path).unwrap();
        let echoer = FutexPingPong::open(&path).unwrap();
        let echo = std::thread::spawn(move || echoer.echo(100, Duration::from_secs(10)));
        for i in 1..=100 {
            assert!(pinger.round(i, Instant::now() + Duration::from_secs(10)));
        }
        assert!(echo.join().unwrap());
    }

    #[test]
    fn a_missing_echo_ends_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pinger = FutexPingPong::create(&dir.path().join("pp")).unwrap();
        assert!(!pinger.round(1, Instant::now() + Duration::from_millis(20)));
    }
}
