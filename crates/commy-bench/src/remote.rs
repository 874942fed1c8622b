//! The remote cases: SDK clients on the WebSocket transport, against a raw WebSocket echo over loopback with the
//! same library (tokio-tungstenite), served from a thread of this process on `127.0.0.1:0`.
//!
//! The echo carries the very frame the SDK sends for a read (the JSON `ReadVariable` request), so the baseline is
//! one loopback round trip of that many bytes through two WebSocket stacks, with no server work behind it.

use super::progress::Progress;
use super::report::{Figure, Row};
use super::stats::percentiles;
use super::{await_value, warmup, Target, DEADLINE, PING, VALUE};
use anyhow::{bail, Context};
use commy_client::{Client, Service, Transport};
use commy_proto::{encode_request, Encoding, Frame, ReadVariable, Request};
use futures_util::{SinkExt, StreamExt};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Two remote SDK clients (one reads and writes, the other watches) and a raw echo connection.
#[derive(Debug)]
pub(crate) struct Remote {
    clients: [Client; 2],
    service: Service,
    watched: Service,
    echo: Echo,
}

impl Remote {
    /// Connects the clients to the scratch service `name`, and starts the echo server.
    pub(crate) async fn connect(target: &Target, name: &str) -> anyhow::Result<Remote> {
        let writer = target.connect(Transport::Remote).await?;
        let watcher = target.connect(Transport::Remote).await?;
        let service = writer.get_service(name).await?;
        let watched = watcher.get_service(name).await?;
        let request = Request::new(
            1,
            ReadVariable {
                service_id: service.id().to_owned(),
                variable_name: VALUE.to_owned(),
            },
        );
        let payload = match encode_request(&request, Encoding::Json)? {
            Frame::Text(text) => text,
            Frame::Binary(_) => bail!("the JSON encoding gave a binary frame"),
        };
        let echo = Echo::start(payload).await?;
        Ok(Remote {
            clients: [writer, watcher],
            service,
            watched,
            echo,
        })
    }

    /// `read_u64` round trips against echo round trips, alternating.
    pub(crate) async fn read(&mut self, n: usize, progress: &Progress) -> anyhow::Result<Row> {
        let warm = warmup(n);
        let (mut sdk, mut base) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..warm + n {
            let b = self.echo.round_trip().await?;
            let start = Instant::now();
            black_box(self.service.read_u64(VALUE).await?);
            let s = start.elapsed().as_nanos() as f64;
            if i >= warm {
                base.push(b);
                sdk.push(s);
                progress.tick();
                progress.tick();
            }
        }
        Ok(Row {
            case: "remote read, round trip",
            figure: Figure::Latency(percentiles(sdk)),
            baseline_name: "raw WebSocket echo, loopback",
            baseline: Figure::Latency(percentiles(base)),
            aim: None,
        })
    }

    /// A remote handle's compare-and-set round trips (always at the current version, so each writes) against the
    /// same handle's plain write round trips, alternating.
    pub(crate) async fn compare_and_set(&mut self, n: usize, progress: &Progress) -> anyhow::Result<Row> {
        let variable = self.service.variable::<u64>(VALUE).await?;
        let mut value = variable.read().await?;
        let warm = warmup(n);
        let (mut sdk, mut base) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..warm + n {
            value += 1;
            let start = Instant::now();
            let version = variable.write(value).await?;
            let b = start.elapsed().as_nanos() as f64;
            value += 1;
            let start = Instant::now();
            variable.compare_and_set(version, value).await?;
            let s = start.elapsed().as_nanos() as f64;
            if i >= warm {
                base.push(b);
                sdk.push(s);
                progress.tick();
                progress.tick();
            }
        }
        Ok(Row {
            case: "remote compare-and-set, round trip",
            figure: Figure::Latency(percentiles(sdk)),
            baseline_name: "the handle's plain write, round trip",
            baseline: Figure::Latency(percentiles(base)),
            aim: None,
        })
    }

    /// From the start of a write by one client to the change arriving at the other client's `Watch`, against echo
    /// round trips, alternating. Write and push are both one hop each way, as an echo is.
    pub(crate) async fn watch(&mut self, n: usize, progress: &Progress) -> anyhow::Result<Row> {
        let mut watch = self.watched.watch_variable(PING).await?;
        let mut ping = self.service.read_u64(PING).await?;
        let warm = warmup(n);
        let (mut sdk, mut base) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..warm + n {
            let b = self.echo.round_trip().await?;
            ping += 1;
            let start = Instant::now();
            let (written, seen) = tokio::join!(self.service.write_u64(PING, ping), async {
                await_value(&mut watch, ping).await?;
                anyhow::Ok(start.elapsed().as_nanos() as f64)
            });
            written?;
            let s = seen.with_context(|| format!("remote watch, round {i}"))?;
            if i >= warm {
                base.push(b);
                sdk.push(s);
                progress.tick();
                progress.tick();
            }
        }
        Ok(Row {
            case: "remote watch, write -> push",
            figure: Figure::Latency(percentiles(sdk)),
            baseline_name: "raw WebSocket echo, loopback",
            baseline: Figure::Latency(percentiles(base)),
            aim: None,
        })
    }

    /// Closes the clients and stops the echo server.
    pub(crate) fn close(self) {
        for client in &self.clients {
            client.close();
        }
    }
}

/// The echo server's thread and a connection to it.
#[derive(Debug)]
struct Echo {
    ws: Ws,
    payload: Utf8Bytes,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Echo {
    /// Starts an echo server on its own thread and runtime (as a separate server would have), and connects to it as
    /// the SDK connects: Nagle off, a 4 KiB read buffer (the SDK's and the server's).
    async fn start(payload: String) -> anyhow::Result<Echo> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr: SocketAddr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-echo".into())
            .spawn(move || serve(listener, stopped))?;
        let (ws, _response) =
            tokio_tungstenite::connect_async_with_config(format!("ws://{addr}"), Some(echo_config()), true)
                .await
                .context("cannot connect to the echo server")?;
        Ok(Echo {
            ws,
            payload: payload.into(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// One echo round trip of the payload, ns.
    async fn round_trip(&mut self) -> anyhow::Result<f64> {
        let start = Instant::now();
        self.ws.send(Message::Text(self.payload.clone())).await?;
        let answer = tokio::time::timeout(DEADLINE, self.ws.next()).await;
        let elapsed = start.elapsed().as_nanos() as f64;
        match answer {
            Ok(Some(Ok(Message::Text(text)))) if text.len() == self.payload.len() => Ok(elapsed),
            Ok(other) => bail!("the echo server answered {other:?}"),
            Err(_) => bail!("no echo within {DEADLINE:?}"),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The echo's WebSocket settings on both ends: the 4 KiB read buffer the SDK and the Commy server read with, so that
/// the baseline pays no more per message than they do (tungstenite zeroes its whole read buffer before every read).
fn echo_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 << 10)
}

/// The echo server: every text or binary message goes straight back.
fn serve(listener: std::net::TcpListener, stopped: oneshot::Receiver<()>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let accept = async {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(echo(stream));
            }
        };
        tokio::select! {
            _ = stopped => {}
            _ = accept => {}
        }
    });
}

async fn echo(stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(echo_config())).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text() || message.is_binary() {
            if ws.send(message).await.is_err() {
                return;
            }
        } else if message.is_close() {
            return;
        }
    }
}
