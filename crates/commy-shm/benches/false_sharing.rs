//! False sharing between neighbours' versions (issue 12): a `Resolved` 8-byte `read_into` of variable A while
//! another thread, on the other vCPU, writes variable B. All cases in one group, one run:
//!
//! - `writer idle`: the baseline, nobody writes.
//! - `B on A's version line`: a file of `max_variables = 8`, so both versions share the one 64-byte line, as the old
//!   packed placement put up to eight neighbours.
//! - `B on another line`: a default file, where placement (`src/placement.rs`) gives each variable a line of its own.
//! - `B in another file`: the same writer on a file the reader never touches, so that what the writer's mere running
//!   costs the reader (both vCPUs may share a physical core or its caches) is told apart from what sharing costs.
//!
//! The writer writes in a tight loop, and again once per microsecond (spinning in between), which takes the line away
//! from the reader once per write without keeping the other vCPU's core busy storing.
//!
//! Beside them, the same on bare atomics (two `AtomicU64` loads of word 0 of a 64-byte-aligned block while the writer
//! stores to word 1, on the same line, or to word 8, on the next): what false sharing costs on this machine at all,
//! with nothing of commy's in the way.
//!
//! The reader is pinned to vCPU 0 and the writer to vCPU 1 (when there are two). The writer uses its own attachment,
//! as another process would. `cargo bench -p commy-shm --bench false_sharing`.

#[path = "support/files.rs"]
mod files;

use commy_shm::{Access, CreateOptions, Resolved, Service};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use rustix::thread::CpuSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// How often the writer writes: as fast as it can, or once per `PACE` (spinning in between), which leaves the
/// reader's copy of the line alone between writes, as a real writer mostly does.
const PACES: [(&str, Option<Duration>); 2] = [("tight loop", None), ("every 1 µs", Some(Duration::from_micros(1)))];

/// A thread on the writer's vCPU calling `write(n)` for n = 1, 2, ... at `pace` until stopped.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Writer {
    fn start(pace: Option<Duration>, mut write: impl FnMut(u64) + Send + 'static) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            pin(WRITER_CPU);
            let mut n = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                n += 1;
                write(n);
                if let Some(pace) = pace {
                    let wrote = Instant::now();
                    while wrote.elapsed() < pace {
                        std::hint::spin_loop();
                    }
                }
            }
            n
        });
        Writer { stop, thread }
    }

    /// Stops the writer; returns how many writes it made.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("writer thread")
    }
}

/// Runs `read` as the benchmark `label` while a writer calls `write` at `pace`.
fn beside_writer(
    g: &mut BenchmarkGroup<'_, WallTime>,
    label: &str,
    pace: (&str, Option<Duration>),
    write: impl FnMut(u64) + Send + 'static,
    mut read: impl FnMut(),
) {
    let label = format!("{label}, {}", pace.0);
    let writer = Writer::start(pace.1, write);
    g.bench_function(&label, |b| b.iter(&mut read));
    let writes = writer.stop();
    println!("{label}: the writer made {writes} writes meanwhile");
}

fn resolved_reads(c: &mut Criterion) {
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
    for pace in PACES {
        let cases = [
            ("B on A's version line", &packed, &packed),
            ("B on another line", &spread, &spread),
            ("B in another file", &spread, &elsewhere),
        ];
        for (label, read, written) in cases {
            let b = written.b.clone();
            let write = move |n: u64| {
                b.write(&n.to_le_bytes()).expect("write b");
            };
            beside_writer(&mut g, label, pace, write, || {
                black_box(&read.a).read_into(black_box(&mut buf)).unwrap();
            });
        }
    }
    g.finish();
}

/// Two 64-byte lines of words, 64-byte aligned.
#[repr(C, align(64))]
struct Lines([AtomicU64; 16]);

fn bare_atomics(c: &mut Criterion) {
    pin(READER_CPU);
    let lines = Arc::new(Lines(std::array::from_fn(|_| AtomicU64::new(0))));
    let read = |lines: &Lines| {
        let v1 = lines.0[0].load(Ordering::Acquire);
        let v2 = lines.0[0].load(Ordering::Acquire);
        v1 == v2
    };
    let mut g = c.benchmark_group("false_sharing/AtomicU64 load twice");
    g.bench_function("writer idle", |b| b.iter(|| read(black_box(&lines))));
    for pace in PACES {
        for (label, word) in [("store to word 1, same line", 1), ("store to word 8, next line", 8)] {
            let written = lines.clone();
            let write = move |n: u64| written.0[word].store(n, Ordering::Release);
            beside_writer(&mut g, label, pace, write, || {
                black_box(read(black_box(&lines)));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, resolved_reads, bare_atomics);
criterion_main!(benches);
