//! A cross-process ping-pong harness for wake-latency benchmarks, shared by `benches/wake_latency.rs` and by the
//! iceoryx2 comparison in `benches/iceoryx2-compare/` (which includes this file with `#[path]`).
//!
//! The parent publishes round `i` and blocks until a child process echoes `i` back; the child blocks until it sees
//! `i`, then echoes it. One-way wake latency is half a round trip. The child is this same bench binary, re-executed
//! with [`ROLE_ENV`] set, and both sides are pinned with `sched_setaffinity` so that "same vCPU" and "across vCPUs"
//! are measured separately. Every wait has a deadline, so a lost wake or a dead peer ends the run instead of hanging.

use commy_shm::raw_futex::FutexWords;
use commy_shm::{Access, CreateOptions, Service, ServiceOwner, VarHandle, VariableSpec, Watcher};
use rustix::thread::CpuSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Set in the child's environment: which mechanism it plays.
pub const ROLE_ENV: &str = "COMMY_BENCH_ROLE";
/// Set in the child's environment: the path of the shared state the parent prepared.
pub const ARG_ENV: &str = "COMMY_BENCH_ARG";
/// Set in the child's environment: the vCPU it pins itself to.
pub const CPU_ENV: &str = "COMMY_BENCH_CPU";
/// Set in the child's environment: how many rounds it echoes before it exits.
pub const ROUNDS_ENV: &str = "COMMY_BENCH_ROUNDS";

/// Round trips measured per mechanism and placement (override with `COMMY_WAKE_ROUNDS`).
pub fn rounds() -> usize {
    std::env::var("COMMY_WAKE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

/// Each mechanism runs in this many interleaved passes of `rounds() / PASSES` round trips, so that the drift of a
/// noisy machine (and the other vCPU switching between idle and busy) hits every mechanism alike.
pub const PASSES: usize = 4;

/// Whether to run the mechanism whose child role is `role`: all of them, unless `COMMY_WAKE_ONLY` names one (a
/// profiling aid, e.g. for `perf stat` of one mechanism alone).
pub fn wanted(role: &str) -> bool {
    std::env::var("COMMY_WAKE_ONLY").map_or(true, |only| only == role)
}

/// Round trips run before measuring, so that start-up (the child attaching, first page faults) is not counted.
pub const WARMUP: usize = 1_000;
/// The longest any single round trip may take before the run is abandoned (generous: the first includes exec).
pub const ROUND_DEADLINE: Duration = Duration::from_secs(10);
/// How long one blocking wait sleeps before it re-checks its deadline.
const SLICE: Duration = Duration::from_millis(100);

/// Where the two processes run.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Shown in the tables.
    pub name: &'static str,
    /// The parent's vCPU.
    pub parent: usize,
    /// The child's vCPU.
    pub child: usize,
}

/// Same vCPU, and (when there are two) across vCPUs; `COMMY_WAKE_PLACEMENT=same` or `=cross` keeps one.
pub fn placements() -> Vec<Placement> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = vec![Placement {
        name: "same vCPU",
        parent: 0,
        child: 0,
    }];
    if cpus > 1 {
        out.push(Placement {
            name: "cross vCPU",
            parent: 0,
            child: 1,
        });
    }
    if let Ok(keep) = std::env::var("COMMY_WAKE_PLACEMENT") {
        out.retain(|at| at.name.starts_with(keep.as_str()));
    }
    out
}

/// Pins the calling process to one vCPU.
pub fn pin(cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).expect("sched_setaffinity");
}

/// A directory for the shared files: tmpfs when there is one, so that page-cache writeback never touches the
/// mapped pages mid-run.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("temporary directory")
}

/// The child's role, argument and round count, if this process was started as a child. Pins it first.
pub fn child_role() -> Option<(String, String, usize)> {
    let role = std::env::var(ROLE_ENV).ok()?;
    let arg = std::env::var(ARG_ENV).expect("child without an argument");
    let rounds = std::env::var(ROUNDS_ENV)
        .expect("child without a round count")
        .parse()
        .expect("round count");
    if let Some(cpu) = std::env::var(CPU_ENV).ok().and_then(|s| s.parse().ok()) {
        pin(cpu);
    }
    Some((role, arg, rounds))
}

