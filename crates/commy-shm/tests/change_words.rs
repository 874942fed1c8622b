//! Change words (docs/service-file.md, "Change words"): a wait through a `Resolved` sleeps on its variable's word,
//! writes to another variable leave that word alone (no wake-up), a write by another process wakes it, and the
//! writes of the waiting resolution itself do not end the wait.

mod util;

use commy_shm::{Access, Resolved, Service};
use std::time::{Duration, Instant};
use util::{Fixture, Helper};

/// Bit 31 of a change word: a sleeper is (about to be) asleep on it.
const WAITING: u32 = 1 << 31;
const LONG: Duration = Duration::from_secs(60);

/// Polls `done` until it holds; fails the test after 20 s.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn sleeping(handle: &Resolved) -> bool {
    handle.change_word() & WAITING != 0
}

#[test]
fn writes_to_another_variable_leave_a_sleeper_alone_and_another_processs_write_wakes_it() {
    let mut fx = Fixture::new();
    let watched = fx.var("watched", 8, &[0; 8]);
    let other = fx.var("other", 8, &[0; 8]);
    assert_ne!(watched.index(), other.index());
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let handle = client.resolve_name("watched").unwrap();
    let other_handle = client.resolve_name("other").unwrap();
    let seen = handle.version().unwrap();

    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| handle.wait_for_change(seen, LONG).unwrap());
        until("the waiter sleeps on its change word", || sleeping(&handle));
        let armed = handle.change_word();
        for n in 0..100u64 {
            other_handle.write(&n.to_le_bytes()).unwrap();
            client.write(other, &n.to_le_bytes()).unwrap();
        }
        assert_eq!(
            handle.change_word(),
            armed,
            "200 writes to another variable touched the watched variable's change word"
        );
        assert!(!waiter.is_finished(), "the wait ended without a write to its variable");

        let mut helper = Helper::spawn(&["write", fx.path_str(), "watched", "42", "8"]);
        helper.expect("WROTE");
        assert_eq!(
            waiter.join().unwrap(),
            seen + 1,
            "another process's write ends the wait"
        );
    });
    assert_eq!(handle.read().unwrap(), (vec![0x42; 8], seen + 1));
}

#[test]
fn a_wait_skips_its_own_resolutions_writes_but_not_a_clones() {
    let mut fx = Fixture::new();
    fx.var("v", 8, &[0; 8]);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let handle = client.resolve_name("v").unwrap();
    let seen = handle.version().unwrap();

    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| handle.wait_for_change(seen, LONG).unwrap());
        until("the waiter sleeps", || sleeping(&handle));
        let before = handle.change_word();
        assert_eq!(handle.write(&1u64.to_le_bytes()).unwrap(), seen + 1);
        // The write woke the word (a new count, the bit cleared); the waiter saw its own write and sleeps again.
        until("the waiter sleeps again after its own write", || {
            let now = handle.change_word();
            now & WAITING != 0 && now != before
        });
        assert!(!waiter.is_finished(), "the wait ended at its own write");

        let clone = handle.clone();
        assert_eq!(clone.write(&2u64.to_le_bytes()).unwrap(), seen + 2);
        assert_eq!(waiter.join().unwrap(), seen + 2, "a clone's write ends the wait");
    });
}

#[test]
fn a_wait_that_only_met_its_own_writes_times_out_at_the_version_it_was_given() {
    let mut fx = Fixture::new();
    fx.var("v", 8, &[0; 8]);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let handle = client.resolve_name("v").unwrap();
    let seen = handle.version().unwrap();
    handle.write(&1u64.to_le_bytes()).unwrap();
    assert_eq!(handle.wait_for_change(seen, Duration::from_millis(20)).unwrap(), seen);
    // Through the `VarHandle` path the same process is another writer.
    client.write(handle.handle(), &2u64.to_le_bytes()).unwrap();
    assert_eq!(handle.wait_for_change(seen, LONG).unwrap(), seen + 2);
}
