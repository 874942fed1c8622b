//! An owner killed in the middle of a layout change leaves a file the next owner completes or undoes (the intent
//! record), never an entry that mixes the old and the new layout.
//!
//! A helper process opens the file as its owner and kills itself with SIGKILL halfway through the change, with the
//! layout generation odd and the entry half edited (`COMMY_SHM_CRASH_AT`, a test hook).

mod util;

use commy_shm::{Access, Service, ServiceOwner, VariableSpec};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A closed file with `a` (8 bytes), `b` (32 bytes) and `c` (8 bytes), each holding its own name.
fn sample() -> (tempfile::TempDir, PathBuf) {
    let fx = util::Fixture::with(&commy_shm::CreateOptions {
        max_variables: 8,
        initial_heap: 8192,
        max_capacity: 1 << 20,
    });
    let util::Fixture { dir, path, mut owner } = fx;
    for (name, capacity) in [("a", 8), ("b", 32), ("c", 8)] {
        let spec = VariableSpec {
            name,
            capacity,
            type_tag: 0,
            persistent: false,
            initial: name.as_bytes(),
        };
        owner.allocate(&spec).unwrap();
    }
    (dir, path)
}

/// Runs the helper's owner command `args`, killed at `point`; it must die of SIGKILL.
fn crash_owner(path: &Path, point: &str, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_commy-shm-helper"))
        .arg("owner")
        .arg(path)
        .args(args)
        .env("COMMY_SHM_CRASH_AT", point)
        .output()
        .unwrap();
    assert_eq!(
        status.status.signal(),
        Some(9),
        "the owner did not die at {point}: {status:?}"
    );
}

fn value(owner: &ServiceOwner, name: &str) -> Vec<u8> {
    owner.service().read(owner.lookup(name).unwrap()).unwrap().0
}

/// Everything but `changed` still holds its own name.
fn check_values(owner: &ServiceOwner, changed: &str) {
    for info in owner.service().list().unwrap() {
        if info.name != changed {
            assert_eq!(value(owner, &info.name), info.name.as_bytes(), "{} changed", info.name);
        }
    }
}

/// Each variable can be written to its full capacity without touching another, and a client can attach.
fn check_writes(owner: &ServiceOwner, path: &Path) {
    let service = owner.service();
    let infos = service.list().unwrap();
    for (n, info) in infos.iter().enumerate() {
        service
            .write(info.handle, &vec![n as u8; info.capacity as usize])
            .unwrap();
    }
    for (n, info) in infos.iter().enumerate() {
        assert_eq!(
            value(owner, &info.name),
            vec![n as u8; info.capacity as usize],
            "{} was overwritten",
            info.name
        );
    }
    Service::open(path, Access::ReadOnly).unwrap();
}

/// Regression: an owner killed mid-resize left `b` with the new capacity and the old block, which passed validation:
/// a full-capacity write then ran over its neighbours.
#[test]
fn an_owner_killed_mid_resize_leaves_a_file_the_next_owner_completes() {
    let (_dir, path) = sample();
    crash_owner(&path, "resize", &["resize", "b", "200"]);
    let owner = ServiceOwner::open(&path).unwrap();
    let b = owner.service().info_of(owner.lookup("b").unwrap()).unwrap();
    assert_eq!(
        (b.capacity, value(&owner, "b")),
        (200, b"b".to_vec()),
        "the resize was completed"
    );
    check_values(&owner, "b");
    check_writes(&owner, &path);
}

#[test]
fn an_owner_killed_mid_free_leaves_a_file_the_next_owner_completes() {
    let (_dir, path) = sample();
    crash_owner(&path, "free", &["free", "b"]);
    let mut owner = ServiceOwner::open(&path).unwrap();
    assert!(owner.lookup("b").is_err(), "the free was completed");
    assert_eq!(owner.variable_count(), 2);
    check_values(&owner, "b");
    check_writes(&owner, &path);
    // The freed block is reusable, once.
    let spec = VariableSpec {
        name: "d",
        capacity: 32,
        type_tag: 0,
        persistent: false,
        initial: b"d",
    };
    owner.allocate(&spec).unwrap();
    check_writes(&owner, &path);
}

#[test]
fn an_owner_killed_mid_allocate_leaves_a_file_the_next_owner_undoes() {
    let (_dir, path) = sample();
    crash_owner(&path, "allocate", &["allocate", "d"]);
    let mut owner = ServiceOwner::open(&path).unwrap();
    assert!(owner.lookup("d").is_err(), "the half-made variable was undone");
    assert_eq!(owner.variable_count(), 3);
    check_values(&owner, "");
    check_writes(&owner, &path);
    let spec = VariableSpec {
        name: "d",
        capacity: 48,
        type_tag: 0,
        persistent: false,
        initial: b"d",
    };
    owner.allocate(&spec).unwrap();
    check_writes(&owner, &path);
}

/// A server (the owner) killed while it holds a variable's lock, in the middle of a write: the restarted owner opens
/// the file (the dead one's owner lock went with it) and the variable is writable and freeable again, without
/// waiting for the bound. (A restart that gets the same pid, as pid 1 in a container, carries another start time:
/// `tests/locks.rs` covers that identity.)
#[test]
fn an_owner_killed_inside_a_write_leaves_the_variable_writable_after_a_restart() {
    let (_dir, path) = sample();
    let mut owner_process = util::Helper::spawn(&["owner", path.to_str().unwrap(), "hold", "b"]);
    owner_process.expect("HOLDING");
    owner_process.kill();
    owner_process.reap();
    let mut owner = ServiceOwner::open(&path).unwrap();
    owner.service().set_wait_bound(std::time::Duration::from_secs(60));
    let b = owner.lookup("b").unwrap();
    assert_eq!(value(&owner, "b"), b"b", "the half-written value was never published");
    assert_eq!(owner.service().write(b, b"after the restart"), Ok(2));
    owner.free("b").unwrap();
    check_values(&owner, "b");
}
