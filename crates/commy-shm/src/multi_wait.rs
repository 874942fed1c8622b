//! Sleeping on the change signals of many services at once: one thread can watch many files.
//!
//! [`Watcher::wait`](crate::Watcher::wait) puts one thread to sleep on one file's change counter. A server that watches
//! thousands of files cannot spend a thread on each, so [`wait_any`] sleeps on up to [`MAX_SIGNALS`] counters (and a
//! process-local [`Doorbell`] that wakes the sleeper when its set changes) with Linux's `futex_waitv` (5.16 and
//! later). Where the kernel lacks it, the call sleeps on the doorbell alone for at most [`READ_ONLY_POLL`] and the
//! caller finds the changes by comparing each counter with [`Service::change_count`] as it last saw it.
//!
//! The caller pairs each counter with a [`Watcher`](crate::Watcher) (whose [`poll`](crate::Watcher::poll) says which
//! variables moved) and a [`WaiterPin`](crate::WaiterPin) (so that writers issue the wake at all).

use crate::layout::header as h;
use crate::service::Service;
use crate::READ_ONLY_POLL;
use rustix::io::Errno;
use rustix::thread::futex;
use rustix::time::{ClockId, Timespec};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// The most words one `futex_waitv` call sleeps on (the kernel's limit): the doorbell and `MAX_SIGNALS - 1` files.
pub const MAX_SIGNALS: usize = 128;

impl Service {
    /// The file's change counter: every publish moves it (wrapping), so a value that differs from the one seen last
    /// means that something may have changed. Read it before looking for changes and pass it to [`wait_any`].
    pub fn change_count(&self) -> u32 {
        self.change_word().load(Ordering::SeqCst)
    }

    fn change_word(&self) -> &AtomicU32 {
        self.inner.map.u32_at(h::CHANGE_COUNTER as u64)
    }
}

/// A word in this process's memory that wakes a thread sleeping in [`wait_any`]: ring it when the set of files the
/// thread should watch changed, or to stop it.
#[derive(Debug, Default)]
pub struct Doorbell {
    word: AtomicU32,
}

impl Doorbell {
    /// The doorbell's value now; pass it to [`wait_any`], which returns at once if it moved since.
    pub fn value(&self) -> u32 {
        self.word.load(Ordering::SeqCst)
    }

    /// Wakes the sleeper (and any later [`wait_any`] given an older value returns at once).
    pub fn ring(&self) {
        self.word.fetch_add(1, Ordering::SeqCst);
        // Not a private futex: waiters use the same (shared) flags as for the file counters beside it, and the
        // kernel keys a futex by its flags.
        let _ = futex::wake(&self.word, futex::Flags::empty(), u32::MAX);
    }
}

/// Sleeps until the doorbell leaves `rung_at`, one of `signals` (a service and the [`Service::change_count`] seen)
/// leaves its value, or `timeout` passes. Sleeps on at most `MAX_SIGNALS - 1` services: the caller must poll any
/// others itself (and so pass a short timeout). Spurious returns are allowed; the caller re-checks every counter.
pub fn wait_any(doorbell: &Doorbell, rung_at: u32, signals: &[(&Service, u32)], timeout: Duration) {
    static NO_WAITV: AtomicBool = AtomicBool::new(false);
    if !NO_WAITV.load(Ordering::Relaxed) {
        match waitv(doorbell, rung_at, signals, timeout) {
            Err(Errno::NOSYS) => NO_WAITV.store(true, Ordering::Relaxed),
            // Woken, a value had moved already (AGAIN), timed out, or a signal: the caller re-checks in every case.
            _ => return,
        }
    }
    crate::platform::wait_on(&doorbell.word, rung_at, timeout.min(READ_ONLY_POLL));
}

fn waitv(doorbell: &Doorbell, rung_at: u32, signals: &[(&Service, u32)], timeout: Duration) -> Result<usize, Errno> {
    let words = signals
        .iter()
        .take(MAX_SIGNALS - 1)
        .map(|(s, seen)| (s.change_word(), *seen));
    let waits: Vec<futex::Wait> = std::iter::once((&doorbell.word, rung_at))
        .chain(words)
        .map(|(word, seen)| {
            let mut wait = futex::Wait::new();
            wait.val = seen.into();
            wait.uaddr = futex::WaitPtr::new(word.as_ptr().cast());
            wait.flags = futex::WaitFlags::SIZE_U32;
            wait
        })
        .collect();
    // futex_waitv takes an absolute deadline on the clock it is given.
    let now = rustix::time::clock_gettime(ClockId::Monotonic);
    let deadline = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32).saturating_add(timeout);
    let deadline = Timespec {
        tv_sec: deadline.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: deadline.subsec_nanos().into(),
    };
    // Every address comes from a reference that outlives this call (the doorbell, and each service's mapping).
    futex::waitv(&waits, futex::WaitvFlags::empty(), Some(&deadline), ClockId::Monotonic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ServiceOwner, VariableSpec};
    use std::sync::Arc;
    use std::time::Instant;

    fn service(dir: &std::path::Path, name: &str) -> ServiceOwner {
        let mut owner = ServiceOwner::create(dir.join(name), &CreateOptions::default()).expect("create");
        let spec = VariableSpec {
            name: "x",
            capacity: 8,
            type_tag: 0,
            persistent: false,
            initial: &[0; 8],
        };
        owner.allocate(&spec).expect("allocate");
        owner
    }

    #[test]
    fn a_write_to_any_of_several_files_wakes_the_sleeper() {
        let dir = tempfile::tempdir().expect("tempdir");
        let owners: Vec<ServiceOwner> = (0..3).map(|i| service(dir.path(), &format!("{i}.svc"))).collect();
        let _pins: Vec<_> = owners.iter().map(ServiceOwner::hold_waiter).collect();
        let doorbell = Doorbell::default();
        let writer = owners[2].service().clone();
        let seen: Vec<u32> = owners.iter().map(|o| o.service().change_count()).collect();
        let handle = writer.lookup("x").expect("lookup");
        let write = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer.write(handle, &7u64.to_le_bytes()).expect("write");
        });
        let signals: Vec<(&Service, u32)> = owners.iter().map(|o| o.service()).zip(seen.iter().copied()).collect();
        let started = Instant::now();
        // Woken early, or the counter has moved: either way the third file's counter is past what was seen.
        while owners[2].service().change_count() == seen[2] {
            assert!(started.elapsed() < Duration::from_secs(30), "the write never arrived");
            wait_any(&doorbell, doorbell.value(), &signals, Duration::from_secs(30));
        }
        write.join().expect("writer thread");
        assert_eq!(owners[0].service().change_count(), seen[0]);
    }

    #[test]
    fn the_doorbell_wakes_the_sleeper() {
        let doorbell = Arc::new(Doorbell::default());
        let rung_at = doorbell.value();
        let ringer = doorbell.clone();
        let ring = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            ringer.ring();
        });
        let started = Instant::now();
        while doorbell.value() == rung_at {
            assert!(started.elapsed() < Duration::from_secs(30), "the doorbell never rang");
            wait_any(&doorbell, rung_at, &[], Duration::from_secs(30));
        }
        ring.join().expect("ringer thread");
    }
}
