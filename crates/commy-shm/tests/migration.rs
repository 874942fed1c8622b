//! A file written by format-1 code (tests/fixtures/format1.svc, see the README there) is migrated when its owner
//! opens it, never treated as corrupt: same variables, values, types, flags and versions, in a format-2 file under
//! the same name.

mod util;

use commy_shm::layout::{self, header};
use commy_shm::{Access, OpenError, Service, ServiceOwner};

fn format1_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.svc");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format1.svc");
    std::fs::copy(fixture, &path).unwrap();
    (dir, path)
}

#[test]
fn a_format_1_file_is_migrated_by_its_owner_with_values_and_versions() {
    let (dir, path) = format1_copy();
    assert_eq!(util::u32_at(&path, header::FORMAT_VERSION as u64), 1);
    // A client does not migrate: it is told the version.
    assert!(matches!(
        Service::open(&path, Access::ReadOnly),
        Err(OpenError::UnsupportedVersion { found: 1, .. })
    ));

    let owner = ServiceOwner::open(&path).unwrap();
    assert_eq!(
        util::u32_at(&path, header::FORMAT_VERSION as u64),
        layout::FORMAT_VERSION
    );
    let service = owner.service();
    let list = service.list().unwrap();
    let summary: Vec<_> = list
        .iter()
        .map(|v| (v.name.as_str(), v.capacity, v.type_tag, v.persistent, v.version))
        .collect();
    assert_eq!(summary, [("counter", 8, 1, true, 5), ("status", 64, 1, false, 3)]);
    let counter = owner.lookup("counter").unwrap();
    assert_eq!(service.read(counter).unwrap(), (5u64.to_le_bytes().to_vec(), 5));
    let status = owner.lookup("status").unwrap();
    assert_eq!(service.read(status).unwrap(), (b"format 1, resized".to_vec(), 3));
    // The format-1 lock word of `status` named a dead writer; format 2 does not look there.
    assert_eq!(service.write(status, b"format 2"), Ok(4));
    assert_eq!(service.write(counter, &6u64.to_le_bytes()), Ok(6));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["old.svc"]);

    // Reopened, it is an ordinary format-2 file.
    drop(owner);
    let owner = ServiceOwner::open(&path).unwrap();
    assert_eq!(owner.service().read(status).unwrap(), (b"format 2".to_vec(), 4));
    Service::open(&path, Access::ReadWrite).unwrap();
}

/// Found by the fuzzer: a format-1 file whose owner was killed mid-change (layout generation odd) made the migration
/// wait for the generation, then fail, so the server would have moved a sound file aside. Format 1's own recovery
/// was to make the generation even; the migration does the same.
#[test]
fn a_format_1_file_left_mid_change_is_migrated_too() {
    let (_dir, path) = format1_copy();
    let at = header::LAYOUT_GENERATION as u64;
    util::put_u64(&path, at, util::u64_at(&path, at) | 1);
    let owner = ServiceOwner::open(&path).unwrap();
    let counter = owner.lookup("counter").unwrap();
    assert_eq!(owner.service().read(counter).unwrap(), (5u64.to_le_bytes().to_vec(), 5));
}
