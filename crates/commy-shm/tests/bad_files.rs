//! Files that are not service files, or are damaged, give typed errors: on open when the header or table says so,
//! on access when the damage is somewhere only an access looks. Never a panic, never a fault, never a hang.

mod util;

use commy_shm::layout::{self, entry, header};
use commy_shm::{
    Access, AccessError, Corruption, CreateOptions, LayoutError, OpenError, Service, ServiceOwner, VariableSpec,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const MAX_VARIABLES: u32 = 8;

/// A closed, valid service file: `a` (index 0, 8 bytes) and `b` (index 1, 64 bytes).
struct Sample {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Sample {
    fn new() -> Sample {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sample.svc");
        let opts = CreateOptions {
            max_variables: MAX_VARIABLES,
            initial_heap: 8192,
            max_capacity: 1 << 20,
        };
        let mut owner = ServiceOwner::create(&path, &opts).unwrap();
        for (name, capacity) in [("a", 8), ("b", 64)] {
            let spec = VariableSpec {
                name,
                capacity,
                type_tag: 0,
                persistent: false,
                initial: name.as_bytes(),
            };
            owner.allocate(&spec).unwrap();
        }
        Sample { _dir: dir, path }
    }

    fn entry(&self, index: u32, field: usize) -> u64 {
        util::entry_offset(MAX_VARIABLES, index) + field as u64
    }

    fn capacity(&self) -> u64 {
        util::u64_at(&self.path, header::CAPACITY as u64)
    }
}

/// Runs `f` on another thread and fails the test if it does not return within a generous guard: a hang is a bug.
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not return: it hangs"))
}

/// Opens `path` in all three ways and returns the errors (or `None` for a successful open).
fn open_errors(path: &Path) -> [Option<OpenError>; 3] {
    let path = path.to_owned();
    guarded("open", move || {
        [
            Service::open(&path, Access::ReadOnly).err(),
            Service::open(&path, Access::ReadWrite).err(),
            ServiceOwner::open(&path).err(),
        ]
    })
}

/// Every way of opening `path` fails with an error that `check` accepts.
fn assert_open_fails(path: &Path, check: impl Fn(&OpenError) -> bool) {
    for (how, err) in ["read-only", "read-write", "as owner"].iter().zip(open_errors(path)) {
        match err {
            Some(err) if check(&err) => {}
            Some(err) => panic!("opening {how} gave the wrong error: {err:?}"),
            None => panic!("opening {how} succeeded"),
        }
    }
}

fn is_not_ours(err: &OpenError) -> bool {
    matches!(err, OpenError::NotAServiceFile)
}

fn header_corrupt(field: &str) -> impl Fn(&OpenError) -> bool + '_ {
    move |err| matches!(err, OpenError::Corrupt(Corruption::Header { field: f, .. }) if *f == field)
}

fn entry_corrupt(index: u32) -> impl Fn(&OpenError) -> bool {
    move |err| match err {
        OpenError::Corrupt(Corruption::Entry { index: i, .. }) => *i == index,
        OpenError::Corrupt(Corruption::OutOfBounds { .. }) => true,
        _ => false,
    }
}

fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.svc");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_open_fails(&dir.path().join("absent.svc"), |e| matches!(e, OpenError::Io(_)));
}

#[test]
fn files_that_are_not_service_files_are_recognised() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    for bytes in [&b""[..], b"COMMYSV", b"hello, world", &random[..], &[0u8; 8192][..]] {
        let (_dir, path) = file_with(bytes);
        assert_open_fails(&path, is_not_ours);
    }
    let sample = Sample::new();
    util::write_at(&sample.path, header::MAGIC as u64, b"COMMYSVD");
    assert_open_fails(&sample.path, is_not_ours);
}

#[test]
fn a_file_with_our_magic_but_shorter_than_the_header_is_truncated() {
    let (_dir, path) = file_with(b"COMMYSVC and then it stops");
    assert_open_fails(&path, |e| matches!(e, OpenError::Truncated { len: 26, need: 4096 }));
}

