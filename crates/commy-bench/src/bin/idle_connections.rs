//! Server memory per idle authenticated WebSocket connection.
//!
//! Starts `commy serve` (a fresh data directory, `127.0.0.1:0`) once per case, reads its resident memory (`VmRSS`),
//! opens `--connections` WebSocket connections that each authenticate and then only answer pings, reads the memory
//! again once they are all open, and prints the difference per connection. The cases, in one run:
//!
//! - plain `ws://` with the server's buffer sizes (the figure);
//! - plain `ws://` with the WebSocket library's default buffers, 128 KiB each (the baseline: the settings before);
//! - `wss://` with the server's buffer sizes (TLS keeps its own record buffers).
//!
//! ```sh
//! cargo build -p commy -p commy-bench
//! target/debug/idle-connections --commy target/debug/commy --connections 10000
//! ```
//!
//! It raises its own open-files limit to the hard one; the server does the same. Each connection is a task that
//! reads, so it answers the server's pings as a live client would.

use anyhow::{bail, Context};
use clap::Parser;
use commy_proto::{decode_reply, encode_request, Authenticate, Credential, Encoding, Frame, Request, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const ADMIN_KEY: &str = "commy-bench-admin-key-0123456789abcdef0123456789abcdef";

/// Flags.
#[derive(Debug, Parser)]
#[command(about = "Server memory per idle authenticated WebSocket connection, plain and TLS")]
struct Args {
    /// The `commy` binary to start.
    #[arg(long, env = "COMMY_BIN", default_value = "target/debug/commy")]
    commy: PathBuf,
    /// Connections per case.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    /// Run only these cases (1, 2, 3 in the order above); all by default.
    #[arg(long = "case", value_parser = clap::value_parser!(u8).range(1..=3))]
    cases: Vec<u8>,
    /// Hold the connections without authenticating them (with a long `--auth-timeout`), to tell what a login costs
    /// apart from what a connection costs.
    #[arg(long)]
    unauthenticated: bool,
    /// Extra flags for `commy serve`, for experiments (for example `--extra=--ws-read-buffer-size=1024`).
    #[arg(long, allow_hyphen_values = true)]
    extra: Vec<String>,
}

/// One configuration of the server.
struct Case {
    name: &'static str,
    tls: bool,
    flags: &'static [&'static str],
}

const CASES: [Case; 3] = [
    Case {
        name: "ws://, server buffers (4 KiB)",
        tls: false,
        flags: &[],
    },
    Case {
        name: "ws://, library default buffers (128 KiB) [baseline]",
        tls: false,
        flags: &["--ws-read-buffer-size", "131072", "--ws-write-buffer-size", "131072"],
    },
    Case {
        name: "wss://, server buffers (4 KiB)",
        tls: true,
        flags: &["--tls-self-signed"],
    },
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let limit = raise_open_files_limit();
    println!(
        "{} idle authenticated connections per case; open-files limit {limit}",
        args.connections
    );
    let runtime = tokio::runtime::Runtime::new()?;
    println!(
        "{:<54} {:>12} {:>12} {:>14}",
        "case", "RSS before", "RSS after", "per connection"
    );
    for (number, case) in (1..).zip(&CASES) {
        if !args.cases.is_empty() && !args.cases.contains(&number) {
            continue;
        }
        let (before, after) = runtime.block_on(measure(&args, case))?;
        let per = (after.saturating_sub(before)) as f64 / args.connections as f64;
        println!(
            "{:<54} {:>9} KiB {:>9} KiB {:>10.1} KiB",
            case.name,
            before / 1024,
            after / 1024,
            per / 1024.0
        );
    }
    Ok(())
}

/// Raises the soft open-files limit to the hard one; returns it.
fn raise_open_files_limit() -> String {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let _ = setrlimit(Resource::Nofile, raised);
    match getrlimit(Resource::Nofile).current {
        Some(n) => n.to_string(),
        None => "unlimited".into(),
    }
}

