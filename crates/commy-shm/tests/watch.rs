//! Watching across processes: a write in one process wakes a watcher blocked in another and reports exactly which
//! variable changed, with its old and new versions; a poll with nothing changed reports nothing; read-only watchers
//! (which cannot register in the waiter count) still get every change.

mod util;

use commy_shm::layout::header;
use commy_shm::{Access, Change, Service, Watcher};
use std::time::{Duration, Instant};
use util::{Fixture, Helper};

/// The watchers' timeout. Each test checks that its wait ended because of the write, before this ran out.
const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn poll_reports_nothing_until_another_process_writes_then_exactly_that_write() {
    let mut fx = Fixture::new();
    fx.var("quiet", 8, b"q");
    let loud = fx.var("loud", 8, b"l");
    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    let mut watcher = Watcher::new(&client);
    assert_eq!(watcher.poll(), []);
    // Reads change nothing.
    client.read(loud).unwrap();
    fx.owner.service().read(loud).unwrap();
    assert_eq!(watcher.poll(), []);

    let writer = Helper::spawn(&["write", fx.path_str(), "loud", "ab", "3"]);
    assert_eq!(writer.finish_ok(), ["WROTE 2"]);
    assert_eq!(
        watcher.poll(),
        [Change {
            index: loud.index(),
            name: Some("loud".into()),
            old_version: 1,
            new_version: 2,
        }]
    );
    assert_eq!(watcher.poll(), [], "a change is reported once");
}

#[test]
fn a_watcher_blocked_here_is_woken_by_a_write_in_another_process() {
    let mut fx = Fixture::new();
    fx.var("other", 8, b"o");
    let var = fx.var("temperature", 8, b"t");
    let service = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let mut watcher = Watcher::new(&service);
    // The helper writes only once this watcher has registered as a waiter, that is, once it is inside `wait`.
    let writer = Helper::spawn(&["write-when-watched", fx.path_str(), "temperature", "21", "8"]);
    let start = Instant::now();
    let changes = watcher.wait(TIMEOUT);
    assert!(
        start.elapsed() < TIMEOUT,
        "the wait timed out: the write did not wake it"
    );
    assert_eq!(
        changes,
        [Change {
            index: var.index(),
            name: Some("temperature".into()),
            old_version: 1,
            new_version: 2,
        }]
    );
    assert_eq!(writer.finish_ok(), ["WROTE 2"]);
    assert_eq!(service.read(var).unwrap(), (vec![0x21; 8], 2));
}

/// Runs a `watch` helper with `access`, makes `act` happen once it is watching, and returns its report.
fn watch_in_child(fx: &mut Fixture, access: &str, act: impl FnOnce(&mut Fixture)) -> Vec<String> {
    let mut child = Helper::spawn(&["watch", fx.path_str(), access, &TIMEOUT.as_millis().to_string()]);
    child.expect("WATCHING");
    act(fx);
    child.finish_ok()
}

#[test]
fn a_writable_watcher_in_another_process_is_woken_by_a_write_here() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, b"1");
    let report = watch_in_child(&mut fx, "rw", |fx| {
        // Write only once the watcher has registered as a waiter, that is, once it is inside `wait`.
        while util::u32_at(&fx.path, header::WAITERS as u64) == 0 {
            std::thread::yield_now();
        }
        fx.owner.service().write(var, b"2").unwrap();
    });
    let expected = format!("CHANGE {} Some(\"v\") 1 2", var.index());
    assert_eq!(report, [expected.as_str(), "DONE woken=true"]);
}

#[test]
fn a_read_only_watcher_in_another_process_gets_the_change() {
    let mut fx = Fixture::new();
    fx.var("a", 8, b"1");
    let var = fx.var("b", 8, b"1");
    let report = watch_in_child(&mut fx, "ro", |fx| {
        fx.owner.service().write(var, b"2").unwrap();
    });
    let expected = format!("CHANGE {} Some(\"b\") 1 2", var.index());
    assert_eq!(report, [expected.as_str(), "DONE woken=true"]);
}

/// With the owner holding a waiter pin for it, a read-only watcher is woken by the futex, not only by its polling.
/// Either way it must get the change; this runs the path where the writer makes the system call.
#[test]
fn a_read_only_watcher_with_a_pinned_waiter_gets_the_change() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, b"1");
    let pin = fx.owner.hold_waiter();
    let report = watch_in_child(&mut fx, "ro", |fx| {
        fx.owner.service().write(var, b"2").unwrap();
    });
    drop(pin);
    let expected = format!("CHANGE {} Some(\"v\") 1 2", var.index());
    assert_eq!(report, [expected.as_str(), "DONE woken=true"]);
}

#[test]
fn watchers_in_other_processes_see_variables_appear_and_disappear() {
    let mut fx = Fixture::new();
    fx.var("old", 8, b"o");
    let mut new = None;
    let report = watch_in_child(&mut fx, "ro", |fx| {
        new = Some(fx.var("new", 8, b"n"));
    });
    let index = new.unwrap().index();
    assert_eq!(
        report,
        [format!("CHANGE {index} Some(\"new\") 0 1").as_str(), "DONE woken=true"]
    );
    let report = watch_in_child(&mut fx, "rw", |fx| {
        fx.owner.free("new").unwrap();
    });
    assert_eq!(report, [format!("CHANGE {index} None 1 2").as_str(), "DONE woken=true"]);
}

/// Regression: a read-only watcher rescanned the whole version table every 10 ms slice even when the change counter
/// had not moved. It scans again only when the counter moved.
#[test]
fn a_read_only_watcher_does_not_rescan_while_nothing_is_published() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, b"1");
    let client = commy_shm::Service::open(&fx.path, commy_shm::Access::ReadOnly).unwrap();
    let mut watcher = commy_shm::Watcher::new(&client);
    let quiet = commy_shm::READ_ONLY_POLL * 20;
    assert!(watcher.wait(quiet).is_empty());
    assert_eq!(watcher.scans(), 1, "scanned again although nothing was published");
    fx.owner.service().write(var, b"2").unwrap();
    let changes = watcher.wait(quiet);
    assert_eq!(changes.len(), 1);
    assert_eq!(watcher.scans(), 2);
}
