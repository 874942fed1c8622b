//! The push path beside Redis 7, interleaved in one run:
//!
//! - **push latency**: a write and its push to a subscriber, Commy (`WriteVariable` -> `VariableChanged`) beside
//!   Redis (`MULTI; SET; PUBLISH; EXEC` -> the `SUBSCRIBE`r's message) and beside the raw WebSocket echo, one sample of
//!   each in turn;
//! - **fan-out**: one writer makes 5,000 acknowledged writes, one at a time, to one variable (one channel) with 100
//!   subscribers; the time from the first write until every subscriber has seen the final value. Commy and Redis
//!   take turns, three runs each.

use crate::client::Conn;
use crate::latency::{percentiles, PushPair};
use crate::redis::{Redis, RedisServer};
use crate::servers::{Commy, Echo};
use crate::{client_runtime, push_size, pushed_value, write};
use commy_proto::{Encoding, Subscribe};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Subscribers of the fan-out.
const SUBSCRIBERS: usize = 100;
/// Writes of one fan-out run (at scale 1).
pub const WRITES: u64 = 5_000;
/// Fan-out runs of each server.
const RUNS: usize = 3;

/// A Redis writer on a thread of its own and a subscriber on the caller's runtime, like [`PushPair`].
struct RedisPair {
    subscriber: Redis,
    go: mpsc::Sender<u64>,
    started: mpsc::Receiver<Instant>,
    writer: JoinHandle<()>,
}

impl RedisPair {
    async fn new(addr: SocketAddr) -> RedisPair {
        let mut subscriber = Redis::connect(addr).await;
        subscriber.subscribe("latency").await;
        let (go, gone) = mpsc::channel::<u64>();
        let (sent, started) = mpsc::channel::<Instant>();
        let writer = std::thread::spawn(move || {
            client_runtime(1).block_on(async move {
                let mut writer = Redis::connect(addr).await;
                let mut pending = false;
                while let Ok(n) = gone.recv() {
                    if pending {
                        writer.recv_set_publish().await;
                    }
                    let start = Instant::now();
                    writer.send_set_publish("latency", "latency", n).await;
                    sent.send(start).unwrap();
                    pending = true;
                }
            })
        });
        RedisPair {
            subscriber,
            go,
            started,
            writer,
        }
    }

    async fn round(&mut self, n: u64) -> Duration {
        self.go.send(n).unwrap();
        while self.subscriber.next_message().await != n {}
        let end = Instant::now();
        end - self.started.recv().unwrap()
    }

    fn finish(self) {
        drop(self.go);
        self.writer.join().expect("the Redis writer");
    }
}

pub fn run(echo: &Echo, commy: &Commy, rounds: usize, fan_out_writes: u64) {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let straight = |before: (f64, f64)| {
        let (sent, straight) = commy.pushes();
        let (sent, straight) = (sent - before.0, straight - before.1);
        println!("Commy pushes written: {sent}, of which straight from the publishing thread: {straight}");
        (sent + before.0, straight + before.1)
    };
    let before = commy.pushes();
    latency(echo, commy, &redis, rounds);
    let before = straight(before);
    fan_out(commy, &redis, fan_out_writes);
    straight(before);
}

