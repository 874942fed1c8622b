//! Writes valid service files of several shapes into the directory given as the only argument, as starting points
//! for the `open_service` fuzz target. Small tables and heaps keep each file near 16 KiB.

use commy_shm::layout::header;
use commy_shm::{CreateOptions, ServiceOwner, VariableSpec};
use std::os::unix::fs::FileExt;
use std::path::Path;

fn spec<'a>(name: &'a str, capacity: u32, initial: &'a [u8]) -> VariableSpec<'a> {
    VariableSpec {
        name,
        capacity,
        type_tag: (capacity % 7) as u8,
        persistent: capacity % 2 == 0,
        initial,
    }
}

fn create(dir: &Path, name: &str, max_variables: u32, initial_heap: u64) -> ServiceOwner {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let opts = CreateOptions {
        max_variables,
        initial_heap,
        max_capacity: 1 << 20,
    };
    ServiceOwner::create(&path, &opts).expect("create a seed file")
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: make_seeds DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create the seed directory");

    // An empty table of one entry.
    create(dir, "empty", 1, 4096);

    // A few variables, every slot used, one freed (a non-empty free list) and one resized.
    let mut owner = create(dir, "mixed", 4, 4096);
    let a = owner.allocate(&spec("temperature", 8, &21.5f64.to_le_bytes())).unwrap();
    owner.allocate(&spec("status", 30, b"ok")).unwrap();
    owner.allocate(&spec("gone", 16, b"bye")).unwrap();
    owner.service().write(a, &22.0f64.to_le_bytes()).unwrap();
    owner.service().write(a, &22.5f64.to_le_bytes()).unwrap();
    owner.free("gone").unwrap();
    owner.resize("status", 100).unwrap();

    // A full table with long and non-ASCII names.
    let mut owner = create(dir, "full", 8, 4096);
    for i in 0..8u8 {
        let name = format!("{}-{i}", "é".repeat(i as usize * 8));
        owner.allocate(&spec(&name, 3 + i as u32 * 9, &[i; 3])).unwrap();
    }

    // A file the owner grew past its initial heap.
    let mut owner = create(dir, "grown", 2, 4096);
    owner.allocate(&spec("big", 5000, &[7; 5000])).unwrap();
    owner.allocate(&spec("small", 8, b"s")).unwrap();

    // An owner that died mid-change: the layout generation is odd.
    let mut owner = create(dir, "mid_change", 2, 4096);
    owner.allocate(&spec("v", 8, b"v")).unwrap();
    drop(owner);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("mid_change"))
        .unwrap();
    let mut generation = [0u8; 8];
    file.read_exact_at(&mut generation, header::LAYOUT_GENERATION as u64)
        .unwrap();
    let odd = u64::from_le_bytes(generation) | 1;
    file.write_all_at(&odd.to_le_bytes(), header::LAYOUT_GENERATION as u64)
        .unwrap();
}
