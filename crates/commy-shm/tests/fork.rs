//! Lock identities and processes that are not simple: a forked child, and a process whose main thread exited while
//! another thread holds a lock. This test binary forks itself (a helper binary could not call `fork` from a
//! dev-dependency), so it holds nothing but these tests.

mod util;

use commy_shm::layout::entry;
use commy_shm::AccessError;
use std::sync::mpsc;
use std::time::Duration;
use util::Fixture;

fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not return: it hangs"))
}

fn lock_pid(fx: &Fixture, index: u32) -> u32 {
    (util::u64_at(&fx.path, fx.entry(index) + entry::LOCK as u64) & 0x3f_ffff) as u32
}

fn wait_for_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out-pointer.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(reaped, pid, "waitpid");
    status
}

/// Regression: the writer's pid was cached when the service was opened, so a forked child wrote under its parent's
/// pid. A child that died holding the lock left it naming the live parent, and the variable was wedged: the parent
/// itself took the lock for its own and waited for ever.
#[test]
fn a_forked_child_writes_under_its_own_identity_and_its_death_wedges_nothing() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 64, b"start");
    let service = fx.owner.service().clone();
    service.write(var, b"parent").unwrap(); // the parent's identity is cached now
                                            // SAFETY: the child only writes through the mapping and exits with `_exit`; it calls nothing that a forked
                                            // child of a multi-threaded process may not (glibc's allocator is fork-safe).
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let _ = service.write_with_hook(var, b"the child dies holding the lock", || {
            // SAFETY: ends the child at once, holding the lock, as a crash would.
            unsafe { libc::_exit(0) }
        });
        // SAFETY: as above; reached only if the hook did not run.
        unsafe { libc::_exit(3) }
    }
    assert_eq!(wait_for_child(child), 0, "the child did not die in the hook");
    assert_eq!(
        lock_pid(&fx, var.index()),
        child as u32,
        "the child locked under another pid"
    );
    let wrote = guarded("write after the child's death", move || {
        service.write(var, b"parent again")
    });
    assert_eq!(wrote, Ok(3));
}

/// Regression: a process whose main thread exited (`pthread_exit`) shows as a zombie while its other threads run on;
/// the liveness check took it for dead and let a second writer into a lock that a live thread held.
#[test]
fn a_zombie_group_leader_with_a_live_thread_still_holds_its_lock() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 64, b"start");
    let service = fx.owner.service().clone();
    // SAFETY: as in the fork test above; the child starts a thread, then ends its own (main) thread.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let holder = service.clone();
        std::thread::spawn(move || {
            let _ = holder.write_with_hook(var, b"held by a thread", || loop {
                std::thread::sleep(Duration::from_secs(3600));
            });
        });
        while (util::u64_at(&fx.path, fx.entry(var.index()) + entry::LOCK as u64)) == 0 {
            std::thread::yield_now();
        }
        // SAFETY: the raw `exit` system call ends only the calling thread (the group leader, since fork made this
        // thread the child's only one), without unwinding its Rust frames; the holder thread runs on. This is what
        // a C program's main thread calling `pthread_exit` leaves.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        unreachable!("the exit system call returned")
    }
    while util::process_state(child as u32) != Some('Z') || lock_pid(&fx, var.index()) != child as u32 {
        std::thread::yield_now();
    }
    service.set_wait_bound(Duration::from_millis(200));
    let writer = service.clone();
    let wrote = guarded("write against the live thread", move || writer.write(var, b"intruder"));
    assert!(matches!(wrote, Err(AccessError::LockTimeout { .. })), "{wrote:?}");
    // SAFETY: killing and reaping our own child.
    unsafe { libc::kill(child, libc::SIGKILL) };
    wait_for_child(child);
    service.set_wait_bound(Duration::from_secs(30));
    assert_eq!(service.write(var, b"after"), Ok(2));
}
