//! A read-only attachment cannot change the file: the API refuses to write, and a store through the mapping itself
//! kills the process with SIGSEGV, because the pages are mapped without write permission.

mod util;

use commy_shm::{Access, AccessError, OpenError, Service};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use util::{Fixture, Helper};

/// A header byte past the last field: no part of the crate reads or writes it, so storing to it disturbs nothing.
const SPARE_HEADER_BYTE: u64 = 4000;

#[test]
fn writing_through_a_read_only_attachment_is_refused_and_changes_nothing() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, b"before");
    let ro = Service::open(&fx.path, Access::ReadOnly).unwrap();
    assert_eq!(ro.access(), Access::ReadOnly);
    let handle = ro.lookup("v").unwrap();
    assert_eq!(handle, var);
    assert_eq!(ro.write(handle, b"after"), Err(AccessError::ReadOnly));
    assert_eq!(ro.read(handle).unwrap(), (b"before".to_vec(), 1));
    assert_eq!(fx.owner.service().read(var).unwrap(), (b"before".to_vec(), 1));
    // Reading still works, and sees the owner's writes.
    fx.owner.service().write(var, b"after").unwrap();
    assert_eq!(ro.read(handle).unwrap(), (b"after".to_vec(), 2));
}

#[test]
fn a_read_only_descriptor_attaches_read_only_but_not_read_write() {
    let mut fx = Fixture::new();
    fx.var("v", 8, b"x");
    let fd = || OwnedFd::from(File::open(&fx.path).unwrap());
    match Service::from_fd(fd(), Access::ReadWrite) {
        Err(OpenError::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied),
        other => panic!("mapping a read-only descriptor read-write gave {other:?}"),
    }
    let ro = Service::from_fd(fd(), Access::ReadOnly).unwrap();
    let handle = ro.lookup("v").unwrap();
    assert_eq!(ro.read(handle).unwrap().0, b"x");
    assert_eq!(ro.write(handle, b"y"), Err(AccessError::ReadOnly));
}

#[test]
fn a_store_through_a_read_only_mapping_kills_the_process_with_sigsegv() {
    let fx = Fixture::new();
    let before = util::read_at(&fx.path, SPARE_HEADER_BYTE, 1)[0];
    let mut child = Helper::spawn(&["store", fx.path_str(), "ro", &SPARE_HEADER_BYTE.to_string()]);
    child.expect("ATTACHED");
    let (status, rest) = child.finish();
    assert_eq!(
        status.signal(),
        Some(rustix::process::Signal::SEGV.as_raw()),
        "the store did not fault: {status}, then printed {rest:?}"
    );
    assert!(rest.is_empty(), "the child went on after the store: {rest:?}");
    assert_eq!(util::read_at(&fx.path, SPARE_HEADER_BYTE, 1)[0], before);
}

/// The control for the test above: the same store through a read-write mapping lands, so it is the protection, not
/// the helper, that makes the read-only store fault.
#[test]
fn the_same_store_through_a_read_write_mapping_lands() {
    let fx = Fixture::new();
    let child = Helper::spawn(&["store", fx.path_str(), "rw", &SPARE_HEADER_BYTE.to_string()]);
    let lines = child.finish_ok();
    assert_eq!(lines, ["ATTACHED", "STORED"]);
    assert_eq!(util::read_at(&fx.path, SPARE_HEADER_BYTE, 1)[0], 0x5a);
}
