//! What skipping one's own writes costs, each beside its baseline in the same group (8 B values):
//!
//! - `read_into` beside `read_into + last_writer_group`: what a watcher that skips its own writes (the SDK's watcher
//!   thread, the server's fan-out) adds per change it reads: the last-writer record's three loads.
//! - `write` beside `writes_as(group).write`: a write recorded as a group's stores the same record, with another tag.
//!
//! `cargo bench -p commy-shm --bench writer_group`.

use commy_shm::{Access, CreateOptions, Service, ServiceOwner, VariableSpec, WriterGroup};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn own_writes(c: &mut Criterion) {
    // tmpfs, so that page-cache writeback never write-protects the pages mid-measurement.
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temporary directory");
    let path = dir.path().join("bench.svc");
    let mut owner = ServiceOwner::create(&path, &CreateOptions::default()).expect("create");
    let spec = VariableSpec {
        name: "v",
        capacity: 8,
        type_tag: 0,
        persistent: false,
        initial: &[7; 8],
    };
    owner.allocate(&spec).expect("allocate");
    let client = Service::open(&path, Access::ReadWrite).expect("open");
    let var = client.lookup("v").expect("lookup");
    let group = WriterGroup::new();
    client.writes_as(group).write(var, &[1; 8]).expect("a write");
    let mut buf = [0u8; 8];

    let mut g = c.benchmark_group("own_writes_8B");
    g.bench_function("read_into", |b| {
        b.iter(|| black_box(client.read_into(var, black_box(&mut buf)).unwrap()))
    });
    g.bench_function("read_into + last_writer_group", |b| {
        b.iter(|| {
            let read = client.read_into(var, black_box(&mut buf)).unwrap();
            black_box(client.last_writer_group(var.index(), read.version) == Some(group))
        })
    });
    g.bench_function("write", |b| b.iter(|| client.write(var, black_box(&[2; 8])).unwrap()));
    g.bench_function("writes_as(group).write", |b| {
        b.iter(|| client.writes_as(group).write(var, black_box(&[3; 8])).unwrap())
    });
    g.finish();
}

criterion_group!(benches, own_writes);
criterion_main!(benches);
