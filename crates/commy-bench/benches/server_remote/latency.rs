//! Push latency beside the raw echo round trip, one sample of each mechanism in turn.

use crate::client::Conn;
use crate::servers::{self, Commy, Echo};
use crate::{client_runtime, push_size, pushed_value, write};
use commy_proto::{Encoding, Heartbeat, ServerMessage, Subscribe};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A writer on a thread of its own (as it would be in another program) and a subscriber on the caller's runtime: the
/// subscriber's thread has nothing else to do than wait for the push.
pub struct PushPair {
    subscriber: Conn,
    go: mpsc::Sender<u64>,
    started: mpsc::Receiver<Instant>,
    writer: JoinHandle<()>,
}

impl PushPair {
    pub async fn new(commy: &Commy, encoding: Encoding, variable: &'static str) -> PushPair {
        let sid = commy.service_id.clone();
        let mut subscriber = commy.connect(encoding).await;
        subscriber
            .call(Subscribe {
                service_id: sid.clone(),
                variable_name: variable.into(),
                skip_own_writes: false,
            })
            .await;
        let (go, gone) = mpsc::channel::<u64>();
        let (sent, started) = mpsc::channel::<Instant>();
        let addr = commy.addr;
        // The writer's socket belongs to its own thread's runtime: that runtime alone drives it.
        let writer = std::thread::spawn(move || {
            client_runtime(1).block_on(async move {
                let mut writer = servers::login(addr, encoding).await;
                let mut replies = 0;
                while let Ok(n) = gone.recv() {
                    // The previous write's reply, read only now: while the push is on its way this thread waits in
                    // `gone.recv()`, not in the runtime, so the reply's arrival does not wake it.
                    for _ in 0..replies {
                        let reply = writer.recv().await;
                        assert!(matches!(reply.message, ServerMessage::VariableData(_)), "{reply:?}");
                    }
                    let start = Instant::now();
                    writer.send(write(&sid, variable, n)).await;
                    sent.send(start).unwrap();
                    replies = 1;
                }
            })
        });
        PushPair {
            subscriber,
            go,
            started,
            writer,
        }
    }

    /// Writes `n` and waits for its push.
    pub async fn round(&mut self, n: u64) -> Duration {
        self.go.send(n).unwrap();
        loop {
            let push = self.subscriber.recv().await;
            if pushed_value(&push.message) == Some(n) {
                break;
            }
        }
        let end = Instant::now();
        end - self.started.recv().unwrap()
    }

    pub fn finish(self) {
        drop(self.go);
        self.writer.join().expect("the writer");
    }
}

/// Rows of the table.
const ROWS: usize = 6;

async fn timed<T>(round: impl std::future::Future<Output = T>) -> Duration {
    let start = Instant::now();
    round.await;
    start.elapsed()
}

/// p50 and p99 of `samples`, in microseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

pub fn run(echo: &Echo, commy: &Commy, rounds: usize) {
    let size = push_size(&commy.service_id);
    let text = "x".repeat(size);
    let sid = commy.service_id.clone();
    let quiet = commy.quiet_service_id.as_str();
    let names: [String; ROWS] = [
        format!("raw WebSocket echo, {size} B (baseline)"),
        "WriteVariable -> subscriber push, JSON".to_owned(),
        "WriteVariable -> subscriber push, MessagePack".to_owned(),
        "Heartbeat -> reply, JSON".to_owned(),
        "WriteVariable -> reply, JSON".to_owned(),
        "WriteVariable -> reply, JSON, service nobody watches".to_owned(),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); names.len()];
    client_runtime(1).block_on(async {
        let mut raw = Conn::connect_raw(echo.addr).await;
        let mut json = PushPair::new(commy, Encoding::Json, "v0").await;
        let mut msgpack = PushPair::new(commy, Encoding::MsgPack, "v1").await;
        let mut requests = commy.connect(Encoding::Json).await;
        let warm_up = rounds / 10 + 1;
        let mut order: [usize; ROWS] = std::array::from_fn(|row| row);
        let mut random = 0x2545_f491_4f6c_dd1d_u64;
        for n in 0..(warm_up + rounds) as u64 {
            // A fresh order each round (Fisher-Yates over xorshift), so that no row always follows the same one and
            // inherits what it left running.
            for i in (1..ROWS).rev() {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                order.swap(i, (random % (i as u64 + 1)) as usize);
            }
            for row in order {
                let sample = match row {
                    0 => {
                        timed(async {
                            raw.send_raw(Message::text(text.as_str())).await;
                            raw.next_raw().await;
                        })
                        .await
                    }
                    1 => json.round(n).await,
                    2 => msgpack.round(n).await,
                    3 => timed(requests.call(Heartbeat::default())).await,
                    4 => timed(requests.call(write(&sid, "v2", n))).await,
                    _ => timed(requests.call(write(quiet, "v0", n))).await,
                };
                if n >= warm_up as u64 {
                    samples[row].push(sample);
                }
            }
        }
        json.finish();
        msgpack.finish();
    });
    println!(
        "\nlatency: {rounds} rounds, each one sample of every row in a random order; one client thread per \
         connection side"
    );
    println!("{:<52} {:>9} {:>9} {:>12}", "", "p50 us", "p99 us", "p50 / echo");
    let mut baseline = None;
    for (name, samples) in names.iter().zip(samples) {
        let (p50, p99) = percentiles(samples);
        let base = *baseline.get_or_insert(p50);
        println!("{name:<52} {p50:>9.1} {p99:>9.1} {:>12.2}", p50 / base);
    }
}
