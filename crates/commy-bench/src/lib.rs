//! The benchmarks of `commy bench`: the SDK's figures against a live server, each printed beside a baseline
//! measured in the same run. The `commy` CLI parses [`BenchArgs`] and calls [`run`]; nothing here ships in the
//! server or the SDK.
//!
//! | case | figure | baseline (same run) |
//! |---|---|---|
//! | local read, 8 B | `Service::read_u64`, ns/op | `commy_shm::Service::read_into` through the SDK's own mapping |
//! | local write, 8 B | `Service::write_u64`, ns/op | `commy_shm::Service::write` through the SDK's own mapping |
//! | local handle read, 8 B | `Variable::<u64>::read`, ns/op | `commy_shm::Service::read_into` through the SDK's own mapping |
//! | local handle write, 8 B | `Variable::<u64>::write`, ns/op | `commy_shm::Service::write` through the SDK's own mapping |
//! | local handle read_now, 8 B | `Variable::<u64>::read_now` (no future), ns/op | `commy_shm::Service::read_into` through the SDK's own mapping |
//! | local handle write_now, 8 B | `Variable::<u64>::write_now` (no future), ns/op | `commy_shm::Service::write` through the SDK's own mapping |
//! | local compare-and-set, 8 B | `Variable::<u64>::compare_and_set`, ns/op | the same handle's plain write (`write_now`) |
//! | local watch (same vCPU, cross vCPU) | write -> `Watch` in another process, one way | a raw futex ping-pong between two processes, pinned alike |
//! | local handle watch (same vCPU, cross vCPU) | handle write -> `Variable::wait_change_blocking` in another process, one way | the same raw futex ping-pong |
//! | remote read | `Service::read_u64` round trip | a raw WebSocket echo round trip over loopback |
//! | remote compare-and-set | a remote handle's `compare_and_set` round trip | the same handle's `write` round trip |
//! | remote watch | write by one client -> push to another | a raw WebSocket echo round trip over loopback |
//! | login | `Authenticate` (API key) round trip | a `Heartbeat` round trip on the same connection |
//!
//! `--only login` runs the login case alone, without a scratch service.
//!
//! The bench makes a scratch service in the tenant, allocates its variables, and deletes it at the end, failed or
//! not. The cross-process cases re-execute the running program as `<program> bench --child <role> ...` for both
//! processes, so a program that calls [`run`] must hand its `bench` subcommand's arguments to it, as `commy` does.
//!
//! It reaches below the SDK only through documented, safe doors: the SDK's own mapping through commy-client's
//! `mapped-file` feature (`Service::mapped_file`), the raw futex through commy-shm's `raw-futex` feature
//! (`commy_shm::raw_futex::FutexWords`). The crate has no unsafe code.

mod child;
mod cpus;
mod futex;
mod handle_watch;
mod local;
mod login;
mod progress;
mod remote;
mod report;
mod stats;
mod watch;

use anyhow::{bail, Context};
use clap::Args;
use commy_client::{Allocation, Client, Credentials, Service, Transport, Watch};
use progress::Progress;
use report::Row;
use std::time::Duration;

/// Flags of `commy bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The server's URL. The server must run on this machine: the local cases use its Unix socket.
    #[arg(long, env = "COMMY_URL", default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// The API key (read, write, create_service and delete_service in the tenant).
    #[arg(long, env = "COMMY_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The tenant to make the scratch service in.
    #[arg(long, env = "COMMY_TENANT")]
    tenant: Option<String>,
    /// Samples per case and per side: round trips for the latency cases, batches of 100 operations for the
    /// per-operation cases.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    iterations: u32,
    /// Print the results as one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Run only this case.
    #[arg(long, value_enum)]
    only: Option<OnlyCase>,
    /// The part this process plays when the bench started it as its second process.
    #[arg(long, hide = true, value_enum)]
    child: Option<child::Role>,
    /// The child's argument: the futex file, or the scratch service's name.
    #[arg(long, hide = true)]
    child_arg: Option<String>,
    /// Round trips the child runs before it exits.
    #[arg(long, hide = true)]
    child_rounds: Option<u32>,
    /// The vCPU the child pins itself to.
    #[arg(long, hide = true)]
    child_cpu: Option<usize>,
}

/// The cases `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnlyCase {
    /// `Authenticate` beside `Heartbeat`, round trips on one connection.
    Login,
}

/// How to reach the server and who to be, checked.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    url: String,
    key: String,
    tenant: String,
}

impl Target {
    fn from_args(args: &BenchArgs) -> anyhow::Result<Target> {
        let key = match &args.key {
            Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
            _ => bail!("no API key: pass --key or set COMMY_KEY"),
        };
        let tenant = match &args.tenant {
            Some(tenant) if !tenant.is_empty() => tenant.clone(),
            _ => bail!("no tenant: pass --tenant or set COMMY_TENANT"),
        };
        Ok(Target {
            url: args.url.clone(),
            key,
            tenant,
        })
    }