/// The server's resident memory before and after the connections are open, in bytes.
async fn measure(args: &Args, case: &Case) -> anyhow::Result<(u64, u64)> {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("data");
    let max = (args.connections + 100).to_string();
    let mut command = Command::new(&args.commy);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--listen", "127.0.0.1:0", "--max-connections", &max])
        .args(case.flags)
        .args(&args.extra)
        .env("COMMY_ADMIN_KEY", ADMIN_KEY)
        .env("COMMY_LOG", "warn,commy_server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if args.unauthenticated {
        command.args(["--auth-timeout", "3600", "--max-unauthenticated-connections", &max]);
    }
    let mut server = Server(
        command
            .spawn()
            .with_context(|| format!("cannot start {}", args.commy.display()))?,
    );
    let addr = server.addr()?;
    let tls = if case.tls {
        Some(tls_connector(&data_dir.join("cert.pem"))?)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(server.0.id())?;

    let (opened, mut ready) = mpsc::channel(args.connections);
    let permits = Arc::new(Semaphore::new(args.parallel.max(1)));
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let permit = permits.clone().acquire_owned().await?;
        let opened = opened.clone();
        let tls = tls.clone();
        let authenticate = !args.unauthenticated;
        tasks.push(tokio::spawn(async move {
            let result = match tls {
                None => match TcpStream::connect(addr).await {
                    Ok(stream) => hold(stream, addr, "ws", authenticate, permit, &opened).await,
                    Err(err) => Err(err.into()),
                },
                Some(tls) => match connect_tls(&tls, addr).await {
                    Ok(stream) => hold(stream, addr, "wss", authenticate, permit, &opened).await,
                    Err(err) => Err(err),
                },
            };
            if let Err(err) = result {
                let _ = opened.send(Err(err)).await;
            }
        }));
    }
    drop(opened);
    for _ in 0..args.connections {
        match ready.recv().await {
            Some(Ok(())) => {}
            Some(Err(err)) => bail!("{}: a connection failed: {err:#}", case.name),
            None => bail!("{}: the connections ended early", case.name),
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(server.0.id())?;
    for task in tasks {
        task.abort();
    }
    Ok((before, after))
}

/// Opens `/ws` over `stream`, authenticates, reports, then reads (answering pings) until the connection ends.
async fn hold<S>(
    stream: S,
    addr: SocketAddr,
    scheme: &str,
    authenticate: bool,
    permit: tokio::sync::OwnedSemaphorePermit,
    opened: &mpsc::Sender<anyhow::Result<()>>,
) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("{scheme}://localhost:{}/ws", addr.port()).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("commy.v1.json"));
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    let login = Request::new(
        1,
        Authenticate {
            tenant_id: None,
            client_version: "idle-connections".into(),
            credential: Credential::ApiKey { key: ADMIN_KEY.into() },
        },
    );
    let Frame::Text(text) = encode_request(&login, Encoding::Json)? else {
        bail!("JSON encodes to text")
    };
    if authenticate {
        ws.send(Message::text(text)).await?;
        expect_login(&mut ws).await?;
    }
    drop(permit);
    opened.send(Ok(())).await?;
    while let Some(Ok(_)) = ws.next().await {}
    Ok(())
}

/// Reads until the reply to the login, which must be a success.
async fn expect_login<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let reply = decode_reply(text.as_bytes(), Encoding::Json)?;
                match reply.message {
                    ServerMessage::AuthenticationResult(result) if result.success => return Ok(()),
                    other => bail!("authentication refused: {other:?}"),
                }
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.into()),
            None => bail!("the server closed the connection before authenticating it"),
        }
    }
}

/// A TLS connector trusting the server's development certificate.
fn tls_connector(cert: &Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).with_context(|| format!("cannot read {}", cert.display()))? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn connect_tls(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    Ok(connector.connect(ServerName::try_from("localhost")?, stream).await?)
}

/// A resident set size in bytes, from `/proc/<pid>/status`.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .context("no VmRSS line")?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse()?;
    Ok(kib * 1024)
}

/// The server process, killed when dropped.
struct Server(Child);

impl Server {
    /// Reads the log until the server says where it serves; keeps draining the log afterwards.
    fn addr(&mut self) -> anyhow::Result<SocketAddr> {
        let stderr = self.0.stderr.take().context("the server's stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line?;
            if let Some(rest) = line.split("commy serving addr=").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default().parse()?;
                std::thread::spawn(move || for _ in lines {});
                return Ok(addr);
            }
        }
        bail!("the server ended without saying where it serves")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
