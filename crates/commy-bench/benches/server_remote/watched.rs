//! Push latency as the number of watched services grows (1, 100, 1,000, 10,000 by default): every service has a
//! subscriber, and a write to one of them is timed to its push, beside the raw echo round trip measured in the same
//! rounds. The services are watched by the server's bounded watcher pool, not a thread each.

use crate::client::Conn;
use crate::latency::{percentiles, PushPair};
use crate::servers::{make_service, Commy, Echo};
use crate::{client_runtime, push_size};
use commy_proto::{Encoding, Subscribe};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Subscriptions per subscriber connection (the server's default limit is 1,024).
const PER_CONNECTION: usize = 1_000;
/// Descriptors a service costs the server: its file's owner (which holds the lock) and its mapping.
const DESCRIPTORS_PER_SERVICE: u64 = 2;
/// Descriptors kept free for sockets and the rest.
const SPARE_DESCRIPTORS: u64 = 1_000;

/// Raises the soft open-files limit to the hard one; returns the new soft limit.
fn raise_open_files() -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if setrlimit(Resource::Nofile, raised).is_ok() {
        limit.maximum.unwrap_or(u64::MAX)
    } else {
        limit.current.unwrap_or(u64::MAX)
    }
}

pub fn run(echo: &Echo, commy: &Commy, rounds: usize, levels: &[usize]) {
    let open_files = raise_open_files();
    let text = "x".repeat(push_size(&commy.service_id));
    println!(
        "\npush latency by watched services: {rounds} rounds per level, each one echo and one push in turn; \
         open-files limit {open_files}"
    );
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>12} {:>16}",
        "watched services", "echo p50", "echo p99", "push p50", "push p99", "push / echo", "setup s"
    );
    client_runtime(2).block_on(async {
        let mut admin = commy.connect(Encoding::Json).await;
        let mut subscribers: Vec<Conn> = Vec::new();
        let mut held = PER_CONNECTION;
        let mut raw = Conn::connect_raw(echo.addr).await;
        // The timed service (`bench`, variable `v3`) is the first watched one.
        let mut pair = PushPair::new(commy, Encoding::Json, "v3").await;
        let mut watched = 1;
        let mut n = 0;
        for &level in levels {
            let needs = level as u64 * DESCRIPTORS_PER_SERVICE + SPARE_DESCRIPTORS;
            if needs > open_files {
                println!("{level:<20} skipped: needs about {needs} open files, over the limit of {open_files}");
                continue;
            }
            let setup = Instant::now();
            while watched < level {
                let name = format!("watched-{watched}");
                let service_id = make_service(&mut admin, &name, ["x".to_owned()].into_iter()).await;
                if held == PER_CONNECTION {
                    subscribers.push(commy.connect(Encoding::Json).await);
                    held = 0;
                }
                let subscriber = subscribers.last_mut().expect("a subscriber");
                subscriber
                    .call(Subscribe {
                        service_id,
                        variable_name: "x".into(),
                        skip_own_writes: false,
                    })
                    .await;
                held += 1;
                watched += 1;
            }
            let setup = setup.elapsed();
            let (mut echo_samples, mut push_samples) = (Vec::new(), Vec::new());
            let warm_up = rounds / 10 + 1;
            for round in 0..warm_up + rounds {
                n += 1;
                let echo_first = round % 2 == 0;
                let mut echo_once = async || {
                    let start = Instant::now();
                    raw.send_raw(Message::text(text.as_str())).await;
                    raw.next_raw().await;
                    start.elapsed()
                };
                let (echo, push): (Duration, Duration) = if echo_first {
                    let echo = echo_once().await;
                    (echo, pair.round(n).await)
                } else {
                    let push = pair.round(n).await;
                    (echo_once().await, push)
                };
                if round >= warm_up {
                    echo_samples.push(echo);
                    push_samples.push(push);
                }
            }
            let (echo50, echo99) = percentiles(echo_samples);
            let (push50, push99) = percentiles(push_samples);
            println!(
                "{watched:<20} {echo50:>10.1} {echo99:>10.1} {push50:>10.1} {push99:>10.1} {:>12.2} {:>16.1}",
                push50 / echo50,
                setup.as_secs_f64()
            );
        }
        pair.finish();
    });
}
