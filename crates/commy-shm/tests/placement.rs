//! Placement (`docs/service-file.md`, "Placement"): the owner gives each new variable a version cache line of its own
//! while it can, and spreads the first 256 over distinct change groups; the table still fills to the last entry; files
//! placed the old way (packed from index 0) keep their indices; relocation and migration keep every index.

mod util;

use commy_shm::layout;
use commy_shm::{Access, CreateOptions, LayoutError, Service, ServiceOwner, VarHandle, VariableSpec};
use std::collections::HashSet;
use util::Fixture;

fn line(handle: VarHandle) -> u32 {
    handle.index() / 8
}

fn group(handle: VarHandle) -> u32 {
    handle.index() % layout::CHANGE_WORDS
}

fn distinct(values: impl Iterator<Item = u32>) -> usize {
    values.collect::<HashSet<_>>().len()
}

fn spec(name: &str) -> VariableSpec<'_> {
    VariableSpec {
        name,
        capacity: 8,
        type_tag: 1,
        persistent: false,
        initial: &[1; 8],
    }
}

fn allocate_numbered(fx: &mut Fixture, count: u32) -> Vec<VarHandle> {
    (0..count)
        .map(|i| fx.var(&format!("v{i}"), 8, &u64::from(i).to_le_bytes()))
        .collect()
}

#[test]
fn the_first_max_over_8_variables_each_have_a_version_line_and_the_first_256_a_change_group() {
    let mut fx = Fixture::new();
    let per_line = fx.owner.service().max_variables() / 8;
    assert_eq!(per_line, 512);
    let handles = allocate_numbered(&mut fx, per_line);
    assert_eq!(distinct(handles.iter().map(|&h| line(h))), 512, "{handles:?}");
    assert_eq!(distinct(handles[..256].iter().map(|&h| group(h))), 256, "{handles:?}");

    // Another process finds and reads every one of them where the owner put it.
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let listed = client.list().unwrap();
    assert_eq!(listed.len(), 512);
    // With no frees, table order is still creation order.
    let names: Vec<_> = listed.iter().map(|v| v.name.clone()).collect();
    let created: Vec<_> = (0..per_line).map(|i| format!("v{i}")).collect();
    assert_eq!(names, created);
    for (i, &handle) in handles.iter().enumerate() {
        assert_eq!(client.lookup(&format!("v{i}")), Ok(handle));
        assert_eq!(client.read(handle).unwrap().0, (i as u64).to_le_bytes());
    }
}

#[test]
fn a_freed_variable_leaves_a_hole_that_the_next_one_fills() {
    let mut fx = Fixture::new();
    let handles = allocate_numbered(&mut fx, 10);
    fx.owner.free("v3").unwrap();
    let refill = fx.var("refill", 8, &[7; 8]);
    assert_eq!(refill.index(), handles[3].index());
    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    assert_eq!(client.read(refill).unwrap().0, [7; 8]);
    assert!(
        client.read(handles[3]).is_err(),
        "the freed variable's handle must be stale"
    );
    // The next one goes to a fresh line again, past the ten.
    let next = fx.var("next", 8, &[8; 8]);
    assert_eq!(distinct(handles.iter().chain([&refill, &next]).map(|&h| line(h))), 11);
}

#[test]
fn the_table_still_fills_to_max_variables_and_only_then_is_full() {
    let opts = CreateOptions {
        max_variables: 64,
        ..CreateOptions::default()
    };
    let mut fx = Fixture::with(&opts);
    let handles = allocate_numbered(&mut fx, 64);
    assert_eq!(distinct(handles.iter().map(|h| h.index())), 64);
    let spec = spec("one-too-many");
    let full = fx.owner.allocate(&spec);
    assert!(matches!(full, Err(LayoutError::TableFull { max: 64 })), "{full:?}");
    fx.owner.free("v40").unwrap();
    assert_eq!(fx.owner.allocate(&spec).unwrap().index(), handles[40].index());
    let client = Service::open(&fx.path, Access::ReadOnly).unwrap();
    assert_eq!(client.list().unwrap().len(), 64);
}

/// `tests/fixtures/packed.svc` was written by the owner before placement (see the README there): ten variables
/// packed at indices 0-9, `v3` freed since.
#[test]
fn a_file_placed_the_old_way_keeps_its_indices_and_grows_onto_empty_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packed.svc");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/packed.svc"), &path).unwrap();
    let mut owner = ServiceOwner::open(&path).unwrap();
    let client = Service::open(&path, Access::ReadWrite).unwrap();
    for i in (0..10u32).filter(|&i| i != 3) {
        let handle = client.lookup(&format!("v{i}")).unwrap();
        assert_eq!(handle.index(), i);
        let expected = if i == 9 { 90u64 } else { u64::from(i) };
        assert_eq!(client.read(handle).unwrap().0, expected.to_le_bytes());
    }
    // Line 0 holds seven and line 1 two: the new variable takes the first empty line, not the hole at 3.
    let new = owner.allocate(&spec("new")).unwrap();
    assert_eq!(new.index(), 16);
    assert_eq!(client.lookup("new"), Ok(new));
    let v0 = client.lookup("v0").unwrap();
    client.write(v0, &5u64.to_le_bytes()).unwrap();
    assert_eq!(owner.service().read(v0).unwrap().0, 5u64.to_le_bytes());
}

#[test]
fn relocation_keeps_every_index() {
    let mut fx = Fixture::new();
    let handles = allocate_numbered(&mut fx, 20);
    fx.owner.free("v5").unwrap();
    let moved = fx.owner.relocate(&fx.dir.path().join("moved.svc")).unwrap();
    for (i, handle) in handles.iter().enumerate().filter(|&(i, _)| i != 5) {
        assert_eq!(moved.lookup(&format!("v{i}")), Ok(*handle));
    }
}

/// `tests/fixtures/format1.svc` holds `counter` at index 0 and `status` at index 2 (see the README there).
#[test]
fn migration_keeps_every_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.svc");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format1.svc"),
        &path,
    )
    .unwrap();
    let owner = ServiceOwner::open(&path).unwrap();
    assert_eq!(owner.lookup("counter").unwrap().index(), 0);
    assert_eq!(owner.lookup("status").unwrap().index(), 2);
    let client = Service::open(&path, Access::ReadOnly).unwrap();
    assert_eq!(client.lookup("status"), owner.lookup("status"));
}
