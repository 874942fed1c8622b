//! The SDK's local read and write of an 8-byte variable, beside `commy_shm` calls on the very mapping the SDK uses,
//! and the steps in between, so that a profile shows where the SDK's time goes. In-process parts only: a server runs
//! in this process for the setup; the cross-process and remote figures come from `commy bench` (docs/performance.md).
//!
//! `cargo bench -p commy-bench --bench sdk_local`. The SDK's mapping is reached through `Service::mapped_file`
//! (commy-client's `mapped-file` feature, which this crate turns on). The SDK calls complete without waiting, so
//! they are polled once (`now_or_never`) instead of through a runtime's `block_on`, whose own cost would blur the
//! comparison.

use commy_client::{Allocation, Client, Credentials, Service, Transport};
use commy_testkit::BlockingServer;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use std::hint::black_box;

struct Fixture {
    _server: BlockingServer,
    _client: Client,
    service: Service,
}

impl Fixture {
    fn new() -> Fixture {
        let server = BlockingServer::start();
        let url = server.url();
        let key = server.admin_key();
        let (client, service) = server.runtime().block_on(async {
            let admin = Client::connect(&url).await.unwrap();
            admin.authenticate(None, Credentials::api_key(key)).await.unwrap();
            admin.create_tenant("bench", "bench").await.unwrap();
            let client = Client::builder(&url)
                .transport(Transport::Local)
                .connect()
                .await
                .unwrap();
            client
                .authenticate(Some("bench"), Credentials::api_key(key))
                .await
                .unwrap();
            let service = client.create_service("bench").await.unwrap();
            service.allocate("v", Allocation::u64(7)).await.unwrap();
            (client, service)
        });
        Fixture {
            _server: server,
            _client: client,
            service,
        }
    }
}

fn local(c: &mut Criterion) {
    let f = Fixture::new();
    let raw = f.service.mapped_file().expect("mapped");
    let handle = raw.lookup("v").unwrap();
    let svc = &f.service;

    let mut g = c.benchmark_group("local read 8B");
    let mut buf = [0u8; 8];
    g.bench_function("commy-shm read_into (baseline)", |b| {
        b.iter(|| raw.read_into(black_box(handle), black_box(&mut buf)).unwrap())
    });
    g.bench_function("commy-shm read (Vec)", |b| {
        b.iter(|| raw.read(black_box(handle)).unwrap())
    });
    g.bench_function("SDK read_u64", |b| {
        b.iter(|| svc.read_u64(black_box("v")).now_or_never().unwrap().unwrap())
    });
    let handle_u64 = svc.variable::<u64>("v").now_or_never().unwrap().unwrap();
    g.bench_function("SDK handle read_now", |b| {
        b.iter(|| black_box(&handle_u64).read_now().unwrap())
    });
    g.bench_function("SDK handle read (async, polled once)", |b| {
        b.iter(|| black_box(&handle_u64).read().now_or_never().unwrap().unwrap())
    });
    g.bench_function("SDK read (Snapshot)", |b| {
        b.iter(|| svc.read(black_box("v")).now_or_never().unwrap().unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("local write 8B");
    let mut n = 0u64;
    g.bench_function("commy-shm write (baseline)", |b| {
        b.iter(|| {
            n += 1;
            raw.write(black_box(handle), &n.to_le_bytes()).unwrap()
        })
    });
    g.bench_function("SDK write_u64", |b| {
        b.iter(|| {
            n += 1;
            svc.write_u64(black_box("v"), n).now_or_never().unwrap().unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, local);
criterion_main!(benches);
