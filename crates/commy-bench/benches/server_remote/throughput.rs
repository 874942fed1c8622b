//! Requests per second of closed-loop clients, beside the same clients against the echo server. Each client count
//! runs every row in turn in short slices, so that the machine's slow and fast moments fall on every row alike.

use crate::client::Conn;
use crate::servers::{Commy, Echo};
use crate::{client_runtime, push_size, write, CLIENTS};
use commy_proto::{Encoding, ReadVariable};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Slices each row's time is cut into.
const SLICES: u32 = 5;

/// What one row's clients do, one request at a time.
#[derive(Clone)]
enum Row {
    Echo(Arc<str>),
    Write(Encoding),
    Read(Encoding),
}

impl Row {
    fn name(&self) -> String {
        match self {
            Row::Echo(text) => format!("raw WebSocket echo, {} B (baseline)", text.len()),
            Row::Write(encoding) => format!("WriteVariable, {}", encoding.name()),
            Row::Read(encoding) => format!("ReadVariable, {}", encoding.name()),
        }
    }

    async fn connect(&self, echo: &Echo, commy: &Commy) -> Conn {
        match self {
            Row::Echo(_) => Conn::connect_raw(echo.addr).await,
            Row::Write(encoding) | Row::Read(encoding) => commy.connect(*encoding).await,
        }
    }

    /// One request and its reply; client `i` uses the variable `v<i>`.
    async fn request(&self, conn: &mut Conn, sid: &str, i: usize, n: u64) {
        match self {
            Row::Echo(text) => {
                conn.send_raw(Message::text(&**text)).await;
                conn.next_raw().await;
            }
            Row::Write(_) => {
                conn.call(write(sid, &format!("v{i}"), n)).await;
            }
            Row::Read(_) => {
                conn.call(ReadVariable {
                    service_id: sid.into(),
                    variable_name: format!("v{i}"),
                })
                .await;
            }
        }
    }
}

/// Runs `conns` as closed-loop clients of `row` for `slice`; returns them with the requests made.
async fn slice(row: &Row, sid: &Arc<str>, conns: Vec<Conn>, slice: Duration) -> (Vec<Conn>, u64) {
    let deadline = Instant::now() + slice;
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let (row, sid) = (row.clone(), sid.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    row.request(&mut conn, &sid, i, n).await;
                }
                (conn, n)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    let mut total = 0;
    for task in tasks {
        let (conn, n) = task.await.expect("a client");
        conns.push(conn);
        total += n;
    }
    (conns, total)
}

pub fn run(echo: &Echo, commy: &Commy, window: Duration) {
    let rows = [
        Row::Echo("x".repeat(push_size(&commy.service_id)).into()),
        Row::Write(Encoding::Json),
        Row::Read(Encoding::Json),
        Row::Write(Encoding::MsgPack),
        Row::Read(Encoding::MsgPack),
    ];
    let sid: Arc<str> = commy.service_id.as_str().into();
    let runtime = client_runtime(2);
    let mut rates = vec![Vec::new(); rows.len()];
    for clients in CLIENTS {
        runtime.block_on(async {
            let mut conns = Vec::new();
            for row in &rows {
                let mut mine = Vec::with_capacity(clients);
                for _ in 0..clients {
                    mine.push(row.connect(echo, commy).await);
                }
                conns.push(mine);
            }
            let mut totals = vec![(0, Duration::ZERO); rows.len()];
            for _ in 0..SLICES {
                for (k, row) in rows.iter().enumerate() {
                    let start = Instant::now();
                    let (back, made) = slice(row, &sid, std::mem::take(&mut conns[k]), window / SLICES).await;
                    conns[k] = back;
                    totals[k].0 += made;
                    totals[k].1 += start.elapsed();
                }
            }
            for (k, (made, time)) in totals.into_iter().enumerate() {
                rates[k].push(made as f64 / time.as_secs_f64());
            }
        });
    }
    println!(
        "\nrequests per second, closed loop (one request in flight per client), {:.1} s per cell in {SLICES} \
         interleaved slices, clients on 2 threads",
        window.as_secs_f64()
    );
    print!("{:<44}", "");
    for clients in CLIENTS {
        let label = format!("{clients} client{}", if clients == 1 { "" } else { "s" });
        print!(" {label:>12}");
    }
    println!();
    for (row, rates_of_row) in rows.iter().zip(&rates) {
        print!("{:<44}", row.name());
        for rate in rates_of_row {
            print!(" {rate:>12.0}");
        }
        if !matches!(row, Row::Echo(_)) {
            let ratios: Vec<_> = rates_of_row
                .iter()
                .zip(&rates[0])
                .map(|(rate, echo)| format!("{:.2}", rate / echo))
                .collect();
            print!("   (x echo: {})", ratios.join(" / "));
        }
        println!();
    }
}