#[test]
fn another_format_version_is_unsupported() {
    let sample = Sample::new();
    util::put_u32(&sample.path, header::FORMAT_VERSION as u64, layout::FORMAT_VERSION + 1);
    assert_open_fails(&sample.path, |e| {
        matches!(
            e,
            OpenError::UnsupportedVersion {
                found,
                supported: layout::FORMAT_VERSION
            } if *found == layout::FORMAT_VERSION + 1
        )
    });
}

#[test]
fn a_file_whose_creation_never_finished_is_not_initialised() {
    let sample = Sample::new();
    util::put_u32(&sample.path, header::INITIALISED as u64, 0);
    assert_open_fails(&sample.path, |e| matches!(e, OpenError::NotInitialised));
}

#[test]
fn a_file_shorter_than_its_recorded_capacity_is_truncated() {
    let sample = Sample::new();
    let capacity = sample.capacity();
    let file = std::fs::OpenOptions::new().write(true).open(&sample.path).unwrap();
    file.set_len(capacity - 4096).unwrap();
    assert_open_fails(
        &sample.path,
        |e| matches!(e, OpenError::Truncated { len, need } if *len == capacity - 4096 && *need == capacity),
    );
}

#[test]
fn impossible_header_fields_are_corrupt() {
    type Damage = (&'static str, usize, u64, bool);
    // (field name in the error, offset, value, whether the field is a u64)
    let cases: [Damage; 9] = [
        ("header_size", header::HEADER_SIZE, 8192, false),
        ("entry_size", header::ENTRY_SIZE, 64, false),
        ("max_variables", header::MAX_VARIABLES, 0, false),
        ("max_variables", header::MAX_VARIABLES, u32::MAX as u64, false),
        ("table_offset", header::TABLE_OFFSET, 4096, true),
        ("max_capacity", header::MAX_CAPACITY, u64::MAX, true),
        ("capacity", header::CAPACITY, 4096, true),
        ("heap_top", header::HEAP_TOP, u64::MAX - 7, true),
        ("high_water", header::HIGH_WATER, MAX_VARIABLES as u64 + 1, false),
    ];
    for (field, offset, value, wide) in cases {
        let sample = Sample::new();
        if wide {
            util::put_u64(&sample.path, offset as u64, value);
        } else {
            util::put_u32(&sample.path, offset as u64, value as u32);
        }
        assert_open_fails(&sample.path, header_corrupt(field));
    }
}

#[test]
fn impossible_table_entries_are_corrupt_on_open() {
    let heap = layout::regions(MAX_VARIABLES).2;
    let name_len_at = entry::TYPE_FLAGS_NAMELEN + 2;
    type Damage = Box<dyn Fn(&Sample)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "state 7",
            Box::new(|s| util::put_u32(&s.path, s.entry(1, entry::STATE), 7)),
        ),
        (
            "name length 0",
            Box::new(move |s| util::write_at(&s.path, s.entry(1, name_len_at), &[0])),
        ),
        (
            "name length 200",
            Box::new(move |s| util::write_at(&s.path, s.entry(1, name_len_at), &[200])),
        ),
        (
            "name not UTF-8",
            Box::new(|s| util::write_at(&s.path, s.entry(1, entry::NAME), &[0xff])),
        ),
        (
            "block past the end",
            Box::new(|s| util::put_u64(&s.path, s.entry(1, entry::BLOCK_OFFSET), s.capacity())),
        ),
        (
            "block far past the end",
            Box::new(|s| util::put_u64(&s.path, s.entry(1, entry::BLOCK_OFFSET), u64::MAX - 63)),
        ),
        (
            "block in the table",
            Box::new(move |s| util::put_u64(&s.path, s.entry(1, entry::BLOCK_OFFSET), heap - 64)),
        ),
        (
            "block misaligned",
            Box::new(move |s| util::put_u64(&s.path, s.entry(1, entry::BLOCK_OFFSET), heap + 8)),
        ),
        (
            "capacity past the end",
            Box::new(|s| util::put_u32(&s.path, s.entry(1, entry::CAPACITY), u32::MAX)),
        ),
    ];
    for (what, damage) in damages {
        let sample = Sample::new();
        damage(&sample);
        for (how, err) in ["read-only", "read-write", "as owner"]
            .iter()
            .zip(open_errors(&sample.path))
        {
            match err {
                Some(err) if entry_corrupt(1)(&err) => {}
                other => panic!("{what}: opening {how} gave {other:?}"),
            }
        }
    }
}

