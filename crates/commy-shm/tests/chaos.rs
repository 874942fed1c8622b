//! Chaos: four writer processes write checksummed values into one variable as fast as they can while two reader
//! processes check the checksum of every value they read. Writers are killed with SIGKILL from outside at random
//! moments, and kill themselves halfway through a copy while holding the lock (one write in 2048, the worst point);
//! each dead writer is replaced. No reader may ever see a torn value, and no writer may wait without bound.
//!
//! The CI run kills 40 writers; `COMMY_CHAOS_KILLS=1000 cargo test -p commy-shm --test chaos -- --nocapture` is
//! the long run whose figures docs/service-file.md gives.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};
use util::{count, Fixture, Helper};

const WRITERS: usize = 4;
const READERS: usize = 2;
const CAPACITY: u32 = 256;

struct Writer {
    helper: Helper,
    longest_ns: u64,
}

impl Writer {
    fn spawn(path: &str, seed: u64) -> Writer {
        let mut helper = Helper::spawn(&["chaos-write", path, "v", &seed.to_string()]);
        helper.expect("READY");
        Writer { helper, longest_ns: 0 }
    }

    fn collect(&mut self) -> u64 {
        for line in self.helper.drain() {
            if let Some(ns) = line.strip_prefix("WAIT ").and_then(|n| n.parse().ok()) {
                self.longest_ns = self.longest_ns.max(ns);
            }
        }
        self.longest_ns
    }
}

#[test]
fn writers_killed_at_random_and_at_the_worst_point_never_tear_a_read_or_wedge_a_writer() {
    let target: u64 = std::env::var("COMMY_CHAOS_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut fx = Fixture::new();
    fx.var("v", CAPACITY, b"");
    let stop = fx.stop_var();
    let path = fx.path_str().to_owned();
    let mut readers: Vec<Helper> = (0..READERS)
        .map(|_| {
            let mut reader = Helper::spawn(&["chaos-read", &path, "v"]);
            reader.expect("READY");
            reader
        })
        .collect();
    let mut seed = 1u64;
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|_| {
            seed += 1;
            Writer::spawn(&path, seed)
        })
        .collect();
    let (mut outside_kills, mut self_kills, mut longest_ns) = (0u64, 0u64, 0u64);
    let mut rand = 0x9e37_79b9_7f4a_7c15u64;
    let start = Instant::now();
    while outside_kills + self_kills < target {
        rand ^= rand << 13;
        rand ^= rand >> 7;
        rand ^= rand << 17;
        std::thread::sleep(Duration::from_micros(rand % 3000));
        let victim = (rand >> 32) as usize % WRITERS;
        for (i, writer) in writers.iter_mut().enumerate() {
            let status = writer.helper.exit_status();
            if let Some(status) = status {
                let stderr = writer.helper.drain().join("\n");
                assert_eq!(
                    status.signal(),
                    Some(9),
                    "a writer died otherwise than by its own SIGKILL: {status} {stderr}"
                );
            }
            let died = status.is_some();
            let kill = i == victim && !died;
            if kill {
                writer.helper.kill();
                writer.helper.reap();
            }
            if died || kill {
                longest_ns = longest_ns.max(writer.collect());
                if died {
                    self_kills += 1;
                } else {
                    outside_kills += 1;
                }
                seed += 1;
                *writer = Writer::spawn(&path, seed);
            }
        }
    }
    // The survivors run on for a moment, then everything stops.
    std::thread::sleep(Duration::from_millis(50));
    let service = fx.owner.service().clone();
    for writer in &mut writers {
        writer.helper.kill();
        writer.helper.reap();
        longest_ns = longest_ns.max(writer.collect());
    }
    service.write(stop, &[1]).unwrap();
    let (mut reads, mut torn, mut changes) = (0, 0, 0);
    for reader in readers.drain(..) {
        let report = reader.finish_ok().join(" ");
        reads += count(&report, "reads");
        torn += count(&report, "torn");
        changes += count(&report, "changes");
    }
    let version = service.version(fx.owner.lookup("v").unwrap()).unwrap();
    println!(
        "chaos: {WRITERS} writers, {READERS} readers, {:.1} s: {outside_kills} writers SIGKILLed from outside, \
         {self_kills} killed themselves holding the lock mid-copy; {version} values published; {reads} reads \
         ({changes} saw a new version), {torn} torn; longest single write {:.3} ms",
        start.elapsed().as_secs_f64(),
        longest_ns as f64 / 1e6
    );
    assert_eq!(torn, 0, "a reader saw a torn value");
    assert!(reads > 0 && version > 1);
}
