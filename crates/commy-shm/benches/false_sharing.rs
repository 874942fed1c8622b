//! False sharing between neighbours' versions (issue 12): a `Resolved` 8-byte `read_into` of variable A while
//! another thread, on the other vCPU, writes variable B in a tight loop. Three cases in one group, one run:
//!
//! - `writer idle`: the baseline, nobody writes.
//! - `B on A's version line`: a file of `max_variables = 8`, so both versions share the one 64-byte line, as the old
//!   packed placement put up to eight neighbours.
//! - `B on another line`: a default file, where placement (`src/placement.rs`) gives each variable a line of its own.
//! - `B in another file`: the same writer on a file the reader never touches, so that what the writer's mere running
//!   costs the reader (both vCPUs may share a physical core or its caches) is told apart from what sharing costs.
//!
//! Beside them, the same three cases on bare atomics (`AtomicU64 load` of word 0 of a 64-byte-aligned block while the
//! writer stores to word 1, or to word 8 on the next line, or nothing): how much false sharing costs on this machine
//! at all, with nothing of commy's in the way.
//!
//! The reader is pinned to vCPU 0 and the writer to vCPU 1 (when there are two). The writer uses its own attachment,
//! as another process would. `cargo bench -p commy-shm --bench false_sharing`.

#[path = "support/files.rs"]
mod files;

use commy_shm::{Access, CreateOptions, Resolved, Service};
use criterion::{criterion_group, criterion_main, Criterion};
use rustix::thread::CpuSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use files::BenchFile;

const READER_CPU: usize = 0;
const WRITER_CPU: usize = 1;

/// Pins the calling thread to `cpu`, if the machine has it.
fn pin(cpu: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut set = CpuSet::new();
    set.set(cpu % cpus);
    rustix::thread::sched_setaffinity(None, &set).expect("sched_setaffinity");
}

/// A service file holding `a` and `b` (8 bytes each), its reader's resolution of `a` and a writer's of `b`.
struct Pair {
    file: BenchFile,
    a: Resolved,
    b: Resolved,
}

impl Pair {
    fn new(max_variables: u32) -> Pair {
        let file = BenchFile::new(max_variables, ["a", "b"]);
        let reader = Service::open(&file.path, Access::ReadWrite).expect("open");
        let writer = Service::open(&file.path, Access::ReadWrite).expect("open");
        Pair {
            a: reader.resolve_name("a").expect("resolve a"),
            b: writer.resolve_name("b").expect("resolve b"),
            file,
        }
    }

    fn same_line(&self) -> bool {
        let [a, b] = [0, 1].map(|i| self.file.handles[i].index() / 8);
        a == b
    }
}

/// A thread on the writer's vCPU writing `b` until dropped; it counts its writes.
struct Writer {
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(b: Resolved) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let (stop2, writes2) = (stop.clone(), writes.clone());
        let thread = std::thread::spawn(move || {
            pin(WRITER_CPU);
            let mut n = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                n += 1;
                b.write(&n.to_le_bytes()).expect("write b");
            }
            writes2.store(n, Ordering::Relaxed);
        });
        Writer {
            stop,
            writes,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("writer thread");
        }
        self.writes.load(Ordering::Relaxed)
    }
}

/// Two 64-byte lines of words, 64-byte aligned.
#[repr(C, align(64))]
struct Lines([AtomicU64; 16]);

/// A thread on the writer's vCPU storing to `lines[word]` until stopped; returns how many stores it made.
fn store_loop(lines: Arc<Lines>, word: usize, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        pin(WRITER_CPU);
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            lines.0[word].store(n, Ordering::Release);
        }
        n
    })
}

fn bare_atomics(c: &mut Criterion) {
    let lines = Arc::new(Lines(std::array::from_fn(|_| AtomicU64::new(0))));
    let read = |lines: &Lines| {
        let v1 = lines.0[0].load(Ordering::Acquire);
        let v2 = lines.0[0].load(Ordering::Acquire);
        v1 == v2
    };
    let mut g = c.benchmark_group("false_sharing/AtomicU64 load twice");
    g.bench_function("writer idle", |b| b.iter(|| read(black_box(&lines))));
    for (label, word) in [("store to word 1, same line", 1), ("store to word 8, next line", 8)] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = store_loop(lines.clone(), word, stop.clone());
        g.bench_function(label, |b| b.iter(|| read(black_box(&lines))));
        stop.store(true, Ordering::Relaxed);
        let stores = writer.join().expect("store thread");
        println!("{label}: the writer made {stores} stores meanwhile");
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    pin(READER_CPU);
    let packed = Pair::new(8);
    let spread = Pair::new(CreateOptions::default().max_variables);
    let elsewhere = Pair::new(CreateOptions::default().max_variables);
    assert!(packed.same_line(), "a file of 8 entries has one version line");
    assert!(!spread.same_line(), "placement gives b a version line of its own");
    let mut buf = [0u8; 8];
    let mut g = c.benchmark_group("false_sharing/8 B Resolved::read_into");
    g.bench_function("writer idle", |b| {
        b.iter(|| black_box(&spread.a).read_into(black_box(&mut buf)).unwrap())
    });
    let cases = [
        ("B on A's version line", &packed, &packed),
        ("B on another line", &spread, &spread),
        ("B in another file", &spread, &elsewhere),
    ];
    for (label, read, written) in cases {
        let writer = Writer::start(written.b.clone());
        g.bench_function(label, |b| {
            b.iter(|| black_box(&read.a).read_into(black_box(&mut buf)).unwrap())
        });
        let writes = writer.stop();
        println!("{label}: the writer made {writes} writes meanwhile");
    }
    g.finish();
}

criterion_group!(benches, bench, bare_atomics);
criterion_main!(benches);
