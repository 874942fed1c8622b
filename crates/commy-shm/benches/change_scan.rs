//! The watcher's change scan over 1 Ki, 64 Ki and 1 Mi versions, beside `memcmp` of the very same bytes (slice
//! equality on `u64`, which the standard library lowers to `memcmp`). Every scan path the CPU has is shown, so the
//! vectorisation is visible; `find_changes` is the path chosen at run time.
//!
//! - `unchanged`: nothing differs, so the scan and `memcmp` both read every byte.
//! - `8 changed`: eight versions spread over the table differ. `memcmp` would stop at the first difference, so this
//!   group has no baseline of its own; compare it with the `unchanged` group's.
//!
//! `cargo bench -p commy-shm --bench change_scan`.

use commy_shm::scan::{find_changes, find_changes_with, ScanPath};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memmap2::MmapMut;
use std::hint::black_box;
use std::sync::atomic::AtomicU64;

const SIZES: [(&str, usize); 3] = [("1k", 1 << 10), ("64k", 1 << 16), ("1M", 1 << 20)];
const CHANGED: usize = 8;

/// `n` versions in page-aligned shared-style memory, as the service file's versions region is (it starts at 4 KiB).
struct Table {
    map: MmapMut,
}

impl Table {
    fn new(n: usize) -> Table {
        let mut map = MmapMut::map_anon(8 * n).expect("anonymous mapping");
        for (i, chunk) in map.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&value(i).to_ne_bytes());
        }
        Table { map }
    }

    fn atomics(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is page-aligned and 8 * n bytes long, so it holds n aligned AtomicU64s (same size and
        // alignment as u64) for as long as `self` lives; after `new` nothing writes it except through these atomics.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast(), self.map.len() / 8) }
    }

    fn plain(&self) -> &[u64] {
        // SAFETY: as for `atomics`; nothing stores to the table while the benchmarks read it, so reading the same
        // words as plain u64 races with nothing.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast(), self.map.len() / 8) }
    }
}

fn value(i: usize) -> u64 {
    3 * i as u64 + 1
}

fn bench(c: &mut Criterion) {
    for (label, n) in SIZES {
        let table = Table::new(n);
        let (current, plain) = (table.atomics(), table.plain());
        // The watcher's shadow is a plain Vec<u64>, as in `Watcher`.
        let shadow: Vec<u64> = (0..n).map(value).collect();
        let mut stale = shadow.clone();
        for k in 0..CHANGED {
            stale[k * n / CHANGED + n / (2 * CHANGED)] -= 1;
        }
        let mut out = Vec::with_capacity(n);

        let mut g = c.benchmark_group(format!("scan/{label}/unchanged"));
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function("memcmp", |b| b.iter(|| black_box(plain) == black_box(&shadow[..])));
        g.bench_function("find_changes", |b| {
            b.iter(|| {
                out.clear();
                find_changes(black_box(current), black_box(&shadow), &mut out);
                assert!(out.is_empty());
            })
        });
        for path in ScanPath::available() {
            g.bench_function(format!("{path:?}"), |b| {
                b.iter(|| {
                    out.clear();
                    find_changes_with(path, black_box(current), black_box(&shadow), &mut out);
                    assert!(out.is_empty());
                })
            });
        }
        // The same scan with the shadow 64-byte aligned too (here: page-aligned), to show what alignment buys.
        let aligned = Table::new(n);
        for path in ScanPath::available().into_iter().skip(1) {
            g.bench_function(format!("{path:?}, aligned shadow"), |b| {
                b.iter(|| {
                    out.clear();
                    find_changes_with(path, black_box(current), black_box(aligned.plain()), &mut out);
                    assert!(out.is_empty());
                })
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("scan/{label}/{CHANGED} changed"));
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function("find_changes", |b| {
            b.iter(|| {
                out.clear();
                find_changes(black_box(current), black_box(&stale), &mut out);
                assert_eq!(out.len(), CHANGED);
            })
        });
        for path in ScanPath::available() {
            g.bench_function(format!("{path:?}"), |b| {
                b.iter(|| {
                    out.clear();
                    find_changes_with(path, black_box(current), black_box(&stale), &mut out);
                    assert_eq!(out.len(), CHANGED);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