    /// A client authenticated to the tenant over `transport`.
    pub(crate) async fn connect(&self, transport: Transport) -> anyhow::Result<Client> {
        let client = Client::builder(&self.url).transport(transport).connect().await?;
        client
            .authenticate(Some(&self.tenant), Credentials::api_key(&self.key))
            .await
            .with_context(|| match transport {
                Transport::Local => {
                    "cannot use the server's local socket (commy bench must run on the server's machine)"
                }
                Transport::Remote => "authentication failed",
            })?;
        Ok(client)
    }
}

/// The variables of the scratch service, all `u64`.
pub(crate) const VALUE: &str = "value";
pub(crate) const PING: &str = "ping";
pub(crate) const PONG: &str = "pong";

/// The longest any one round trip may take before the run is abandoned (generous: the first includes exec).
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// The value of the next change on `watch`.
pub(crate) async fn await_any(watch: &mut Watch) -> anyhow::Result<u64> {
    match tokio::time::timeout(DEADLINE, watch.next_change()).await {
        Ok(Some(change)) => Ok(change.as_u64()?),
        Ok(None) => bail!("the watch ended"),
        Err(_) => bail!("no change within {DEADLINE:?}"),
    }
}

/// Waits on `watch` until its variable holds `value` (earlier values, from before the watch, are skipped).
pub(crate) async fn await_value(watch: &mut Watch, value: u64) -> anyhow::Result<()> {
    while await_any(watch).await? != value {}
    Ok(())
}

/// Runs `commy bench` and prints its results, or plays the part of a child process when started as one (the hidden
/// `--child` flags).
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(role) = args.child {
        return child::run(role, &args);
    }
    let runtime = runtime()?;
    let target = Target::from_args(&args)?;
    let rows = match args.only {
        Some(OnlyCase::Login) => runtime.block_on(login_only(&target, args.iterations))?,
        None => runtime.block_on(bench(&target, args.iterations))?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&rows))?);
    } else {
        print!("{}", report::table(&rows, args.iterations));
    }
    Ok(())
}

/// The runtime `#[tokio::main]` would build: multi-threaded, one worker per core.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Samples (batches or round trips) run before measuring: first touches, caches, connections warming up.
pub(crate) fn warmup(n: usize) -> usize {
    (n / 10).clamp(5, 1_000)
}

async fn bench(target: &Target, iterations: u32) -> anyhow::Result<Vec<Row>> {
    let client = target.connect(Transport::Local).await?;
    let name = format!("commy-bench-{}", std::process::id());
    let service = client
        .create_service(&name)
        .await
        .with_context(|| format!("cannot create the scratch service '{name}'"))?;
    let result = async {
        for variable in [VALUE, PING, PONG] {
            service.allocate(variable, Allocation::u64(0)).await?;
        }
        cases(target, &service, iterations).await
    }
    .await;
    let deleted = client.delete_service(&name).await;
    client.close();
    let rows = result?;
    deleted.with_context(|| format!("cannot delete the scratch service '{name}'"))?;
    Ok(rows)
}

/// The login case alone.
async fn login_only(target: &Target, iterations: u32) -> anyhow::Result<Vec<Row>> {
    let n = iterations as usize;
    let progress = Progress::new(2 * n as u64);
    progress.case("login");
    let row = login::login(target, n, &progress).await;
    progress.finish();
    Ok(vec![row?])
}

/// The cases, in an order that keeps them apart: the local read and write run before anything watches the service
/// (a watcher makes every write wake it).
async fn cases(target: &Target, service: &Service, iterations: u32) -> anyhow::Result<Vec<Row>> {
    let n = iterations as usize;
    // Every case takes n samples of the SDK and n of its baseline.
    let progress =
        Progress::new(2 * n as u64 * (11 + watch::placement_count() as u64) + (n * watch::placement_count()) as u64);
    let rows = async {
        let mut rows = Vec::new();
        progress.case("local read");
        rows.push(local::read(service, n, &progress).await?);
        progress.case("local write");
        rows.push(local::write(service, n, &progress).await?);
        progress.case("local handle read");
        rows.push(local::handle_read(service, n, &progress).await?);
        progress.case("local handle write");
        rows.push(local::handle_write(service, n, &progress).await?);
        progress.case("local handle read_now");
        rows.push(local::handle_read_now(service, n, &progress).await?);
        progress.case("local handle write_now");
        rows.push(local::handle_write_now(service, n, &progress).await?);
        progress.case("local compare-and-set");
        rows.push(local::handle_compare_and_set(service, n, &progress).await?);
        rows.extend(watch::rows(target, service, n, &progress).await?);
        let mut remote = remote::Remote::connect(target, service.name()).await?;
        progress.case("remote read");
        rows.push(remote.read(n, &progress).await?);
        progress.case("remote compare-and-set");
        rows.push(remote.compare_and_set(n, &progress).await?);
        progress.case("remote watch");
        rows.push(remote.watch(n, &progress).await?);
        remote.close();
        progress.case("login");
        rows.push(login::login(target, n, &progress).await?);
        anyhow::Ok(rows)
    }
    .await;
    // Cleared on an error too, so that the message is not printed behind a half-drawn bar.
    progress.finish();
    rows
}
