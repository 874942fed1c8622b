//! Cross-server write -> push latency in a cluster of `commy serve --cluster` processes, beside NATS KV put -> watch
//! on the same nats-server and beside the single-server push, in one run (docs/performance.md).
//!
//! Starts a nats-server (`-js`, a fresh store, a free loopback port) and two `commy serve --cluster` processes on
//! fresh data directories, makes the same tenant, service and `u64` variable on both, and measures, one write at a
//! time (the next after the previous push arrived):
//!
//! 1. **cross-server**: an SDK client writes on server A, a subscriber on server B gets the push;
//! 2. **same cluster server**: the same write on A, a subscriber on A gets the push (the write still goes through
//!    NATS first);
//! 3. **single server** (baseline): a `commy serve` without `--cluster`, a writer and a subscriber on it;
//! 4. **NATS KV** (baseline): `commy-cluster`'s link puts a value in `commy-vars`, another link's watch sees it (the baseline:
//!    what NATS itself costs for the same hop).
//!
//! ```sh
//! cargo build -p commy -p commy-bench
//! target/debug/cluster-push --commy target/debug/commy --nats-server "$(scripts/nats-server.sh)" --writes 500
//! ```

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use commy_client::{Allocation, Client, Credentials, Error, Permission, Service, Transport};
use commy_cluster::{ClusterLink, VariableKey};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_KEY: &str = "commy-bench-admin-key-0123456789abcdef0123456789abcdef";

/// Flags.
#[derive(Debug, Parser)]
#[command(about = "Cross-server write -> push latency beside NATS KV put -> watch and the single-server push")]
struct Args {
    /// The `commy` binary to start.
    #[arg(long, env = "COMMY_BIN", default_value = "target/debug/commy")]
    commy: PathBuf,
    /// The nats-server binary (scripts/nats-server.sh prints one).
    #[arg(long, env = "COMMY_NATS_SERVER")]
    nats_server: PathBuf,
    /// Writes per case.
    #[arg(long, default_value_t = 500)]
    writes: usize,
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_nats(binary: &Path, dir: &Path) -> anyhow::Result<(Running, String)> {
    let port = free_port()?;
    let child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nats-server did not listen on port {port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((running, format!("nats://127.0.0.1:{port}")))
}

/// `commy serve` on `dir`; with `cluster` (NATS URL, key file) a cluster member.
fn start_commy(commy: &Path, dir: &Path, cluster: Option<(&str, &Path)>) -> anyhow::Result<(Running, SocketAddr)> {
    let mut command = Command::new(commy);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"]);
    if let Some((nats, key_file)) = cluster {
        command.args(["--cluster", nats, "--cluster-key-file"]).arg(key_file);
    }
    let mut child = command
        .env("COMMY_ADMIN_KEY", ADMIN_KEY)
        .env("COMMY_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", commy.display()))?;
    let stderr = child.stderr.take().context("the server's stderr")?;
    let running = Running(child);
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("commy serving").nth(1) {
                let addr = rest.split_whitespace().find_map(|w| w.strip_prefix("addr="));
                if let Some(addr) = addr.and_then(|a| a.parse::<SocketAddr>().ok()) {
                    let _ = found.send(addr);
                }
            }
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(30))
        .context("commy serve did not say where it listens within 30 s")?;
    Ok((running, addr))
}

async fn login(addr: SocketAddr, tenant: Option<&str>, key: &str) -> anyhow::Result<Client> {
    let client = Client::builder(&format!("ws://{addr}"))
        .transport(Transport::Remote)
        .connect()
        .await?;
    client.authenticate(tenant, Credentials::api_key(key)).await?;
    Ok(client)
}

