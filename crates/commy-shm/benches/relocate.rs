//! Moving a service to a fresh file (`ServiceOwner::prepare_relocation`, then `Relocation::finish` plus the rename over
//! the old path: the freeze), for services of 1, 1,000 and 100,000 variables, and what a writer sees meanwhile: its longest write stall (from the start of a write
//! to its acknowledgement, through the `Moved` failure and the reopening of the new file), beside its longest write
//! in the same length of time just before the move. Baselines in the same run: a plain `std::fs::copy` of the same
//! file (for the move), and attaching to the new file (`Service::open`, which checks the whole table: what a client
//! following the move pays before its next write).
//!
//! `cargo bench -p commy-shm --bench relocate`. `COMMY_RELOCATE_RUNS` (default 5) moves per size; the median and the
//! worst are printed. `COMMY_RELOCATE_SIZES=1,1000` narrows the sizes. The writer is a thread of this process with its own attachment, as a local client's would be;
//! a real client's reopening adds one `GetServiceFilePath` round trip to the server.

use commy_shm::{Access, AccessError, CreateOptions, Service, ServiceOwner, VariableSpec};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [u32; 3] = [1, 1_000, 100_000];

/// The writer's longest write (from its start to its acknowledgement) by the phase it started in: before the move,
/// during it, in the 30 ms after it. Nanoseconds.
type Longest = [AtomicU64; 3];

fn main() {
    let runs: usize = std::env::var("COMMY_RELOCATE_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    println!(
        "{:>9} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "variables",
        "file KiB",
        "move p50",
        "move max",
        "freeze p50",
        "fs::copy p50",
        "attach p50",
        "stall max",
        "write max before"
    );
    let sizes: Vec<u32> = match std::env::var("COMMY_RELOCATE_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse().expect("COMMY_RELOCATE_SIZES: numbers"))
            .collect(),
        Err(_) => SIZES.to_vec(),
    };
    for variables in sizes {
        let mut moves = Vec::new();
        let mut freezes = Vec::new();
        let mut opens = Vec::new();
        let mut copies = Vec::new();
        let (mut stall, mut before) = (Duration::ZERO, Duration::ZERO);
        let mut size = 0;
        for _ in 0..runs {
            let run = one_move(variables);
            moves.push(run.moved);
            freezes.push(run.frozen);
            opens.push(run.opened);
            copies.push(run.copied);
            stall = stall.max(run.stall);
            before = before.max(run.before);
            size = run.file_size;
        }
        moves.sort();
        freezes.sort();
        opens.sort();
        copies.sort();
        println!(
            "{variables:>9} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>14} {:>14}",
            size / 1024,
            ms(moves[moves.len() / 2]),
            ms(moves[moves.len() - 1]),
            ms(freezes[freezes.len() / 2]),
            ms(copies[copies.len() / 2]),
            ms(opens[opens.len() / 2]),
            ms(stall),
            ms(before),
        );
    }
}

struct Run {
    moved: Duration,
    frozen: Duration,
    opened: Duration,
    copied: Duration,
    stall: Duration,
    before: Duration,
    file_size: u64,
}

fn one_move(variables: u32) -> Run {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("bench.svc");
    let options = CreateOptions {
        max_variables: variables.max(16),
        ..CreateOptions::default()
    };
    let mut owner = ServiceOwner::create(&path, &options).expect("create");
    for index in 0..variables {
        let name = format!("v{index}");
        let spec = VariableSpec {
            name: &name,
            capacity: 8,
            type_tag: 1,
            persistent: false,
            initial: &[0; 8],
        };
        owner.allocate(&spec).expect("allocate");
    }
    let file_size = std::fs::metadata(&path).expect("stat").len();
    // Baseline: a plain copy of the same file.
    let copy = dir.path().join("copy.svc");
    let started = Instant::now();
    std::fs::copy(&path, &copy).expect("copy");
    let copied = started.elapsed();

    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let longest: Arc<Longest> = Arc::default();
    let writer = {
        let (path, stop, phase, longest) = (path.clone(), stop.clone(), phase.clone(), longest.clone());
        std::thread::spawn(move || write_until(&path, &stop, &phase, &longest))
    };
    std::thread::sleep(Duration::from_millis(200));
    phase.store(1, Ordering::Release);
    let staging = dir.path().join("bench.svc.moving");
    let move_started = Instant::now();
    let prepared = owner.prepare_relocation(&staging).expect("relocate");
    let freeze_started = Instant::now();
    let new = prepared.finish(&mut owner).expect("relocate");
    std::fs::rename(&staging, &path).expect("rename");
    let frozen = freeze_started.elapsed();
    let moved = move_started.elapsed();
    phase.store(2, Ordering::Release);
    drop(owner);
    // Second baseline: attaching to the new file, which a client following the move does (it checks the table).
    let started = Instant::now();
    drop(Service::open(&path, Access::ReadWrite).expect("attach"));
    let opened = started.elapsed();
    std::thread::sleep(Duration::from_millis(30));
    stop.store(true, Ordering::Release);
    writer.join().expect("the writer");
    drop(new);

    let longest = |phase: usize| Duration::from_nanos(longest[phase].load(Ordering::Acquire));
    Run {
        moved,
        frozen,
        opened,
        copied,
        stall: longest(1).max(longest(2)),
        before: longest(0),
        file_size,
    }
}

/// Milliseconds, to three decimals.
fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Writes `v0` in a loop, keeping the longest write of each phase; on `Moved`, opens the file now at `path` and
/// writes there.
fn write_until(path: &Path, stop: &AtomicBool, phase: &AtomicUsize, longest: &Longest) {
    let mut service = Service::open(path, Access::ReadWrite).expect("the writer attaches");
    let handle = service.lookup("v0").expect("v0");
    let mut n = 0u64;
    while !stop.load(Ordering::Acquire) {
        n += 1;
        let at = phase.load(Ordering::Acquire);
        let started = Instant::now();
        loop {
            match service.write(handle, &n.to_le_bytes()) {
                Ok(_) => break,
                Err(AccessError::Moved) => {
                    // The handle stays valid: a moved file keeps every entry and incarnation (the SDK keeps its
                    // handles the same way).
                    service = Service::open(path, Access::ReadWrite).expect("the writer attaches to the new file");
                }
                // The move held the lock past the writer's wait bound: the write was refused (not acknowledged); the
                // writer tries again, and the stall counts it.
                Err(AccessError::LockTimeout { .. }) => {}
                Err(err) => panic!("write: {err}"),
            }
        }
        longest[at].fetch_max(started.elapsed().as_nanos() as u64, Ordering::AcqRel);
    }
}