/// Starts this binary again as the child playing `role`.
pub fn spawn_child(role: &str, arg: &Path, cpu: usize, rounds: usize) -> Child {
    let exe = std::env::current_exe().expect("current executable");
    Command::new(exe)
        .env(ROLE_ENV, role)
        .env(ARG_ENV, arg)
        .env(CPU_ENV, cpu.to_string())
        .env(ROUNDS_ENV, rounds.to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn the child process")
}

/// The parent's side of one mechanism.
pub trait PingPong {
    /// Publishes round `i` and blocks until the child has echoed it. `false` if `deadline` passed first.
    fn round(&mut self, i: u64, deadline: Instant) -> bool;
}

/// Runs `warmup + rounds` round trips against a child started with `role` and `arg`, pinned as `at` says. Returns
/// the measured round trips in nanoseconds.
pub fn run(pp: &mut dyn PingPong, role: &str, arg: &Path, at: Placement, rounds: usize) -> Vec<u64> {
    pin(at.parent);
    let total = WARMUP + rounds;
    let mut child = spawn_child(role, arg, at.child, total);
    let mut rtts = Vec::with_capacity(rounds);
    for i in 1..=total as u64 {
        let start = Instant::now();
        if !pp.round(i, start + ROUND_DEADLINE) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{role}: round {i} got no echo within {ROUND_DEADLINE:?}");
        }
        if i as usize > WARMUP {
            rtts.push(start.elapsed().as_nanos() as u64);
        }
    }
    let status = child.wait().expect("wait for the child");
    assert!(status.success(), "{role} child failed: {status}");
    rtts
}

/// Latency percentiles of one-way wakes, derived from round trips.
#[derive(Debug, Clone, Copy)]
pub struct OneWay {
    /// Median one-way latency, ns.
    pub p50: f64,
    /// 99th percentile one-way latency, ns.
    pub p99: f64,
    /// Round trips measured.
    pub n: usize,
}

/// Half of the round trips' median and 99th percentile.
pub fn one_way(mut rtts: Vec<u64>) -> OneWay {
    rtts.sort_unstable();
    let at = |q: f64| rtts[((rtts.len() - 1) as f64 * q).round() as usize] as f64 / 2.0;
    OneWay {
        p50: at(0.50),
        p99: at(0.99),
        n: rtts.len(),
    }
}

