//! Fan-out: one writer, one acknowledged write at a time, to one variable with 100 subscribers; deliveries per second
//! counted at the subscribers. The two encodings take turns, three runs each.

use crate::client::Conn;
use crate::servers::Commy;
use crate::{client_runtime, pushed_value, write};
use commy_proto::{Encoding, Subscribe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Subscribers of the variable.
pub const SUBSCRIBERS: usize = 100;
/// Runs of each encoding.
const RUNS: u32 = 3;

/// What one run counted.
#[derive(Default, Clone, Copy)]
struct Counts {
    writes: u64,
    deliveries: u64,
    time: Duration,
}

/// Subscribes `SUBSCRIBERS` connections, writes for `window`, and waits until every subscriber has the last value.
async fn one_run(commy: &Commy, encoding: Encoding, window: Duration, base: u64) -> Counts {
    let sid = commy.service_id.clone();
    let (last_tx, last_rx) = watch::channel(u64::MAX);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut conn: Conn = commy.connect(encoding).await;
        conn.call(Subscribe {
            service_id: sid.clone(),
            variable_name: "fan".into(),
            skip_own_writes: false,
        })
        .await;
        let (mut last_rx, delivered) = (last_rx.clone(), delivered.clone());
        subscribers.push(tokio::spawn(async move {
            let (mut seen, mut count) = (0, 0);
            while seen < *last_rx.borrow_and_update() {
                tokio::select! {
                    push = conn.recv() => {
                        if let Some(value) = pushed_value(&push.message) {
                            seen = value;
                            count += 1;
                        }
                    }
                    _ = last_rx.changed() => {}
                }
            }
            delivered.fetch_add(count, Ordering::Relaxed);
        }));
    }
    let mut writer = commy.connect(encoding).await;
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < window {
        n += 1;
        writer.call(write(&sid, "fan", base + n)).await;
    }
    last_tx.send_replace(base + n);
    for subscriber in subscribers {
        subscriber.await.expect("a subscriber");
    }
    Counts {
        writes: n,
        deliveries: delivered.load(Ordering::Relaxed),
        time: start.elapsed(),
    }
}

pub fn run(commy: &Commy, window: Duration) {
    let runtime = client_runtime(2);
    let encodings = [Encoding::Json, Encoding::MsgPack];
    let mut counts = [Counts::default(); 2];
    // Every run writes values above the last run's, so that no subscriber mistakes an old value for the last.
    let mut base = 1 << 40;
    runtime.block_on(async {
        for _ in 0..RUNS {
            for (k, encoding) in encodings.into_iter().enumerate() {
                let run = one_run(commy, encoding, window / RUNS, base).await;
                base += run.writes + 1;
                counts[k].writes += run.writes;
                counts[k].deliveries += run.deliveries;
                counts[k].time += run.time;
            }
        }
    });
    println!(
        "\nfan-out: {SUBSCRIBERS} subscribers of one variable, one writer, one acknowledged write at a time, \
         {:.1} s per encoding in {RUNS} runs",
        window.as_secs_f64()
    );
    println!(
        "{:<44} {:>12} {:>14} {:>14}",
        "", "writes/s", "deliveries/s", "seen/written"
    );
    for (encoding, c) in encodings.iter().zip(counts) {
        let secs = c.time.as_secs_f64();
        println!(
            "{:<44} {:>12.0} {:>14.0} {:>14.2}",
            encoding.name(),
            c.writes as f64 / secs,
            c.deliveries as f64 / secs,
            c.deliveries as f64 / (c.writes as f64 * SUBSCRIBERS as f64)
        );
    }
}