/// The tenant `bench`, a key, the service `cluster` and the variable `x` on one server; a tenant client's service.
async fn set_up(addr: SocketAddr) -> anyhow::Result<(Client, Service)> {
    let admin = login(addr, None, ADMIN_KEY).await?;
    match admin.create_tenant("bench", "bench").await {
        Ok(_) | Err(Error::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let permissions = [Permission::CreateService, Permission::Read, Permission::Write];
    let key = admin.create_api_key("bench", "bench", &permissions, None).await?.key;
    let client = login(addr, Some("bench"), &key).await?;
    let service = match client.create_service("cluster").await {
        Ok(service) => service,
        Err(Error::AlreadyExists(_)) => client.get_service("cluster").await?,
        Err(e) => return Err(e.into()),
    };
    match service.allocate("x", Allocation::u64(0)).await {
        Ok(_) | Err(Error::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok((client, service))
}

/// Write -> push latencies: `writer` writes 1, 2, ... and `subscriber` must see each before the next.
async fn push_latencies(
    writer: &Service,
    subscriber: &Service,
    writes: usize,
    from: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut watch = subscriber.watch_variable("x").await?;
    let mut times = Vec::with_capacity(writes);
    for n in from..from + writes as u64 {
        let started = Instant::now();
        writer.write("x", n).await?;
        loop {
            let change = tokio::time::timeout(Duration::from_secs(10), watch.next_change())
                .await
                .context("no push within 10 s")?
                .context("the watch ended")?;
            if change.as_u64()? == n {
                break;
            }
        }
        times.push(started.elapsed());
    }
    Ok(times)
}

async fn nats_latencies(nats: &str, writes: usize) -> anyhow::Result<Vec<Duration>> {
    let writer = ClusterLink::connect(&[nats], commy_cluster::Credentials::None).await?;
    let reader = ClusterLink::connect(&[nats], commy_cluster::Credentials::None).await?;
    let key = VariableKey::new("bench-nats", "kv", "x");
    let mut watch = reader
        .watch_variables(reader.last_variable_revision().await? + 1)
        .await?;
    let mut times = Vec::with_capacity(writes);
    for n in 0..writes as u64 {
        let started = Instant::now();
        let revision = writer
            .put_variable(&key, Bytes::from(n.to_le_bytes().to_vec()), None)
            .await?;
        loop {
            let change = tokio::time::timeout(Duration::from_secs(10), watch.next())
                .await
                .context("no change")??;
            if change.revision >= revision {
                break;
            }
        }
        times.push(started.elapsed());
    }
    Ok(times)
}

fn report(case: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "{case:<44} median {:>8.1} µs   p99 {:>8.1} µs   ({} writes)",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        times.len()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = tempfile::tempdir()?;
    let key_file = scratch.path().join("cluster.key");
    std::fs::write(&key_file, "5a".repeat(32))?;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))?;
    let nats_dir = scratch.path().join("nats");
    let (_nats, nats) = start_nats(&args.nats_server, &nats_dir)?;
    let (a_dir, b_dir) = (scratch.path().join("a"), scratch.path().join("b"));
    let cluster = Some((nats.as_str(), key_file.as_path()));
    let (_a, a) = start_commy(&args.commy, &a_dir, cluster)?;
    let (_b, b) = start_commy(&args.commy, &b_dir, cluster)?;
    let (_s, single) = start_commy(&args.commy, &scratch.path().join("single"), None)?;
    let (_ca, on_a) = set_up(a).await?;
    let (_cb, on_b) = set_up(b).await?;
    let (_cs, also_on_a) = set_up(a).await?;
    let (_c1, on_single) = set_up(single).await?;
    let (_c2, also_on_single) = set_up(single).await?;

    let writes = args.writes;
    // A warm-up of each path first, not counted.
    push_latencies(&on_a, &on_b, 20, 1_000_000).await?;
    let mut cross = push_latencies(&on_a, &on_b, writes, 1).await?;
    let mut same = push_latencies(&on_a, &also_on_a, writes, 2_000_000).await?;
    push_latencies(&on_single, &also_on_single, 20, 1_000_000).await?;
    let mut single = push_latencies(&on_single, &also_on_single, writes, 1).await?;
    nats_latencies(&nats, 20).await?;
    let mut kv = nats_latencies(&nats, writes).await?;
    report("cross-server write -> push (A -> B)", &mut cross);
    report("same cluster server write -> push (A -> A)", &mut same);
    report("baseline: single server, no cluster", &mut single);
    report("baseline: NATS KV put -> watch (same NATS)", &mut kv);
    Ok(())
}