/// Prints one placement's table: every mechanism's p50 and p99 beside the baseline's (the first row).
pub fn print_table(at: Placement, rows: &[(&str, OneWay)]) {
    let Some(&(base_name, base)) = rows.first() else {
        return;
    };
    println!(
        "\n{} (parent on vCPU {}, child on vCPU {}), one-way wake = round trip / 2, {} round trips each",
        at.name, at.parent, at.child, base.n
    );
    println!(
        "| {:<28} | {:>10} | {:>10} | {:>13} | {:>13} |",
        "mechanism", "p50", "p99", "p50 ratio", "p99 ratio"
    );
    println!("|{:-<30}|{:->12}|{:->12}|{:->15}|{:->15}|", "", "", "", "", "");
    for (name, s) in rows {
        println!(
            "| {:<28} | {:>10} | {:>10} | {:>13} | {:>13} |",
            name,
            fmt_ns(s.p50),
            fmt_ns(s.p99),
            format!("{:.2}x", s.p50 / base.p50),
            format!("{:.2}x", s.p99 / base.p99),
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "(ratios are against {base_name}; load average at the end: {})",
        load.trim()
    );
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} us", ns / 1000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Baseline: a raw futex ping-pong on two u32 words of a shared mapping.

/// Two futex words on separate cache lines of a shared file: commy-shm's `FutexWords` (feature `raw-futex`), waited on
/// and woken with the very calls a `Watcher` and a commy write make.
pub struct FutexPair {
    words: FutexWords,
}

/// The child's role name for [`FutexPair`].
pub const FUTEX: &str = "futex";

/// The parent's ping word and the child's pong word.
const PING: usize = 0;
const PONG: usize = 1;

impl FutexPair {
    /// Creates the shared file in `dir`; returns the pair and the path to hand the child.
    pub fn create(dir: &Path) -> (FutexPair, PathBuf) {
        let path = dir.join("futex-pair");
        let words = FutexWords::create(&path).expect("create the futex file");
        (FutexPair { words }, path)
    }

    /// Maps the file the parent created.
    pub fn open(path: &Path) -> FutexPair {
        FutexPair {
            words: FutexWords::open(path).expect("open the futex file"),
        }
    }

    /// Publishes `value` in word `which` and wakes its sleeper.
    fn post(&self, which: usize, value: u32) {
        self.words.word(which).store(value, Ordering::Release);
        self.words.wake(which);
    }

    /// Sleeps on word `which` until it holds `value` or `deadline` passes.
    fn await_value(&self, which: usize, value: u32, deadline: Instant) -> bool {
        loop {
            let seen = self.words.word(which).load(Ordering::Acquire);
            if seen == value {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.words.wait(which, seen, SLICE);
        }
    }
}

impl PingPong for FutexPair {
    fn round(&mut self, i: u64, deadline: Instant) -> bool {
        self.post(PING, i as u32);
        self.await_value(PONG, i as u32, deadline)
    }
}

/// The child's side of [`FutexPair`].
pub fn futex_child(path: &Path, rounds: usize) {
    let pair = FutexPair::open(path);
    for i in 1..=rounds as u32 {
        if !pair.await_value(PING, i, Instant::now() + ROUND_DEADLINE) {
            std::process::exit(3);
        }
        pair.post(PONG, i);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Commy: a write to one variable wakes a Watcher blocked in the other process.

/// A service file with a `ping` variable (the parent writes it) and a `pong` variable (the child writes it).
pub struct CommyPair {
    _owner: Option<ServiceOwner>,
    service: Service,
    watcher: Watcher,
    ping: VarHandle,
    pong: VarHandle,
}

/// The child's role name for [`CommyPair`].
pub const COMMY: &str = "commy";

impl CommyPair {
    /// Creates the service file in `dir`; returns the parent's side and the path to hand the child.
    pub fn create(dir: &Path) -> (CommyPair, PathBuf) {
        let path = dir.join("pingpong.svc");
        let mut owner = ServiceOwner::create(&path, &CreateOptions::default()).expect("create");
        for name in ["ping", "pong"] {
            let spec = VariableSpec {
                name,
                capacity: 8,
                type_tag: 0,
                persistent: false,
                initial: &[0; 8],
            };
            owner.allocate(&spec).expect("allocate");
        }
        let service = owner.service().clone();
        let pair = CommyPair::attach(Some(owner), service);
        (pair, path)
    }

    /// Attaches to the file the parent created, as any client process would.
    pub fn open(path: &Path) -> CommyPair {
        CommyPair::attach(None, Service::open(path, Access::ReadWrite).expect("open"))
    }

    fn attach(owner: Option<ServiceOwner>, service: Service) -> CommyPair {
        let ping = service.lookup("ping").expect("ping");
        let pong = service.lookup("pong").expect("pong");
        CommyPair {
            _owner: owner,
            watcher: Watcher::new(&service),
            service,
            ping,
            pong,
        }
    }

    /// Blocks in the watcher until `var` holds `value` or `deadline` passes. Like the futex side, it looks at the
    /// value before it sleeps (the child may attach after the parent's first write).
    fn await_value(&mut self, var: VarHandle, value: u64, deadline: Instant) -> bool {
        let mut buf = [0u8; 8];
        let mut changed = true;
        loop {
            if changed {
                self.service.read_into(var, &mut buf).expect("read");
                if u64::from_le_bytes(buf) == value {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            let changes = self.watcher.wait(SLICE);
            changed = changes.iter().any(|c| c.index == var.index());
        }
    }
}

impl PingPong for CommyPair {
    fn round(&mut self, i: u64, deadline: Instant) -> bool {
        self.service.write(self.ping, &i.to_le_bytes()).expect("write");
        self.await_value(self.pong, i, deadline)
    }
}

/// The child's side of [`CommyPair`].
pub fn commy_child(path: &Path, rounds: usize) {
    let mut pair = CommyPair::open(path);
    for i in 1..=rounds as u64 {
        if !pair.await_value(pair.ping, i, Instant::now() + ROUND_DEADLINE) {
            std::process::exit(3);
        }
        pair.service.write(pair.pong, &i.to_le_bytes()).expect("write");
    }
}