#[test]
fn damage_past_the_high_water_mark_is_never_looked_at() {
    let sample = Sample::new();
    util::put_u32(&sample.path, sample.entry(5, entry::STATE), 7);
    let service = Service::open(&sample.path, Access::ReadOnly).unwrap();
    assert_eq!(service.list().unwrap().len(), 2);
}

#[test]
fn a_slot_length_beyond_the_capacity_is_corrupt_on_read_and_healed_by_a_write() {
    let sample = Sample::new();
    let block = util::u64_at(&sample.path, sample.entry(0, entry::BLOCK_OFFSET));
    // Version 1 is active: slot 1 holds "a".
    let slot1 = block + layout::slot_size(8);
    util::put_u64(&sample.path, slot1, 9);
    let service = Service::open(&sample.path, Access::ReadWrite).unwrap();
    let a = service.lookup("a").unwrap();
    assert!(matches!(
        service.read(a),
        Err(AccessError::Corrupt(Corruption::Entry { index: 0, .. }))
    ));
    assert!(matches!(
        service.read_into(a, &mut [0; 64]),
        Err(AccessError::Corrupt(_))
    ));
    assert_eq!(service.write(a, b"fixed"), Ok(2));
    assert_eq!(service.read(a).unwrap(), (b"fixed".to_vec(), 2));
}

#[test]
fn a_free_list_pointing_outside_the_heap_is_corrupt_on_allocate_and_changes_nothing() {
    let heap = layout::regions(MAX_VARIABLES).2;
    // Blocks of 64 bytes are size class 0; a variable of 8 bytes needs 32 bytes, so it takes class 0.
    for bad_head in [64, heap + 8, 1 << 40, heap + (1 << 20)] {
        let sample = Sample::new();
        util::put_u64(&sample.path, header::FREE_LISTS as u64, bad_head);
        let mut owner = guarded("owner open", {
            let path = sample.path.clone();
            move || ServiceOwner::open(&path)
        })
        .unwrap();
        let spec = VariableSpec {
            name: "c",
            capacity: 8,
            type_tag: 0,
            persistent: false,
            initial: b"c",
        };
        match owner.allocate(&spec) {
            Err(LayoutError::Corrupt(_)) => {}
            other => panic!("free list head {bad_head}: allocate gave {other:?}"),
        }
        assert_eq!(owner.variable_count(), 2);
        assert_eq!(owner.service().list().unwrap().len(), 2);
        assert_eq!(util::u64_at(&sample.path, header::FREE_LISTS as u64), bad_head);
    }
}

#[test]
fn damage_done_after_open_is_reported_on_access() {
    let sample = Sample::new();
    let service = Service::open(&sample.path, Access::ReadOnly).unwrap();
    let b = service.lookup("b").unwrap();
    util::write_at(&sample.path, sample.entry(1, entry::TYPE_FLAGS_NAMELEN + 2), &[0]);
    assert!(matches!(
        service.list(),
        Err(AccessError::Corrupt(Corruption::Entry { index: 1, .. }))
    ));
    assert!(matches!(service.lookup("a"), Err(AccessError::Corrupt(_))));
    assert!(matches!(service.read(b), Err(AccessError::Corrupt(_))));
    util::put_u32(&sample.path, sample.entry(1, entry::STATE), 7);
    assert!(service.read(b).is_err());
    assert!(service.version(b).is_err());
}

