//! Lock identities (pid and process start time) survive pid reuse, restarts and reboots; a stopped holder delays
//! writers by the wait bound, never for ever; one owner per file; writers only in the owner's pid namespace.

mod util;

use commy_shm::layout::{entry, header};
use commy_shm::{Access, AccessError, LayoutError, OpenError, Service, ServiceOwner};
use std::sync::mpsc;
use std::time::Duration;
use util::{Fixture, Helper};

fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not return: it hangs"))
}

/// The lock identity of a running process: its pid and its start time from `/proc/<pid>/stat`.
fn identity_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    pid as u64 | start << 22
}

/// Regression: a lock word named a pid only, so after a crash a reused pid (the server restarting as pid 1 in a
/// container, say) looked like the holder, and the variable stayed wedged while that process lived.
#[test]
fn a_lock_left_by_a_dead_process_whose_pid_was_reused_is_taken_over() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 64, b"start");
    // This very process, but started at another time: the identity a dead process with our pid left behind.
    let reused = identity_of(std::process::id()) ^ (1 << 22);
    util::put_u64(&fx.path, fx.entry(var.index()) + entry::LOCK as u64, reused);
    let service = fx.owner.service().clone();
    service.set_wait_bound(Duration::from_secs(60));
    assert_eq!(guarded("write", move || service.write(var, b"taken over")), Ok(2));
    // And the parent process, alive, under a start time that is not its own.
    let parent = rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32;
    util::put_u64(
        &fx.path,
        fx.entry(var.index()) + entry::LOCK as u64,
        identity_of(parent) ^ (1 << 22),
    );
    let service = fx.owner.service().clone();
    assert_eq!(guarded("write", move || service.write(var, b"again")), Ok(3));
}

/// Regression: a stopped (SIGSTOP) holder made every writer of the variable, and the owner's free, wait for ever.
#[test]
fn a_stopped_holder_delays_writers_and_the_owner_by_the_bound_only() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 256, &util::uniform(0x11, 256));
    let path = fx.path_str().to_owned();
    let len = util::uniform(0xee, 256).len().to_string();
    let mut holder = Helper::spawn(&["hold", &path, "v", "ee", &len]);
    holder.expect("HOLDING");
    // SAFETY-free: a signal to our own child.
    let pid = rustix::process::Pid::from_raw(holder.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    while util::process_state(holder.pid()) != Some('T') {
        std::thread::yield_now();
    }
    let service = fx.owner.service().clone();
    service.set_wait_bound(Duration::from_millis(100));
    let writer = service.clone();
    let wrote = guarded("write", move || writer.write(var, b"blocked"));
    assert!(
        matches!(wrote, Err(AccessError::LockTimeout { holder: h, .. }) if h == holder.pid()),
        "{wrote:?}"
    );
    let mut owner = fx.owner;
    let (freed, owner) = guarded("free", move || (owner.free("v"), owner));
    fx.owner = owner;
    assert!(matches!(freed, Err(LayoutError::LockTimeout { .. })), "{freed:?}");
    assert_eq!(
        service.read(var).unwrap().0,
        util::uniform(0x11, 256),
        "nothing changed"
    );
    holder.kill();
    holder.reap();
    service.set_wait_bound(Duration::from_secs(30));
    assert_eq!(service.write(var, b"after"), Ok(2));
    fx.owner.free("v").unwrap();
}

/// A file last owned in another boot holds lock identities of processes that cannot run any more, even if a live
/// process of this boot happens to have the same pid and start time: the owner frees them on open.
#[test]
fn an_owner_opening_a_file_of_another_boot_frees_its_locks() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 64, b"start");
    let Fixture { dir: _dir, path, owner } = fx;
    drop(owner);
    let lock = util::entry_offset(commy_shm::CreateOptions::default().max_variables, var.index()) + entry::LOCK as u64;
    // The lock names this very process, alive; but the file says it was owned in another boot.
    util::put_u64(&path, lock, identity_of(std::process::id()));
    util::put_u64(&path, header::BOOT_ID as u64, 0x5eed);
    let owner = ServiceOwner::open(&path).unwrap();
    assert_eq!(util::u64_at(&path, lock), 0);
    assert_ne!(util::u64_at(&path, header::BOOT_ID as u64), 0x5eed);
    assert_eq!(owner.service().write(var, b"free again"), Ok(2));
}

/// Regression: nothing stopped two owners (two servers on one data directory) from changing one file's layout at
/// once.
#[test]
fn a_file_has_one_owner_at_a_time() {
    let fx = Fixture::new();
    assert!(matches!(ServiceOwner::open(&fx.path), Err(OpenError::OwnedElsewhere)));
    // Clients are not owners.
    Service::open(&fx.path, Access::ReadWrite).unwrap();
    let Fixture { dir: _dir, path, owner } = fx;
    drop(owner);
    ServiceOwner::open(&path).unwrap();
}

#[test]
fn writers_from_another_pid_namespace_are_refused_and_readers_are_not() {
    let fx = Fixture::new();
    util::put_u64(&fx.path, header::PID_NAMESPACE as u64, 12345);
    assert!(matches!(
        Service::open(&fx.path, Access::ReadWrite),
        Err(OpenError::ForeignPidNamespace { file: 12345, .. })
    ));
    Service::open(&fx.path, Access::ReadOnly).unwrap();
}
