//! Commy's variable read and write (by handle, and through a `Resolved` variable) beside iceoryx2's blackboard `get`
//! and `update_with_copy`, on 8 B, 64 B and 4 KiB values, in the same criterion groups of the same run, with a `memcpy` of the same size as the floor.
//!
//! Both stores live in shared memory and are reached through their public API: commy through a second attachment
//! (`Service::open`, as a client process would), iceoryx2 through a writer port and a reader port of one
//! blackboard. Neither has a watcher or listener attached, so neither write makes a system call.
//!
//! `cargo bench --bench get_update -- --warm-up-time 1 --measurement-time 3` from `benches/iceoryx2-compare/`.

use commy_shm::{Access, CreateOptions, Service, ServiceOwner, VariableSpec};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use iceoryx2::port::reader::Reader;
use iceoryx2::port::writer::Writer;
use iceoryx2::prelude::*;
use std::hint::black_box;

type Key = u32;

struct Commy {
    _dir: tempfile::TempDir,
    _owner: ServiceOwner,
    client: Service,
}

fn commy() -> Commy {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temporary directory");
    let path = dir.path().join("bench.svc");
    let mut owner = ServiceOwner::create(&path, &CreateOptions::default()).expect("create");
    for size in [8u32, 64, 4096] {
        let name = format!("v{size}");
        let initial = vec![7u8; size as usize];
        let spec = VariableSpec {
            name: &name,
            capacity: size,
            type_tag: 0,
            persistent: false,
            initial: &initial,
        };
        owner.allocate(&spec).expect("allocate");
    }
    let client = Service::open(&path, Access::ReadWrite).expect("open");
    Commy {
        _dir: dir,
        _owner: owner,
        client,
    }
}

struct Blackboard {
    // Field order is drop order: ports before the service before the node.
    reader: Reader<ipc::Service, Key>,
    writer: Writer<ipc::Service, Key>,
    _service: iceoryx2::service::port_factory::blackboard::PortFactory<ipc::Service, Key>,
    _node: Node<ipc::Service>,
}

fn blackboard() -> Blackboard {
    set_log_level(LogLevel::Warn);
    let node = NodeBuilder::new().create::<ipc::Service>().expect("iceoryx2 node");
    let name = format!("commy-bench/blackboard-{}", std::process::id());
    let service = node
        .service_builder(&name.as_str().try_into().expect("service name"))
        .blackboard_creator::<Key>()
        .add::<u64>(8, 0)
        .add::<[u8; 64]>(64, [0; 64])
        .add::<[u8; 4096]>(4096, [0; 4096])
        .create()
        .expect("create the blackboard");
    let writer = service.writer_builder().create().expect("writer");
    let reader = service.reader_builder().create().expect("reader");
    Blackboard {
        reader,
        writer,
        _service: service,
        _node: node,
    }
}

/// One size's `get` and `update` groups. `V` is the blackboard's value type for that size.
fn sized<const N: usize, V>(c: &mut Criterion, commy: &Commy, bb: &Blackboard, value: V)
where
    V: Copy + ZeroCopySend + std::fmt::Debug + 'static,
{
    let var = commy.client.lookup(&format!("v{N}")).expect("lookup");
    let resolved = commy.client.resolve(var).expect("resolve");
    let key = N as Key;
    let reader = bb.reader.entry::<V>(&key).expect("reader entry");
    let writer = bb.writer.entry::<V>(&key).expect("writer entry");
    let bytes = [9u8; N];
    let mut buf = [0u8; N];

    let mut g = c.benchmark_group(format!("get/{N}B"));
    g.throughput(Throughput::Bytes(N as u64));
    g.bench_function("iceoryx2 blackboard get", |b| b.iter(|| *black_box(&reader).get()));
    g.bench_function("commy read_into", |b| {
        b.iter(|| commy.client.read_into(black_box(var), black_box(&mut buf)).unwrap())
    });
    g.bench_function("commy resolved read_into", |b| {
        b.iter(|| black_box(&resolved).read_into(black_box(&mut buf)).unwrap())
    });
    memcpy(&mut g, &bytes);
    g.finish();

    let mut g = c.benchmark_group(format!("update/{N}B"));
    g.throughput(Throughput::Bytes(N as u64));
    g.bench_function("iceoryx2 blackboard update_with_copy", |b| {
        b.iter(|| black_box(&writer).update_with_copy(black_box(value)))
    });
    g.bench_function("commy write", |b| {
        b.iter(|| commy.client.write(black_box(var), black_box(&bytes)).unwrap())
    });
    g.bench_function("commy resolved write", |b| {
        b.iter(|| black_box(&resolved).write(black_box(&bytes)).unwrap())
    });
    memcpy(&mut g, &bytes);
    g.finish();
}

fn memcpy<const N: usize>(g: &mut BenchmarkGroup<'_, WallTime>, src: &[u8; N]) {
    let mut dst = [0u8; N];
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut dst).copy_from_slice(black_box(src)))
    });
}

fn bench(c: &mut Criterion) {
    let commy = commy();
    let bb = blackboard();
    sized::<8, u64>(c, &commy, &bb, 0x0909_0909_0909_0909);
    sized::<64, [u8; 64]>(c, &commy, &bb, [9; 64]);
    sized::<4096, [u8; 4096]>(c, &commy, &bb, [9; 4096]);
}

criterion_group!(benches, bench);
criterion_main!(benches);
