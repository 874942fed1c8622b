//! The owner's layout operations: allocate, list, lookup, free, resize, grow and reopen, and their errors. The
//! last tests check that another process which mapped the file earlier sees what the owner did, including
//! variables whose blocks lie past the file's end at the time it mapped it.

mod util;

use commy_shm::layout::{self, entry};
use commy_shm::{Access, AccessError, CreateOptions, LayoutError, Service, ServiceOwner, VariableEntry, VariableSpec};
use util::{Fixture, Helper};

fn spec<'a>(name: &'a str, capacity: u32, initial: &'a [u8]) -> VariableSpec<'a> {
    VariableSpec {
        name,
        capacity,
        type_tag: 0,
        persistent: false,
        initial,
    }
}

#[test]
fn allocated_variables_are_listed_looked_up_and_read_by_every_attachment() {
    let mut fx = Fixture::new();
    let a = fx
        .owner
        .allocate(&VariableSpec {
            name: "temperature",
            capacity: 8,
            type_tag: 3,
            persistent: true,
            initial: &21.5f64.to_le_bytes(),
        })
        .unwrap();
    let b = fx.var("status", 64, b"ok");
    let c = fx.var("empty", 16, b"");
    assert_eq!(fx.owner.variable_count(), 3);

    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    let list = client.list().unwrap();
    assert_eq!(
        list,
        [
            VariableEntry {
                handle: a,
                name: "temperature".into(),
                type_tag: 3,
                persistent: true,
                capacity: 8,
                version: 1,
            },
            VariableEntry {
                handle: b,
                name: "status".into(),
                type_tag: 0,
                persistent: false,
                capacity: 64,
                version: 1,
            },
            VariableEntry {
                handle: c,
                name: "empty".into(),
                type_tag: 0,
                persistent: false,
                capacity: 16,
                version: 1,
            },
        ]
    );
    assert_eq!(fx.owner.service().list().unwrap(), list);
    for (name, handle) in [("temperature", a), ("status", b), ("empty", c)] {
        assert_eq!(client.lookup(name), Ok(handle));
        assert_eq!(fx.owner.lookup(name), Ok(handle));
        assert_eq!(client.variable_at(handle.index()).unwrap().name, name);
    }
    assert_eq!(client.lookup("nope"), Err(AccessError::NotFound("nope".into())));
    assert_eq!(client.read(a).unwrap(), (21.5f64.to_le_bytes().to_vec(), 1));
    assert_eq!(client.read(b).unwrap(), (b"ok".to_vec(), 1));
    assert_eq!(client.read(c).unwrap(), (vec![], 1));
    let mut small = [0u8; 1];
    assert_eq!(
        client.read_into(b, &mut small),
        Err(AccessError::BufferTooSmall { len: 1, needed: 2 })
    );
}

#[test]
fn names_must_be_unique_and_1_to_128_bytes() {
    let mut fx = Fixture::new();
    fx.var("x", 8, b"first");
    match fx.owner.allocate(&spec("x", 8, b"second")) {
        Err(LayoutError::AlreadyExists(name)) => assert_eq!(name, "x"),
        other => panic!("duplicate name gave {other:?}"),
    }
    assert_eq!(
        fx.owner.service().read(fx.owner.lookup("x").unwrap()).unwrap().0,
        b"first"
    );
    for len in [0, 129] {
        let name = "n".repeat(len);
        match fx.owner.allocate(&spec(&name, 8, b"")) {
            Err(LayoutError::BadName { len: got }) => assert_eq!(got, len),
            other => panic!("a {len}-byte name gave {other:?}"),
        }
    }
    let longest = "é".repeat(64);
    let handle = fx.owner.allocate(&spec(&longest, 8, b"")).unwrap();
    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    assert_eq!(client.lookup(&longest), Ok(handle));
    assert_eq!(fx.owner.variable_count(), 2);
}

#[test]
fn values_larger_than_the_capacity_are_refused_whole() {
    let mut fx = Fixture::new();
    match fx.owner.allocate(&spec("big", 4, b"12345")) {
        Err(LayoutError::TooLarge { len: 5, capacity: 4 }) => {}
        other => panic!("oversized initial value gave {other:?}"),
    }
    assert_eq!(fx.owner.variable_count(), 0);
    let var = fx.var("v", 4, b"1234");
    assert_eq!(
        fx.owner.service().write(var, b"12345"),
        Err(AccessError::TooLarge { len: 5, capacity: 4 })
    );
    assert_eq!(fx.owner.service().read(var).unwrap(), (b"1234".to_vec(), 1));
}

#[test]
fn a_full_table_refuses_until_an_entry_is_freed() {
    let mut fx = Fixture::with(&CreateOptions {
        max_variables: 4,
        ..CreateOptions::default()
    });
    for i in 0..4 {
        fx.var(&format!("v{i}"), 8, b"");
    }
    match fx.owner.allocate(&spec("v4", 8, b"")) {
        Err(LayoutError::TableFull { max: 4 }) => {}
        other => panic!("a fifth variable in a 4-entry table gave {other:?}"),
    }
    fx.owner.free("v2").unwrap();
    let v4 = fx.var("v4", 8, b"");
    assert_eq!(v4.index(), 2, "the freed entry is reused");
    assert_eq!(fx.owner.variable_count(), 4);
}

