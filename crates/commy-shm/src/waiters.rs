//! Waiter registrations: who raised the waiter count, so that a watcher killed while waiting leaks nothing.
//!
//! A writable watcher raises `waiters` and then takes a slot of `waiter_slots` with its lock identity; leaving, it
//! frees the slot and then lowers the count (never below zero). In that order a crash at any point leaves the count
//! too high, never too low: a too-high count costs writers a futex wake, a too-low one would let a watcher sleep
//! through a change. A sweep frees the slots of dead processes and lowers the count once per slot it freed. With no
//! free slot, a watcher does not register at all and sleeps in slices like a read-only one.

use crate::layout::header as h;
use crate::platform;
use crate::service::Service;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Number of registration slots (header 1024..2048).
pub(crate) const SLOTS: usize = 128;
/// A process sweeps at most once per this many seconds, so that registering stays cheap.
const SWEEP_EVERY_SECS: u64 = 1;

fn count(service: &Service) -> &AtomicU32 {
    service.inner.map.u32_at(h::WAITERS as u64)
}

fn slots(service: &Service) -> &[AtomicU64] {
    service.inner.map.u64_slice(h::WAITER_SLOTS as u64, SLOTS)
}

/// Lowers the count by one, never below zero (someone may have zeroed it by hand).
fn lower(service: &Service) {
    let _ = count(service).fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
}

/// Registers this process as a possible sleeper. Returns its slot, or `None` if every slot is taken (then the
/// count is unchanged and the caller must not sleep unboundedly).
pub(crate) fn register(service: &Service) -> Option<usize> {
    sweep_now_and_then(service);
    let me = platform::current_identity();
    count(service).fetch_add(1, Ordering::SeqCst);
    for (index, slot) in slots(service).iter().enumerate() {
        if slot
            .compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            return Some(index);
        }
    }
    lower(service);
    None
}

/// Undoes [`register`].
pub(crate) fn unregister(service: &Service, slot: usize) {
    let me = platform::current_identity();
    // Only our own registration: a sweep that judged us dead may have freed it (and lowered the count) already.
    if slots(service)[slot]
        .compare_exchange(me, 0, Ordering::SeqCst, Ordering::Relaxed)
        .is_ok()
    {
        lower(service);
    }
}

/// Frees the slots of processes that are gone, lowering the count once for each. Returns how many it freed.
pub(crate) fn sweep(service: &Service) -> usize {
    let me = platform::current_identity();
    let mut freed = 0;
    for slot in slots(service) {
        let holder = slot.load(Ordering::Relaxed);
        if holder == 0 || holder == me || platform::identity_alive(holder) {
            continue;
        }
        if slot
            .compare_exchange(holder, 0, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            lower(service);
            freed += 1;
        }
    }
    freed
}

fn sweep_now_and_then(service: &Service) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + SWEEP_EVERY_SECS
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        sweep(service);
    }
}
