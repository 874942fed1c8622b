//! What placement (`src/placement.rs`) costs the loops over the table. It spreads `n` variables over about `8n`
//! entries, so `high_water`, the bound of every such loop, grows about eightfold. Measured on real files, each with the
//! same `n` variables of 8 bytes:
//!
//! - `packed`: a file of `max_variables = n`, so the table holds them in entries `0..n` and `high_water` is `n`, as
//!   the old placement left it (the baseline);
//! - `placed`: a default file (4,096 entries), where placement spreads them.
//!
//! For each: `Watcher::poll` with nothing changed (the change scan over `versions[0..high_water]`, what every wake-up
//! of a watcher pays) and `Service::lookup` of the last variable (a table walk; the SDK caches what it looked up).
//! Each file's disk use (`st_blocks`; a fresh sparse file on tmpfs, so also its memory) is printed beside.
//! `cargo bench -p commy-shm --bench placement_cost`.

#[path = "support/files.rs"]
mod files;

use commy_shm::{Access, CreateOptions, Service, Watcher};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::os::unix::fs::MetadataExt;

use files::BenchFile;

/// A service file with `n` variables `v0..v{n}`, and a client attachment to it.
struct Table {
    _file: BenchFile,
    client: Service,
    high_water: u32,
    disk_bytes: u64,
}

impl Table {
    fn new(max_variables: u32, n: u32) -> Table {
        let file = BenchFile::new(max_variables, (0..n).map(|i| format!("v{i}")));
        let high_water = file.handles.iter().map(|h| h.index() + 1).max().unwrap_or(0);
        let client = Service::open(&file.path, Access::ReadWrite).expect("open");
        let disk_bytes = std::fs::metadata(&file.path).expect("stat").blocks() * 512;
        Table {
            _file: file,
            client,
            high_water,
            disk_bytes,
        }
    }
}

fn bench(c: &mut Criterion) {
    for n in [64u32, 512] {
        let tables = [
            ("packed", Table::new(n, n)),
            ("placed", Table::new(CreateOptions::default().max_variables, n)),
        ];
        let last = format!("v{}", n - 1);
        let mut g = c.benchmark_group(format!("placement cost/{n} variables"));
        for (label, table) in &tables {
            println!(
                "{n} variables, {label}: high_water {}, {} KiB of disk",
                table.high_water,
                table.disk_bytes / 1024
            );
            let mut watcher = Watcher::new(&table.client);
            g.bench_function(format!("Watcher::poll, nothing changed, {label}"), |b| {
                b.iter(|| assert!(black_box(&mut watcher).poll().is_empty()))
            });
            g.bench_function(format!("Service::lookup, {label}"), |b| {
                b.iter(|| table.client.lookup(black_box(&last)).expect("lookup"))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
