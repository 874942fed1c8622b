//! Variable read and write, 8 B, 64 B and 4 KiB, each beside baselines measured in the same group:
//!
//! - `AtomicU64 load` / `store` (8 B): the floor for a value that other processes may write concurrently.
//! - `relaxed u64 copy` (64 B, 4 KiB): word-by-word relaxed atomic loads or stores, the floor for a *sound* copy out
//!   of or into shared memory (a plain `memcpy` of racing memory is undefined behaviour in Rust).
//! - `memcpy`: `copy_from_slice` between two private arrays of the same size.
//! - `protocol atomics` (8 B write): the lock CAS, version publish, unlock, change-counter add and waiter-count load
//!   that every commy write performs, on private words: the floor of the write protocol itself.
//!
//! - `commy compare-and-set` (every write): `write_if_version` beside `commy write`, succeeding, and refused with a
//!   conflict.
//!
//! Commy goes through a second attachment (`Service::open`), as a client process would, with no watchers, so a
//! write makes no system call. `cargo bench -p commy-shm --bench read_write`.

use commy_shm::{Access, CreateOptions, Service, ServiceOwner, VarHandle, VariableSpec};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

struct Fixture {
    _dir: tempfile::TempDir,
    _owner: ServiceOwner,
    client: Service,
}

impl Fixture {
    fn new() -> Fixture {
        // tmpfs, so that page-cache writeback never write-protects the pages mid-measurement.
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
        Fixture {
            _dir: dir,
            _owner: owner,
            client,
        }
    }

    fn var(&self, size: usize) -> VarHandle {
        self.client.lookup(&format!("v{size}")).expect("lookup")
    }
}

fn read<const N: usize>(g: &mut BenchmarkGroup<'_, WallTime>, f: &Fixture) {
    let var = f.var(N);
    let mut buf = [0u8; N];
    g.bench_function("commy read_into", |b| {
        b.iter(|| f.client.read_into(black_box(var), black_box(&mut buf)).unwrap())
    });
    let words: Vec<AtomicU64> = (0..N / 8).map(|i| AtomicU64::new(i as u64)).collect();
    if N == 8 {
        g.bench_function("AtomicU64 load", |b| {
            b.iter(|| black_box(&words[0]).load(Ordering::Acquire))
        });
    } else {
        g.bench_function("relaxed u64 copy", |b| {
            b.iter(|| {
                let out = black_box(&mut buf);
                for (dst, w) in out.chunks_exact_mut(8).zip(black_box(&words[..])) {
                    dst.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
                }
            })
        });
    }
    let src = [7u8; N];
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
    });
}

fn write<const N: usize>(g: &mut BenchmarkGroup<'_, WallTime>, f: &Fixture) {
    let var = f.var(N);
    let data = [9u8; N];
    g.bench_function("commy write", |b| {
        b.iter(|| f.client.write(black_box(var), black_box(&data)).unwrap())
    });
    // Compare-and-set beside the plain write: every attempt succeeds (it expects the version the last one made),
    // then every attempt is refused (a version the variable is past), which takes the lock and writes nothing.
    let mut expected = f.client.version(var).expect("version");
    g.bench_function("commy compare-and-set", |b| {
        b.iter(|| {
            expected = f
                .client
                .write_if_version(var, black_box(expected), black_box(&data))
                .unwrap()
        })
    });
    g.bench_function("commy compare-and-set, conflict", |b| {
        b.iter(|| {
            f.client
                .write_if_version(var, black_box(0), black_box(&data))
                .unwrap_err()
        })
    });
    let words: Vec<AtomicU64> = (0..N / 8).map(|_| AtomicU64::new(0)).collect();
    if N == 8 {
        g.bench_function("AtomicU64 store", |b| {
            b.iter(|| black_box(&words[0]).store(black_box(9), Ordering::Release))
        });
        let floor = ProtocolWords::default();
        g.bench_function("protocol atomics", |b| b.iter(|| black_box(&floor).publish()));
        let built = WriteAtomics::default();
        g.bench_function("write atomics as built", |b| b.iter(|| black_box(&built).as_built()));
        g.bench_function("write atomics, one locked op (membarrier design)", |b| {
            b.iter(|| black_box(&built).one_locked_op())
        });
    } else {
        g.bench_function("relaxed u64 copy", |b| {
            b.iter(|| {
                for (src, w) in black_box(&data).chunks_exact(8).zip(black_box(&words[..])) {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(src);
                    w.store(u64::from_le_bytes(word), Ordering::Relaxed);
                }
            })
        });
    }
    let mut dst = [0u8; N];
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut dst).copy_from_slice(black_box(&data)))
    });
}

