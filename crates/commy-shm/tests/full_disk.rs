//! A full disk is an error, never a SIGBUS: every page the owner hands out is allocated before anyone stores into it.
//! Before that, a store into a hole of a sparse file on a full tmpfs killed the process with SIGBUS (and this test
//! with it).
//!
//! The full-disk test mounts a small tmpfs, which needs root; without it the test says so and passes.

mod util;

use commy_shm::{CreateError, CreateOptions, LayoutError, ServiceOwner, VariableSpec};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted on a fresh temporary directory; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "commy-full-disk",
            ])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED: cannot mount a {size} tmpfs (this test needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(err) => {
                eprintln!("SKIPPED: cannot run mount ({err}); this test needs root and a tmpfs");
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn spec(name: &str, capacity: u32) -> VariableSpec<'_> {
    VariableSpec {
        name,
        capacity,
        type_tag: 0,
        persistent: false,
        initial: b"initial",
    }
}

/// Allocates variables named `prefix<n>` of `capacity` bytes until the owner refuses; returns how many it made and
/// the refusal, which must be `DiskFull`.
fn fill(owner: &mut ServiceOwner, prefix: &str, capacity: u32) -> usize {
    for n in 0.. {
        match owner.allocate(&spec(&format!("{prefix}{n}"), capacity)) {
            Ok(_) => {}
            Err(LayoutError::DiskFull { .. }) => return n,
            Err(other) => panic!("allocating {prefix}{n} of {capacity} bytes on a full disk gave {other:?}"),
        }
    }
    unreachable!()
}

fn check_every_variable_still_works(owner: &ServiceOwner) {
    let service = owner.service();
    for info in service.list().unwrap() {
        let value = format!("still {}", info.name);
        let value = &value.as_bytes()[..value.len().min(info.capacity as usize)];
        service.write(info.handle, value).unwrap();
        assert_eq!(service.read(info.handle).unwrap().0, value);
    }
}

#[test]
fn a_full_disk_is_a_typed_error_and_everything_already_there_keeps_working() {
    let Some(disk) = SmallDisk::mount("1m") else { return };
    let opts = CreateOptions {
        max_variables: 8192,
        initial_heap: 64 * 1024,
        max_capacity: 64 << 20,
    };
    let mut owner = ServiceOwner::create(disk.path("a.svc"), &opts).unwrap();
    // Large blocks until the heap cannot grow, then small ones until no table page can be made real.
    let large = fill(&mut owner, "large", 4000);
    let small = fill(&mut owner, "small", 8);
    println!("on a 1 MiB tmpfs: {large} variables of 4000 B, then {small} of 8 B, then DiskFull");
    assert!(large > 0);
    check_every_variable_still_works(&owner);

    // Another service cannot even be created, and leaves no half-made file behind.
    match ServiceOwner::create(disk.path("b.svc"), &opts) {
        Err(CreateError::DiskFull) => assert!(!disk.path("b.svc").exists()),
        Ok(_) => println!("a second service still fitted (the header page was free)"),
        Err(other) => panic!("creating a service on a full disk gave {other:?}"),
    }

    // Freeing makes room again, through the free lists.
    for n in 0..large.min(4) {
        owner.free(&format!("large{n}")).unwrap();
    }
    owner.allocate(&spec("again", 4000)).unwrap();
    check_every_variable_still_works(&owner);
    drop(owner);
    let reopened = ServiceOwner::open(disk.path("a.svc")).unwrap();
    check_every_variable_still_works(&reopened);
}

/// Disk bytes a file really occupies.
fn disk_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

#[test]
fn an_unused_table_stays_sparse() {
    let mut fx = util::Fixture::new();
    let table_bytes = fx.owner.service().max_variables() as u64 * commy_shm::layout::ENTRY_SIZE as u64;
    fx.var("one", 8, b"1");
    let one = disk_bytes(&fx.path);
    for n in 0..100 {
        fx.var(&format!("v{n}"), 8, b"1");
    }
    let hundred = disk_bytes(&fx.path);
    println!(
        "disk cost of a service (default options, table of {table_bytes} B): {one} B with 1 variable, {hundred} B with 101"
    );
    assert!(
        one < table_bytes / 4,
        "a service with one variable occupies {one} B of disk"
    );
}
