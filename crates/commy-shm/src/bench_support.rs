//! Baselines for benchmarks in crates that may not use unsafe code (`commy bench` in the `commy` crate): a raw futex
//! ping-pong between two processes, the floor under any cross-process change signal.
//!
//! Two `u32` words on separate cache lines of a shared file mapping: the parent publishes round `i` in the ping word
//! and wakes its sleeper, the child sleeps until it sees `i`, then publishes `i` in the pong word and wakes the parent.
//! Nothing else happens: no version table, no scan, no lock. The words are reached through the crate's own mapping
//! type and the futex calls through its platform module, so this file adds no unsafe code and uses exactly the
//! system calls a commy write and a [`Watcher`](crate::Watcher) use.
//!
//! [`pin_to_cpu`] places a benchmark's processes on chosen vCPUs, since a wake-up across vCPUs and one on the same
//! vCPU cost very different amounts on a virtual machine.
//!
//! Enabled by the `bench-support` feature; not part of the service-file interface.

use crate::mapping::{Access, Mapping};
use crate::platform;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The shared file's length: one page.
const LEN: u64 = 4096;
/// The ping word's offset; the pong word is one cache line further.
const PING: u64 = 0;
const PONG: u64 = 64;
/// How long one futex wait sleeps before it re-checks its deadline.
const SLICE: Duration = Duration::from_millis(100);

/// One side of a raw futex ping-pong over a shared file.
#[derive(Debug)]
pub struct FutexPingPong {
    map: Mapping,
}

impl FutexPingPong {
    /// Creates the shared file at `path` (which must not exist) and maps it: the parent's side.
    pub fn create(path: &Path) -> std::io::Result<FutexPingPong> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        file.set_len(LEN)?;
        FutexPingPong::map(file)
    }

    /// Maps the file the parent created: the child's side.
    pub fn open(path: &Path) -> std::io::Result<FutexPingPong> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        if file.metadata()?.len() < LEN {
            return Err(std::io::Error::other("futex ping-pong file is too short"));
        }
        FutexPingPong::map(file)
    }

    fn map(file: std::fs::File) -> std::io::Result<FutexPingPong> {
        let map = Mapping::new(file, Access::ReadWrite, LEN as usize, LEN as usize)?;
        Ok(FutexPingPong { map })
    }

    fn word(&self, offset: u64) -> &AtomicU32 {
        // In bounds (both offsets are below LEN, which the file is at least) and 4-aligned, as u32_at requires.
        self.map.u32_at(offset)
    }

    /// The parent's round `i`: publishes `i` in the ping word, wakes the child, and sleeps until the pong word holds
    /// `i`. `false` if `deadline` passed first.
    pub fn round(&self, i: u32, deadline: Instant) -> bool {
        post(self.word(PING), i);
        wait_for(self.word(PONG), i, deadline)
    }

    /// The child's side: for rounds `1..=rounds`, sleeps until the ping word holds the round, then echoes it in the
    /// pong word. `false` if some round did not come within `per_round`.
    pub fn echo(&self, rounds: u32, per_round: Duration) -> bool {
        for i in 1..=rounds {
            if !wait_for(self.word(PING), i, Instant::now() + per_round) {
                return false;
            }
            post(self.word(PONG), i);
        }
        true
    }
}

/// Pins the calling thread to one CPU. Threads and processes it starts afterwards inherit the pinning, so a process
/// that calls this first, before it starts any thread, runs wholly on that CPU.
pub fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

/// The CPUs the calling thread may run on, in increasing order.
pub fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    let set = rustix::thread::sched_getaffinity(None)?;
    Ok((0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|&cpu| set.is_set(cpu))
        .collect())
}

/// Publishes `value` and wakes the word's sleeper (a FUTEX_WAKE whether or not one sleeps, as the floor).
fn post(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    platform::wake_all(word);
}

/// Sleeps on `word` until it holds `value` or `deadline` passes. Looks before it sleeps, so a value published
/// before the first wait is seen.
fn wait_for(word: &AtomicU32, value: u32, deadline: Instant) -> bool {
    loop {
        let seen = word.load(Ordering::Acquire);
        if seen == value {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        platform::wait_on(word, seen, SLICE.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_pong_between_two_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pp");
        let parent = FutexPingPong::create(&path).unwrap();
        let child = FutexPingPong::open(&path).unwrap();
        let echo = std::thread::spawn(move || child.echo(100, Duration::from_secs(10)));
        for i in 1..=100 {
            assert!(parent.round(i, Instant::now() + Duration::from_secs(10)));
        }
        assert!(echo.join().unwrap());
    }

    #[test]
    fn pinning_to_an_allowed_cpu() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        // On a thread of its own, so that the test runner's threads keep their affinity.
        let first = cpus[0];
        let pinned = std::thread::spawn(move || {
            pin_to_cpu(first).unwrap();
            allowed_cpus().unwrap()
        });
        assert_eq!(pinned.join().unwrap(), [first]);
    }

    #[test]
    fn a_missing_echo_ends_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let parent = FutexPingPong::create(&dir.path().join("pp")).unwrap();
        assert!(!parent.round(1, Instant::now() + Duration::from_millis(20)));
    }
}