/// The atomics a commy write cannot skip, on private words: take the lock (CAS), store the value word, publish the
/// version, release the lock, count the change (a locked add) and look at the waiter count. Shows how much of
/// `commy write` the protocol itself costs.
#[derive(Default)]
struct ProtocolWords {
    lock: AtomicU32,
    value: AtomicU64,
    version: AtomicU64,
    counter: AtomicU32,
    waiters: AtomicU32,
}

impl ProtocolWords {
    fn publish(&self) -> bool {
        while self
            .lock
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {}
        self.value.store(9, Ordering::Relaxed);
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v + 1, Ordering::Release);
        self.lock.store(0, Ordering::Release);
        self.counter.fetch_add(1, Ordering::SeqCst);
        self.waiters.load(Ordering::SeqCst) > 0
    }
}

/// The shared-word operations of a write, on private words, in two designs (issue 12.2):
///
/// - as built: the lock's compare-and-swap, the copy, the version's release store, the change counter's SeqCst add,
///   the waiter count's and the change word's loads, and the lock's compare-and-swap release (which must not free a
///   lock somebody took over): three locked operations;
/// - one locked operation (not built): the lock's compare-and-swap, then plain stores only (the counter moved with a
///   plain store under the variable's lock, which may merge two writers' moves but still changes the futex word),
///   and a release by plain store. It needs the watcher to pay the ordering instead: `membarrier(2)` before it sleeps,
///   so that every writer's plain stores are visible to its check.
#[derive(Default)]
struct WriteAtomics {
    lock: AtomicU64,
    value: AtomicU64,
    version: AtomicU64,
    counter: AtomicU32,
    waiters: AtomicU32,
    change_word: AtomicU32,
}

impl WriteAtomics {
    fn acquire(&self) {
        while self
            .lock
            .compare_exchange_weak(0, 7, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {}
    }

    fn as_built(&self) -> bool {
        self.acquire();
        std::sync::atomic::fence(Ordering::Release);
        self.value.store(9, Ordering::Relaxed);
        let v = self.version.load(Ordering::Relaxed);
        let held = self.lock.load(Ordering::Relaxed) == 7;
        self.version.store(v + 1, Ordering::Release);
        let _ = self.lock.compare_exchange(7, 0, Ordering::Release, Ordering::Relaxed);
        self.counter.fetch_add(1, Ordering::SeqCst);
        let wake = self.waiters.load(Ordering::SeqCst) > 0;
        held && (wake || self.change_word.load(Ordering::SeqCst) & (1 << 31) != 0)
    }

    fn one_locked_op(&self) -> bool {
        self.acquire();
        self.value.store(9, Ordering::Relaxed);
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v + 1, Ordering::Release);
        let c = self.counter.load(Ordering::Relaxed);
        self.counter.store(c.wrapping_add(1), Ordering::Release);
        let wake = self.change_word.load(Ordering::Relaxed) & (1 << 31) != 0;
        self.lock.store(0, Ordering::Release);
        wake
    }
}

fn bench(c: &mut Criterion) {
    let f = Fixture::new();
    macro_rules! sized {
        ($n:literal) => {{
            let mut g = c.benchmark_group(concat!("read/", stringify!($n), "B"));
            g.throughput(Throughput::Bytes($n));
            read::<$n>(&mut g, &f);
            g.finish();
            let mut g = c.benchmark_group(concat!("write/", stringify!($n), "B"));
            g.throughput(Throughput::Bytes($n));
            write::<$n>(&mut g, &f);
            g.finish();
        }};
    }
    sized!(8);
    sized!(64);
    sized!(4096);
}

criterion_group!(benches, bench);
criterion_main!(benches);
