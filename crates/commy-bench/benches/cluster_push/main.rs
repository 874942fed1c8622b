//! The cluster's cost (issue 15): a write on one Commy server reaching a subscriber of another, beside NATS KV put ->
//! watch on the same nats-server and beside the single-server push, all in one run:
//!
//! - **push latency**: a client writes a u64 on server A (`WriteVariable`, acknowledged once in JetStream); a client
//!   subscribed on server B receives the push. Beside it, the same write and push on one server (A to A), and a NATS
//!   KV `put` by one link received by another link's watch. One sample of each in turn, p50 and p99.
//! - **fan-out**: one writer on A, `COMMY_BENCH_SUBSCRIBERS` (default 20) subscribers on B, writes made one at a time
//!   until every subscriber holds the last value; beside the same on one server and the same number of NATS watches.
//!
//! Both Commy servers run in this process (each on its own runtime of one worker thread), joined to a real
//! `nats-server -js` (from `COMMY_NATS_SERVER`: `export COMMY_NATS_SERVER="$(scripts/nats-server.sh)"`).
//!
//! `cargo bench -p commy-bench --bench cluster_push` (`COMMY_BENCH_SCALE=0.2` for a shorter run). Figures are in
//! docs/performance.md, section 14.

mod cluster;
mod measure;

use cluster::Cluster;
use measure::{fanout, latency, Row};

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let scale: f64 = match std::env::var("COMMY_BENCH_SCALE") {
        Ok(scale) => scale.parse().expect("COMMY_BENCH_SCALE is a number"),
        Err(_) if bench => 1.0,
        Err(_) => 0.005,
    };
    let rounds = ((4_000.0 * scale) as usize).max(20);
    let writes = ((2_000.0 * scale) as usize).max(10);
    let subscribers: usize = std::env::var("COMMY_BENCH_SUBSCRIBERS").map_or(20, |n| n.parse().expect("a number"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("clients")
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let cluster = Cluster::start(subscribers).await;
        println!(
            "cluster push: two Commy servers joined to one nats-server -js, {} CPUs, {rounds} rounds, {writes} writes \
             to {subscribers} subscribers",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let rows = latency(&cluster, rounds).await;
        Row::print_latency(&rows);
        let rows = fanout(&cluster, writes).await;
        Row::print_fanout(&rows);
    });
}