#[test]
fn freeing_makes_handles_stale_and_names_unknown() {
    let mut fx = Fixture::new();
    let keep = fx.var("keep", 8, b"k");
    let gone = fx.var("gone", 8, b"g");
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    fx.owner.free("gone").unwrap();
    assert_eq!(fx.owner.variable_count(), 1);
    for service in [fx.owner.service(), &client] {
        assert_eq!(service.read(gone), Err(AccessError::Stale));
        assert_eq!(service.read_into(gone, &mut [0; 8]), Err(AccessError::Stale));
        assert_eq!(service.write(gone, b"x"), Err(AccessError::Stale));
        assert_eq!(service.version(gone), Err(AccessError::Stale));
        assert_eq!(service.lookup("gone"), Err(AccessError::NotFound("gone".into())));
        assert_eq!(service.read(keep).unwrap().0, b"k");
        assert_eq!(service.list().unwrap().len(), 1);
    }
    assert_eq!(fx.owner.lookup("gone"), Err(AccessError::NotFound("gone".into())));
    match fx.owner.free("gone") {
        Err(LayoutError::NotFound(name)) => assert_eq!(name, "gone"),
        other => panic!("freeing twice gave {other:?}"),
    }
}

#[test]
fn a_reused_entry_does_not_answer_to_the_old_handle() {
    let mut fx = Fixture::new();
    let old = fx.var("old", 8, b"old");
    fx.owner.free("old").unwrap();
    let new = fx.var("new", 8, b"new");
    assert_eq!(new.index(), old.index(), "the entry is reused");
    assert_ne!(new, old);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    for service in [fx.owner.service(), &client] {
        assert_eq!(service.read(old), Err(AccessError::Stale));
        assert_eq!(service.write(old, b"x"), Err(AccessError::Stale));
        let (value, _) = service.read(new).unwrap();
        assert_eq!(value, b"new");
    }
}

#[test]
fn resizing_keeps_the_value_and_the_handle() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, b"12345678");
    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    let handle = fx.owner.resize("v", 1000).unwrap();
    assert_eq!(handle, var);
    assert_eq!(client.read(var).unwrap(), (b"12345678".to_vec(), 2));
    assert_eq!(client.info_of(var).unwrap().capacity, 1000);
    let long = vec![7u8; 1000];
    fx.owner.service().write(var, &long).unwrap();
    assert_eq!(client.read(var).unwrap().0, long);
    // Shrinking below the current value is refused, and changes nothing.
    match fx.owner.resize("v", 999) {
        Err(LayoutError::TooLarge {
            len: 1000,
            capacity: 999,
        }) => {}
        other => panic!("shrinking below the value gave {other:?}"),
    }
    assert_eq!(client.read(var).unwrap(), (long, 3));
    fx.owner.service().write(var, b"ab").unwrap();
    fx.owner.resize("v", 2).unwrap();
    assert_eq!(client.read(var).unwrap(), (b"ab".to_vec(), 5));
    assert_eq!(client.info_of(var).unwrap().capacity, 2);
    assert!(matches!(fx.owner.resize("nope", 8), Err(LayoutError::NotFound(_))));
}

#[test]
fn freed_blocks_are_reused_so_churn_does_not_grow_the_file() {
    let mut fx = Fixture::new();
    fx.var("fixed", 100, &[9; 100]);
    let capacity = fx.owner.service().capacity();
    for round in 0..500u32 {
        let var = fx.var("churn", 4000, &round.to_le_bytes());
        assert_eq!(fx.owner.service().read(var).unwrap().0, round.to_le_bytes());
        fx.owner.free("churn").unwrap();
    }
    assert_eq!(fx.owner.service().capacity(), capacity);
    let fixed = fx.owner.lookup("fixed").unwrap();
    assert_eq!(fx.owner.service().read(fixed).unwrap().0, [9; 100]);
}

#[test]
fn grow_extends_the_file_up_to_its_maximum() {
    let mut fx = Fixture::with(&CreateOptions {
        max_variables: 16,
        initial_heap: 4096,
        max_capacity: 1 << 20,
    });
    let before = fx.owner.service().capacity();
    assert_eq!(std::fs::metadata(&fx.path).unwrap().len(), before);
    fx.owner.grow(before + 10_000).unwrap();
    let after = fx.owner.service().capacity();
    assert!(after >= before + 10_000 && after.is_multiple_of(4096));
    assert_eq!(std::fs::metadata(&fx.path).unwrap().len(), after);
    fx.owner.grow(before).unwrap(); // never shrinks
    assert_eq!(fx.owner.service().capacity(), after);
    match fx.owner.grow((1 << 20) + 1) {
        Err(LayoutError::OutOfSpace { max, .. }) => assert_eq!(max, 1 << 20),
        other => panic!("growing past the maximum gave {other:?}"),
    }
    match fx.owner.allocate(&spec("huge", 600_000, b"")) {
        Err(LayoutError::OutOfSpace { .. }) => {}
        other => panic!("a variable bigger than the maximum file gave {other:?}"),
    }
    assert_eq!(fx.owner.service().capacity(), after);
}