fn latency(echo: &Echo, commy: &Commy, redis: &RedisServer, rounds: usize) {
    let text = "x".repeat(push_size(&commy.service_id));
    let names = [
        format!("raw WebSocket echo, {} B (baseline)", text.len()),
        "Redis MULTI/SET/PUBLISH/EXEC -> subscriber (baseline)".to_owned(),
        "Commy WriteVariable -> subscriber push, JSON".to_owned(),
        "Commy WriteVariable -> subscriber push, MessagePack".to_owned(),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); names.len()];
    client_runtime(1).block_on(async {
        let mut raw = Conn::connect_raw(echo.addr).await;
        let mut redis = RedisPair::new(redis.addr).await;
        let mut json = PushPair::new(commy, Encoding::Json, "v0").await;
        let mut msgpack = PushPair::new(commy, Encoding::MsgPack, "v1").await;
        let warm_up = rounds / 10 + 1;
        for n in 0..(warm_up + rounds) as u64 {
            // Each round starts with a different row, so that none always follows the same one.
            for k in 0..names.len() {
                let row = (k + n as usize) % names.len();
                let sample = match row {
                    0 => {
                        let start = Instant::now();
                        raw.send_raw(Message::text(text.as_str())).await;
                        raw.next_raw().await;
                        start.elapsed()
                    }
                    1 => redis.round(n + 1).await,
                    2 => json.round(n + 1).await,
                    _ => msgpack.round(n + 1).await,
                };
                if n >= warm_up as u64 {
                    samples[row].push(sample);
                }
            }
        }
        redis.finish();
        json.finish();
        msgpack.finish();
    });
    println!("\npush latency beside Redis 7: {rounds} rounds, one sample of every row in turn");
    println!(
        "{:<56} {:>9} {:>9} {:>12} {:>13}",
        "", "p50 us", "p99 us", "p50 / echo", "p50 / Redis"
    );
    let figures: Vec<(f64, f64)> = samples.into_iter().map(percentiles).collect();
    let (echo_p50, redis_p50) = (figures[0].0, figures[1].0);
    for (name, (p50, p99)) in names.iter().zip(figures) {
        println!(
            "{name:<56} {p50:>9.1} {p99:>9.1} {:>12.2} {:>13.2}",
            p50 / echo_p50,
            p50 / redis_p50
        );
    }
}

/// One Commy fan-out run: the time until every subscriber has the final value.
async fn commy_fan_out(commy: &Commy, writes: u64, base: u64) -> Duration {
    let sid = commy.service_id.clone();
    let last = base + writes;
    let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut conn = commy.connect(Encoding::Json).await;
        conn.call(Subscribe {
            service_id: sid.clone(),
            variable_name: "fan".into(),
            skip_own_writes: false,
        })
        .await;
        subscribers.push(tokio::spawn(async move {
            while pushed_value(&conn.recv().await.message) != Some(last) {}
        }));
    }
    let mut writer = commy.connect(Encoding::Json).await;
    let start = Instant::now();
    for n in base + 1..=last {
        writer.call(write(&sid, "fan", n)).await;
    }
    for subscriber in subscribers {
        subscriber.await.expect("a subscriber");
    }
    start.elapsed()
}

/// One Redis fan-out run, the same way.
async fn redis_fan_out(addr: SocketAddr, writes: u64, base: u64) -> Duration {
    let last = base + writes;
    let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut conn = Redis::connect(addr).await;
        conn.subscribe("fan").await;
        subscribers.push(tokio::spawn(async move { while conn.next_message().await != last {} }));
    }
    let mut writer = Redis::connect(addr).await;
    let start = Instant::now();
    for n in base + 1..=last {
        writer.send_set_publish("fan", "fan", n).await;
        writer.recv_set_publish().await;
    }
    for subscriber in subscribers {
        subscriber.await.expect("a subscriber");
    }
    start.elapsed()
}

fn fan_out(commy: &Commy, redis: &RedisServer, writes: u64) {
    let runtime = client_runtime(2);
    let mut times = [Vec::new(), Vec::new()];
    let mut base = 1 << 41;
    runtime.block_on(async {
        for _ in 0..RUNS {
            times[0].push(redis_fan_out(redis.addr, writes, base).await);
            times[1].push(commy_fan_out(commy, writes, base).await);
            base += writes + 1;
        }
    });
    println!(
        "\nfan-out beside Redis 7: {SUBSCRIBERS} subscribers, one writer, {writes} acknowledged writes one at a time; \
         time until every subscriber has the final value, {RUNS} runs each, alternating"
    );
    let runs = |row: &[Duration]| {
        row.iter()
            .map(|t| format!("{:.2} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let median = |row: &[Duration]| {
        let mut row = row.to_vec();
        row.sort_unstable();
        row[row.len() / 2].as_secs_f64()
    };
    println!("{:<40} {:>28} {:>12}", "", "runs", "median / Redis");
    let redis_median = median(&times[0]);
    for (name, row) in ["Redis (baseline)", "Commy, JSON"].iter().zip(&times) {
        println!("{name:<40} {:>28} {:>12.2}", runs(row), median(row) / redis_median);
    }
}
