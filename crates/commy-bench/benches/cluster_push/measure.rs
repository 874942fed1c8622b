//! The rows: push latency (one sample of each mechanism in turn) and fan-out (the mechanisms alternating).

use crate::cluster::{watch, Cluster, FANOUT, LATENCY};
use async_nats::jetstream::kv;
use commy_client::{Service, Watch};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// The latency rows, in the order they are printed.
const LATENCY_ROWS: [&str; 4] = [
    "NATS KV put -> watch (baseline)",
    "Commy, one server, no cluster (baseline)",
    "Commy cluster, write on A -> subscriber on A",
    "Commy cluster, write on A -> subscriber on B",
];

/// One mechanism's measurements.
pub struct Row {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Row {
    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    pub fn print_latency(rows: &[Row]) {
        let nats = rows[0].median();
        let single = rows[1].median();
        println!("\npush latency, {} samples each, in turn", rows[0].samples.len());
        println!("| row | p50 | p99 | p50 / NATS | p50 / one server |");
        println!("|---|---:|---:|---:|---:|");
        for row in rows {
            let p50 = row.median();
            println!(
                "| {} | {:.1} µs | {:.1} µs | {:.2} | {:.2} |",
                row.name,
                micros(p50),
                micros(row.quantile(0.99)),
                micros(p50) / micros(nats),
                micros(p50) / micros(single)
            );
        }
    }

    pub fn print_fanout(rows: &[Row]) {
        let nats = rows[0].median();
        println!("\nfan-out: writes one at a time until every subscriber holds the last value (runs alternating)");
        println!("| row | runs | median | median / NATS |");
        println!("|---|---|---:|---:|");
        for row in rows {
            let runs: Vec<String> = row
                .samples
                .iter()
                .map(|d| format!("{:.3} s", d.as_secs_f64()))
                .collect();
            println!(
                "| {} | {} | {:.3} s | {:.2} |",
                row.name,
                runs.join(", "),
                row.median().as_secs_f64(),
                row.median().as_secs_f64() / nats.as_secs_f64()
            );
        }
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// A guard on every wait: a change that never arrives fails the bench instead of hanging it.
const WAIT: Duration = Duration::from_secs(30);

/// Waits until `watch` delivers `value` (skipping older values).
async fn until_value(watch: &mut Watch, value: u64, what: &str) {
    let wait = async {
        loop {
            let change = watch
                .next_change()
                .await
                .unwrap_or_else(|| panic!("{what}: the watch ended"));
            if change.as_u64().expect("a u64") >= value {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("{what}: value {value} never arrived within {WAIT:?}"));
}

/// Waits until the NATS watch delivers `value` (skipping older values).
async fn until_nats_value(watch: &mut kv::Watch, value: u64) {
    let wait = async {
        loop {
            let entry = watch.next().await.expect("the NATS watch ended").expect("a NATS entry");
            let bytes: [u8; 8] = entry.value.as_ref().try_into().expect("8 bytes");
            if u64::from_le_bytes(bytes) >= value {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("NATS: value {value} never arrived within {WAIT:?}"));
}

async fn commy_write(writer: &Service, variable: &str, value: u64) {
    writer.write(variable, value).await.expect("a write");
}

async fn nats_put(store: &kv::Store, key: &str, value: u64) {
    store
        .put(key, value.to_le_bytes().to_vec().into())
        .await
        .expect("a NATS put");
}

/// Push latency: `rounds` samples of each row, one of each in turn (starting with a different one each round).
pub async fn latency(cluster: &Cluster, rounds: usize) -> Vec<Row> {
    let mut nats = cluster.baseline_watched.watch(LATENCY).await.expect("a NATS watch");
    let mut single = watch(&cluster.on_single[0], LATENCY).await;
    let mut on_a = watch(&cluster.on_a, LATENCY).await;
    let mut on_b = watch(&cluster.on_b[0], LATENCY).await;
    let mut rows: Vec<Row> = (LATENCY_ROWS.iter())
        .map(|name| Row {
            name,
            samples: Vec::with_capacity(rounds),
        })
        .collect();
    let mut value = 1_000_000u64;
    for round in 0..rounds {
        for turn in 0..LATENCY_ROWS.len() {
            let row = (round + turn) % LATENCY_ROWS.len();
            value += 1;
            let started = Instant::now();
            match row {
                0 => {
                    nats_put(&cluster.baseline, LATENCY, value).await;
                    until_nats_value(&mut nats, value).await;
                }
                1 => {
                    commy_write(&cluster.writer_single, LATENCY, value).await;
                    until_value(&mut single, value, LATENCY_ROWS[1]).await;
                }
                2 => {
                    commy_write(&cluster.writer_a, LATENCY, value).await;
                    until_value(&mut on_a, value, LATENCY_ROWS[2]).await;
                }
                _ => {
                    commy_write(&cluster.writer_a, LATENCY, value).await;
                    until_value(&mut on_b, value, LATENCY_ROWS[3]).await;
                }
            }
            rows[row].samples.push(started.elapsed());
        }
    }
    rows
}

/// The fan-out rows, in the order they are printed.
const FANOUT_ROWS: [&str; 3] = [
    "NATS KV, one writer, N watches (baseline)",
    "Commy, one server, no cluster (baseline)",
    "Commy cluster, writer on A, N subscribers on B",
];

/// Fan-out: `writes` acknowledged writes one at a time, then until every subscriber holds the last; three runs of
/// each row, alternating.
pub async fn fanout(cluster: &Cluster, writes: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = (FANOUT_ROWS.iter())
        .map(|name| Row {
            name,
            samples: Vec::new(),
        })
        .collect();
    let mut base = 1_000_000_000u64;
    for _run in 0..3 {
        for (index, row) in rows.iter_mut().enumerate() {
            base += writes as u64 + 1;
            let last = base + writes as u64;
            let took = match index {
                0 => nats_fanout(cluster, base, last).await,
                1 => commy_fanout(&cluster.writer_single, &cluster.on_single, base, last).await,
                _ => commy_fanout(&cluster.writer_a, &cluster.on_b, base, last).await,
            };
            row.samples.push(took);
        }
    }
    rows
}

async fn commy_fanout(writer: &Service, subscribers: &[Service], base: u64, last: u64) -> Duration {
    let mut watches = Vec::with_capacity(subscribers.len());
    for subscriber in subscribers {
        watches.push(watch(subscriber, FANOUT).await);
    }
    let started = Instant::now();
    for value in base + 1..=last {
        commy_write(writer, FANOUT, value).await;
    }
    for watch in &mut watches {
        until_value(watch, last, "fan-out").await;
    }
    started.elapsed()
}

async fn nats_fanout(cluster: &Cluster, base: u64, last: u64) -> Duration {
    let mut watches = Vec::with_capacity(cluster.on_b.len());
    for _ in 0..cluster.on_b.len() {
        watches.push(cluster.baseline_watched.watch(FANOUT).await.expect("a NATS watch"));
    }
    let started = Instant::now();
    for value in base + 1..=last {
        nats_put(&cluster.baseline, FANOUT, value).await;
    }
    for watch in &mut watches {
        until_nats_value(watch, last).await;
    }
    started.elapsed()
}
