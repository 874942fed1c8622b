//! A write that holds its change signal ([`Service::try_write_holding_signal`]) and rings it only for others
//! ([`PendingSignal::ring_for_others`]) spares a sleeper registered as in-process, and still wakes every other one.
//!
//! Each case puts a thread to sleep on the file's change counter with `wait_any`, beside a doorbell, and waits until
//! the kernel reports the thread asleep. Then it writes and, a moment later, rings the doorbell: the thread says
//! whether the write or the doorbell woke it.

use commy_shm::{wait_any, CreateOptions, Doorbell, ServiceOwner, VariableSpec};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn owner(dir: &std::path::Path) -> ServiceOwner {
    let mut owner = ServiceOwner::create(dir.join("signal.svc"), &CreateOptions::default()).expect("create");
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

/// How long a woken thread has to notice before the doorbell rings: far more than a wake takes on a loaded machine.
const WAKE_WINDOW: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Ring {
    Everyone,
    Others,
}

/// Whether a write rung as `ring` woke a thread asleep on the file's change counter.
fn woken_by_the_write(owner: &ServiceOwner, ring: Ring) -> bool {
    let service = owner.service().clone();
    let doorbell = Arc::new(Doorbell::default());
    let tid = Arc::new(AtomicI32::new(0));
    let rung_at = doorbell.value();
    let seen = service.change_count();
    let sleeper = {
        let (service, doorbell, tid) = (service.clone(), doorbell.clone(), tid.clone());
        std::thread::spawn(move || {
            tid.store(current_thread_id(), Ordering::SeqCst);
            let started = Instant::now();
            while service.change_count() == seen && doorbell.value() == rung_at {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "neither the write nor the doorbell came"
                );
                wait_any(&doorbell, rung_at, &[(&service, seen)], Duration::from_secs(60));
            }
            doorbell.value() == rung_at
        })
    };
    wait_until_asleep(&tid);
    let handle = service.lookup("x").expect("lookup");
    let (_, signal) = service
        .try_write_holding_signal(handle, None, &5u64.to_le_bytes())
        .expect("write");
    match ring {
        Ring::Everyone => signal.ring(),
        Ring::Others => signal.ring_for_others(),
    }
    // The write published before the ring, so a thread that wakes for any reason finds the counter moved: the
    // doorbell, rung only once the thread had ample time to wake for the write, tells the two apart.
    let started = Instant::now();
    while !sleeper.is_finished() && started.elapsed() < WAKE_WINDOW {
        std::thread::sleep(Duration::from_millis(5));
    }
    doorbell.ring();
    sleeper.join().expect("sleeper thread")
}

/// This thread's id, as `/proc` names it.
fn current_thread_id() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse().ok())
        .expect("/proc/thread-self names the thread")
}

/// Waits until the thread `tid` names is asleep in the kernel (state `S` in `/proc`), so that a wake it gets
/// afterwards is one somebody sent.
fn wait_until_asleep(tid: &AtomicI32) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sleeper never went to sleep"
        );
        let id = tid.load(Ordering::SeqCst);
        if id != 0 {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{id}/stat")).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            if state == Some('S') {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_write_rung_for_others_spares_a_sleeper_registered_as_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = owner(dir.path());
    let _pin = owner.hold_in_process_waiter();
    assert!(!woken_by_the_write(&owner, Ring::Others));
}

#[test]
fn a_write_rung_in_full_wakes_a_sleeper_registered_as_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = owner(dir.path());
    let _pin = owner.hold_in_process_waiter();
    assert!(woken_by_the_write(&owner, Ring::Everyone));
}

#[test]
fn a_write_rung_for_others_wakes_the_sleepers_while_another_registration_is_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = owner(dir.path());
    let _in_process = owner.hold_in_process_waiter();
    // A read-only client's pin, or a watcher of another process: not in-process.
    let _other = owner.hold_waiter();
    assert!(woken_by_the_write(&owner, Ring::Others));
}

#[test]
fn an_in_process_registration_that_ended_spares_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = owner(dir.path());
    drop(owner.hold_in_process_waiter());
    let _other = owner.hold_waiter();
    assert!(woken_by_the_write(&owner, Ring::Others));
}

#[test]
fn a_dropped_signal_rings_in_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let owner = owner(dir.path());
    let service = owner.service();
    let handle = service.lookup("x").expect("lookup");
    let before = service.change_count();
    let (version, signal) = service
        .try_write_holding_signal(handle, None, &9u64.to_le_bytes())
        .expect("write");
    assert_eq!(service.change_count(), before, "the signal is the caller's until rung");
    drop(signal);
    assert_eq!(service.change_count(), before.wrapping_add(1));
    let mut out = [0u8; 8];
    assert_eq!(service.read_into(handle, &mut out).expect("read").version, version);
    assert_eq!(u64::from_le_bytes(out), 9);
}
