//! The remote path over loopback, each figure beside a raw WebSocket baseline measured in the same run with the same
//! library (tokio-tungstenite, client and server):
//!
//! - **push latency** ([`latency`]): a client writes a variable (`WriteVariable`) and another client, subscribed to
//!   it, receives the `VariableChanged`; p50 and p99 of the time from sending the write to receiving the push, beside
//!   the round trip of a raw WebSocket echo of a message of the push's size;
//! - **requests per second** ([`throughput`]) with 1, 10 and 100 concurrent clients, each with one request in flight
//!   (`WriteVariable` to its own variable, `ReadVariable`), beside the same clients against the echo server;
//! - **fan-out** ([`fanout`]): 100 subscribers of one variable, one writer making one acknowledged write at a time;
//!   pushes delivered per second in total.
//! - **beside Redis 7** ([`versus_redis`]): push latency beside a `redis-server` started for the run (`MULTI; SET;
//!   PUBLISH; EXEC` to a `SUBSCRIBE`r) and the echo, and the time 100 subscribers take to see the last of 5,000
//!   acknowledged writes, Commy and Redis alternating (skipped when `redis-server` is not installed);
//! - **watched services** ([`watched`]): push latency with 1, 100, 1,000 and 10,000 watched services, beside the echo.
//!
//! Both servers run on one runtime with two worker threads; the clients run on other runtimes in the same process. The machines this runs on are noisy and shift between fast and slow states within seconds, so the
//! mechanisms compared are interleaved finely: latency takes one sample of each in turn (starting with a different one
//! each round), throughput alternates short windows. Figures are in docs/performance.md.
//!
//! `cargo bench -p commy-bench --bench server_remote` (`COMMY_BENCH_SCALE=0.2` for a shorter run). Run without
//! `--bench`, as `cargo test --benches` does, it makes one tiny pass as a smoke test. `COMMY_BENCH_PARTS` picks parts
//! (a comma list of `latency`, `throughput`, `fanout`, `redis`, `watched`; default all), `COMMY_BENCH_WATCHED` the
//! levels of `watched` (default `1,100,1000,10000`).

mod client;
mod fanout;
mod latency;
mod redis;
mod servers;
mod throughput;
mod versus_redis;
mod watched;

use commy_proto::{ServerMessage, WriteVariable};
use servers::{Commy, Echo, SERVER_THREADS};
use std::time::Duration;
use tokio::runtime::Runtime;

/// Concurrent clients of the throughput runs.
pub const CLIENTS: [usize; 3] = [1, 10, 100];

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let scale: f64 = match std::env::var("COMMY_BENCH_SCALE") {
        Ok(scale) => scale.parse().expect("COMMY_BENCH_SCALE is a number"),
        Err(_) if bench => 1.0,
        Err(_) => 0.002,
    };
    let rounds = ((20_000.0 * scale) as usize).max(20);
    let window = Duration::from_secs_f64((2.0 * scale).max(0.01));

    let commy = Commy::start(*CLIENTS.iter().max().unwrap());
    let echo = Echo::start(&commy);
    println!(
        "remote path over loopback: both servers on one runtime of {SERVER_THREADS} worker threads, clients on \
         their own runtimes, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let parts = std::env::var("COMMY_BENCH_PARTS").unwrap_or_else(|_| "latency,throughput,fanout,redis,watched".into());
    let parts: Vec<&str> = parts.split(',').map(str::trim).collect();
    if parts.contains(&"latency") {
        latency::run(&echo, &commy, rounds);
    }
    if parts.contains(&"throughput") {
        throughput::run(&echo, &commy, window);
    }
    if parts.contains(&"fanout") {
        fanout::run(&commy, window);
    }
    if parts.contains(&"redis") {
        let writes = ((versus_redis::WRITES as f64 * scale) as u64).max(10);
        versus_redis::run(&echo, &commy, rounds, writes);
    }
    if parts.contains(&"watched") {
        let default = if bench { "1,100,1000,10000" } else { "1,10" };
        let levels = std::env::var("COMMY_BENCH_WATCHED").unwrap_or_else(|_| default.into());
        let levels: Vec<usize> = levels
            .split(',')
            .map(|level| {
                level
                    .trim()
                    .parse()
                    .expect("COMMY_BENCH_WATCHED is a comma list of numbers")
            })
            .collect();
        watched::run(&echo, &commy, rounds, &levels);
    }
}

/// A client runtime: current-thread for one thread, else multi-thread.
pub fn client_runtime(threads: usize) -> Runtime {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder.enable_all().build().expect("a runtime")
}

/// `WriteVariable` of a u64 value.
pub fn write(service_id: &str, variable_name: &str, value: u64) -> WriteVariable {
    WriteVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        data: None,
        value: Some(value.into()),
        expected_version: None,
    }
}

/// The value of a `VariableChanged` push, if the message is one.
pub fn pushed_value(message: &ServerMessage) -> Option<u64> {
    match message {
        ServerMessage::VariableChanged(change) => change.value.as_ref()?.as_u64(),
        _ => None,
    }
}

/// The size of a JSON push of a u64 variable of `service_id`, for echo messages of the same size.
pub fn push_size(service_id: &str) -> usize {
    let push = commy_proto::Reply::push(commy_proto::VariableChanged {
        service_id: service_id.into(),
        variable_name: "v0".into(),
        data: 1_000_000u64.to_le_bytes().to_vec(),
        version: 1_000_000,
        value: Some(1_000_000u64.into()),
    });
    commy_proto::encode_reply(&push, commy_proto::Encoding::Json)
        .unwrap()
        .as_bytes()
        .len()
}