/// Regression: after growing the file, the owner wrote the new block through offsets its own mapping did not yet
/// know to be inside the file, and a debug assertion stopped it.
#[test]
fn the_owner_allocates_and_resizes_into_space_it_just_grew() {
    let mut fx = Fixture::with(&CreateOptions {
        max_variables: 16,
        initial_heap: 4096,
        max_capacity: 64 << 20,
    });
    let before = fx.owner.service().capacity();
    let var = fx.var("v", 10_000, &[1; 10_000]);
    assert!(fx.owner.service().capacity() > before);
    assert_eq!(fx.owner.service().read(var).unwrap().0, [1; 10_000]);
    let grown = fx.owner.service().capacity();
    fx.owner.resize("v", 1_000_000).unwrap();
    assert!(fx.owner.service().capacity() > grown);
    fx.owner.service().write(var, &[2; 1_000_000]).unwrap();
    assert_eq!(fx.owner.service().read(var).unwrap().0, [2; 1_000_000]);
}

#[test]
fn a_reopened_owner_sees_everything_and_allocates_around_it() {
    let mut fx = Fixture::new();
    let names: Vec<String> = (0..20).map(|i| format!("var{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        fx.var(name, 10 + 50 * i as u32, &[i as u8; 10]);
    }
    fx.owner.free("var3").unwrap();
    fx.owner.resize("var5", 5000).unwrap();
    let listed = fx.owner.service().list().unwrap();
    let path = fx.path.clone();
    drop(std::mem::replace(
        &mut fx.owner,
        ServiceOwner::create(fx.dir.path().join("other.svc"), &CreateOptions::default()).unwrap(),
    ));

    let mut owner = ServiceOwner::open(&path).unwrap();
    assert_eq!(owner.variable_count(), 19);
    assert_eq!(owner.service().list().unwrap(), listed);
    assert!(owner.lookup("var3").is_err());
    for (i, name) in names.iter().enumerate().filter(|(i, _)| *i != 3) {
        let handle = owner.lookup(name).unwrap();
        assert_eq!(owner.service().read(handle).unwrap().0, [i as u8; 10]);
    }
    // New variables go into free space: filling them leaves every old value intact.
    for i in 0..10u8 {
        let var = owner.allocate(&spec(&format!("new{i}"), 300, &[0xff; 300])).unwrap();
        owner.service().write(var, &[0xfe; 300]).unwrap();
    }
    assert!(matches!(
        owner.allocate(&spec("var0", 8, b"")),
        Err(LayoutError::AlreadyExists(_))
    ));
    for (i, name) in names.iter().enumerate().filter(|(i, _)| *i != 3) {
        let handle = owner.lookup(name).unwrap();
        assert_eq!(owner.service().read(handle).unwrap().0, [i as u8; 10]);
    }
    assert_eq!(owner.variable_count(), 29);
}

/// Another process maps the file, then the owner grows it by allocating a variable too big for it. The other
/// process, without remapping, finds the variable, reads it, and writes it.
#[test]
fn a_process_that_mapped_the_file_earlier_reaches_variables_past_its_old_end() {
    let mut fx = Fixture::with(&CreateOptions {
        max_variables: 16,
        initial_heap: 4096,
        max_capacity: 64 << 20,
    });
    fx.var("small", 8, b"s");
    let old_len = fx.owner.service().capacity();
    let mut rw = Helper::spawn(&["serve", fx.path_str(), "rw"]);
    let mut ro = Helper::spawn(&["serve", fx.path_str(), "ro"]);
    rw.expect("READY");
    ro.expect("READY");
    assert_eq!(ro.ask("read big"), "ERR NotFound(\"big\")");

    let value: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    // The first large block straddles the old end; the second lies wholly past it.
    fx.var("straddling", 100_000, &value);
    let big = fx.var("big", 100_000, &value);
    let new_len = fx.owner.service().capacity();
    let block = util::u64_at(&fx.path, fx.entry(big.index()) + entry::BLOCK_OFFSET as u64);
    assert!(new_len > old_len, "the file did not grow");
    assert!(
        block >= old_len,
        "the block at {block} is not past the old end {old_len}"
    );
    assert!(block + layout::block_need(100_000) <= new_len);

    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(ro.ask("read big"), format!("VALUE 1 {}", hex(&value)));
    assert_eq!(rw.ask("read big"), format!("VALUE 1 {}", hex(&value)));
    assert_eq!(ro.ask("read straddling"), format!("VALUE 1 {}", hex(&value)));
    assert_eq!(rw.ask(&format!("write big {}", hex(b"written by a child"))), "WROTE 2");
    assert_eq!(
        fx.owner.service().read(big).unwrap(),
        (b"written by a child".to_vec(), 2)
    );
    assert_eq!(ro.ask("read big"), format!("VALUE 2 {}", hex(b"written by a child")));
    assert_eq!(ro.ask("capacity"), format!("CAPACITY {new_len}"));
    ro.finish_ok();
    rw.finish_ok();
}
