//! Waiter registrations cannot leak: a watcher killed while it waits leaves a registration that names it, which
//! the owner takes back; and a count zeroed by hand does not wrap when a registration ends.

mod util;

use commy_shm::layout::header;
use util::{Fixture, Helper};

fn waiters(fx: &Fixture) -> u32 {
    util::u32_at(&fx.path, header::WAITERS as u64)
}

/// Regression: a writable watcher killed inside `wait` left the waiter count raised for ever, so every later write
/// paid a futex wake.
#[test]
fn a_watcher_killed_while_waiting_is_swept_by_the_owner() {
    let fx = Fixture::new();
    let mut watcher = Helper::spawn(&["watch", fx.path_str(), "rw", "60000"]);
    watcher.expect("WATCHING");
    while waiters(&fx) == 0 {
        std::thread::yield_now();
    }
    watcher.kill();
    watcher.reap();
    assert_eq!(waiters(&fx), 1, "the dead watcher's registration is still counted");
    assert_eq!(fx.owner.sweep_waiters(), 1);
    assert_eq!(waiters(&fx), 0);
    assert_eq!(fx.owner.sweep_waiters(), 0);
}

/// Regression: the count was lowered with a plain subtraction, so a count zeroed by hand (or by a peer) wrapped to
/// 4 294 967 295 when a registration ended, and every write paid a wake from then on.
#[test]
fn a_count_zeroed_by_hand_does_not_wrap() {
    let fx = Fixture::new();
    let pin = fx.owner.hold_waiter();
    assert!(pin.is_registered());
    assert_eq!(waiters(&fx), 1);
    util::put_u32(&fx.path, header::WAITERS as u64, 0);
    drop(pin);
    assert_eq!(waiters(&fx), 0);
}
