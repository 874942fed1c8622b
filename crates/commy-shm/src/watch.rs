//! [`Watcher`]: block until something in a service changes, and learn exactly which variables did.

use crate::layout::header as h;
use crate::mapping::Access;
use crate::platform;
use crate::scan;
use crate::service::Service;
use crate::waiters;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A read-only watcher cannot register itself in the waiter count, so it sleeps in slices of at most this long and
/// re-scans. Whenever any writable watcher (such as the server) is registered, writers wake it at once.
pub const READ_ONLY_POLL: Duration = Duration::from_millis(10);

/// One variable that changed since the watcher's last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The variable's table index.
    pub index: u32,
    /// Its name, or `None` if it no longer exists (it was deallocated).
    pub name: Option<String>,
    /// The version the watcher saw last (0 if the variable is new to it).
    pub old_version: u64,
    /// The version now.
    pub new_version: u64,
}

/// Watches one service. It keeps a shadow copy of the version table; each look compares the live table with it.
#[derive(Debug)]
pub struct Watcher {
    service: Service,
    shadow: Vec<u64>,
    scratch: Vec<u32>,
    scans: u64,
}

impl Watcher {
    /// A watcher that reports changes made after this call.
    pub fn new(service: &Service) -> Watcher {
        let hw = service.high_water() as usize;
        let shadow = (0..hw)
            .map(|i| service.version_word(i as u32).load(Ordering::Acquire))
            .collect();
        Watcher {
            service: service.clone(),
            shadow,
            scratch: Vec::new(),
            scans: 0,
        }
    }

    /// How many times this watcher has compared the version table with its shadow copy.
    pub fn scans(&self) -> u64 {
        self.scans
    }

    /// The changes since the last look, without blocking.
    pub fn poll(&mut self) -> Vec<Change> {
        self.scans += 1;
        let hw = self.service.high_water() as usize;
        if self.shadow.len() < hw {
            // Entries past the old high-water mark are new to this watcher; version 0 means "never seen".
            self.shadow.resize(hw, 0);
        }
        let versions = self.service.inner.map.u64_slice(self.service.inner.geo.versions, hw);
        self.scratch.clear();
        scan::find_changes(versions, &self.shadow, &mut self.scratch);
        let mut changes = Vec::with_capacity(self.scratch.len());
        for &index in &self.scratch {
            let new_version = versions[index as usize].load(Ordering::Acquire);
            let old_version = std::mem::replace(&mut self.shadow[index as usize], new_version);
            if new_version == old_version {
                continue;
            }
            let name = self
                .service
                .snapshot(index)
                .ok()
                .filter(|snap| snap.live)
                .map(|snap| snap.name);
            changes.push(Change {
                index,
                name,
                old_version,
                new_version,
            });
        }
        changes
    }

    /// Blocks until at least one variable changes, or `timeout` passes (then the result is empty).
    pub fn wait(&mut self, timeout: Duration) -> Vec<Change> {
        let deadline = Instant::now() + timeout;
        let service = self.service.clone();
        let counter = service.inner.map.u32_at(h::CHANGE_COUNTER as u64);
        let registration = (self.service.access() == Access::ReadWrite).then(|| WaiterPin::new(&self.service));
        // Without a registration, writers may not wake this watcher: it sleeps in slices and rescans.
        let writable = registration.as_ref().is_some_and(WaiterPin::is_registered);
        // The counter value at which the last scan began: every publish moves the counter after its version, so
        // while the counter stays there, a new scan cannot find anything (a read-only watcher's timed-out slices
        // then cost no scan).
        let mut scanned_at = None;
        loop {
            // Read the counter before scanning: a publish after the scan moves it, so the futex will not sleep.
            let seen = counter.load(Ordering::SeqCst);
            if scanned_at != Some(seen) {
                scanned_at = Some(seen);
                let changes = self.poll();
                if !changes.is_empty() {
                    return changes;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Vec::new();
            }
            let mut slice = deadline - now;
            if !writable {
                slice = slice.min(READ_ONLY_POLL);
            }
            platform::wait_on(counter, seen, slice);
        }
    }
}

/// Counts one possible sleeper in the service's waiter count for as long as it lives, so that every write wakes
/// the service's sleepers. A writable watcher holds one while it waits; the server holds one on behalf of each
/// read-only local client that watches, since such a client cannot write the count itself.
///
/// The registration names this process (docs/service-file.md, "Waiter registrations"), so that if the process dies
/// holding it, the owner (or any later registration) takes it back.
#[derive(Debug)]
pub struct WaiterPin {
    service: Service,
    slot: Option<usize>,
    /// Counted in the attachment's in-process waiters too (see [`WaiterPin::new_in_process`]).
    in_process: bool,
}

impl WaiterPin {
    /// Registers a sleeper. Panics never; needs a writable attachment (a read-only one cannot store to the count).
    pub(crate) fn new(service: &Service) -> Self {
        WaiterPin {
            service: service.clone(),
            slot: waiters::register(service),
            in_process: false,
        }
    }

    /// Registers a sleeper that learns of this process's own writes without a wake, and counts it as such, so that
    /// [`PendingSignal::ring_for_others`](crate::PendingSignal::ring_for_others) can spare it. Counted only after
    /// the registration in the file took.
    pub(crate) fn new_in_process(service: &Service) -> Self {
        let slot = waiters::register(service);
        if slot.is_some() {
            service.inner.in_process_waiters.fetch_add(1, Ordering::SeqCst);
        }
        WaiterPin {
            service: service.clone(),
            slot,
            in_process: slot.is_some(),
        }
    }

    /// Whether the registration took (every slot may be taken): only then do writers wake this sleeper for sure.
    pub fn is_registered(&self) -> bool {
        self.slot.is_some()
    }
}

impl Drop for WaiterPin {
    fn drop(&mut self) {
        if self.in_process {
            // No longer counted as in-process before it leaves the file's count, never the other way round.
            self.service.inner.in_process_waiters.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(slot) = self.slot {
            waiters::unregister(&self.service, slot);
        }
    }
}
