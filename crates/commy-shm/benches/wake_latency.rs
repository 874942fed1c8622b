//! Cross-process change signal: how long after a write in one process a `Watcher` blocked in another wakes up,
//! beside a raw futex ping-pong between the same two processes (the floor: one store, one FUTEX_WAKE, one
//! FUTEX_WAIT return). p50 and p99, same vCPU and across vCPUs, mechanisms interleaved in four passes each.
//!
//! `cargo bench -p commy-shm --bench wake_latency`. `COMMY_WAKE_ROUNDS` changes the 20,000 round trips;
//! `COMMY_WAKE_ONLY=futex|commy` and `COMMY_WAKE_PLACEMENT=same|cross` narrow the run, for profiling.

#[path = "support/pingpong.rs"]
mod pingpong;

use pingpong::{CommyPair, FutexPair, OneWay, COMMY, FUTEX};

fn main() {
    if let Some((role, arg, rounds)) = pingpong::child_role() {
        match role.as_str() {
            FUTEX => pingpong::futex_child(arg.as_ref(), rounds),
            COMMY => pingpong::commy_child(arg.as_ref(), rounds),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    // `cargo bench` passes `--bench`; arguments are ignored.
    let rounds = pingpong::rounds() / pingpong::PASSES;
    for at in pingpong::placements() {
        let (mut futex, mut commy) = (Vec::new(), Vec::new());
        for _pass in 0..pingpong::PASSES {
            let dir = pingpong::scratch_dir();
            if pingpong::wanted(FUTEX) {
                let (mut pair, path) = FutexPair::create(dir.path());
                futex.extend(pingpong::run(&mut pair, FUTEX, &path, at, rounds));
            }
            if pingpong::wanted(COMMY) {
                let (mut pair, path) = CommyPair::create(dir.path());
                commy.extend(pingpong::run(&mut pair, COMMY, &path, at, rounds));
            }
        }
        let rows: Vec<(&str, OneWay)> = [("raw futex ping-pong", futex), ("commy write -> Watcher::wait", commy)]
            .into_iter()
            .filter(|(_, rtts)| !rtts.is_empty())
            .map(|(name, rtts)| (name, pingpong::one_way(rtts)))
            .collect();
        pingpong::print_table(at, &rows);
    }
}