/// Regression: an owner killed while changing the layout leaves the generation odd. Opening the file used to wait
/// for that generation to become even, so the restarted owner hung in `ServiceOwner::open` and never repaired it.
#[test]
fn an_owner_killed_mid_change_leaves_a_file_the_next_owner_repairs() {
    let sample = Sample::new();
    let at = header::LAYOUT_GENERATION as u64;
    let generation = util::u64_at(&sample.path, at);
    assert_eq!(generation % 2, 0);
    util::put_u64(&sample.path, at, generation + 1);

    // A client may attach meanwhile (its reads wait for the owner).
    let path = sample.path.clone();
    let client = guarded("client open", move || Service::open(&path, Access::ReadOnly)).unwrap();
    let path = sample.path.clone();
    let owner = guarded("owner open", move || ServiceOwner::open(&path)).unwrap();
    assert_eq!(util::u64_at(&sample.path, at), generation + 2);
    assert_eq!(owner.variable_count(), 2);
    let a = client.lookup("a").unwrap();
    assert_eq!(client.read(a).unwrap(), (b"a".to_vec(), 1));
}

/// Regression (found by the fuzzer): a version word of u64::MAX in the file made the next write, allocation or
/// resize overflow (a panic in debug builds). Versions wrap instead, and the active slot still alternates.
#[test]
fn a_version_at_its_maximum_wraps_instead_of_overflowing() {
    let sample = Sample::new();
    let version_of = |index: u64| layout::HEADER_SIZE as u64 + 8 * index;
    // `a` (index 0) is at version 1, so slot 1 is active; u64::MAX keeps it active.
    util::put_u64(&sample.path, version_of(0), u64::MAX);
    // Entry 2 was never used; the next allocation takes it.
    util::put_u64(&sample.path, version_of(2), u64::MAX);
    let mut owner = ServiceOwner::open(&sample.path).unwrap();
    let service = owner.service().clone();
    let a = owner.lookup("a").unwrap();
    assert_eq!(service.read(a).unwrap(), (b"a".to_vec(), u64::MAX));
    assert_eq!(service.write(a, b"wrapped"), Ok(0));
    assert_eq!(service.read(a).unwrap(), (b"wrapped".to_vec(), 0));
    let c = owner
        .allocate(&VariableSpec {
            name: "c",
            capacity: 8,
            type_tag: 0,
            persistent: false,
            initial: b"c",
        })
        .unwrap();
    assert_eq!(c.index(), 2);
    assert_eq!(service.read(c).unwrap(), (b"c".to_vec(), 0));
    // Version 0 selects slot 0, as u64::MAX - 1 does.
    util::put_u64(&sample.path, version_of(2), u64::MAX - 1);
    assert_eq!(service.write(c, b"cc"), Ok(u64::MAX));
    owner.resize("c", 16).unwrap();
    assert_eq!(service.read(c).unwrap(), (b"cc".to_vec(), 0));
}

/// Regression (found by the fuzzer): a heap top that is not a block boundary made the next allocation write its
/// block at a misaligned offset (a debug assertion stopped it; release builds did a misaligned atomic access).
#[test]
fn a_heap_top_off_a_block_boundary_is_corrupt_on_allocate_and_changes_nothing() {
    let heap = layout::regions(MAX_VARIABLES).2;
    let sample = Sample::new();
    let top = util::u64_at(&sample.path, header::HEAP_TOP as u64);
    for bad_top in [heap + 1145, top + 8] {
        util::put_u64(&sample.path, header::HEAP_TOP as u64, bad_top);
        let mut owner = ServiceOwner::open(&sample.path).unwrap();
        let spec = VariableSpec {
            name: "c",
            capacity: 8,
            type_tag: 0,
            persistent: false,
            initial: b"c",
        };
        match owner.allocate(&spec) {
            Err(LayoutError::Corrupt(Corruption::Header { field: "heap_top", .. })) => {}
            other => panic!("heap top {bad_top}: allocate gave {other:?}"),
        }
        assert_eq!(owner.variable_count(), 2);
        assert_eq!(util::u64_at(&sample.path, header::HEAP_TOP as u64), bad_top);
    }
}
