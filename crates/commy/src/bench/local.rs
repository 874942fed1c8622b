//! The local cases: the SDK reading and writing through its mapping of the service file, and watching across two
//! processes.
//!
//! The read and write baselines are `commy_shm` calls on the very mapping the SDK uses (reached through the
//! doc-hidden `Service::mapped_file`), so both sides touch the same page of the same file; what is left between them
//! is the SDK's own work. The watch baseline is a raw futex ping-pong between this process and a child, on a scratch
//! file in `/dev/shm` (`commy_shm::bench_support`).

use super::child::{self, Role};
use super::progress::Progress;
use super::report::{Figure, Row};
use super::stats::percentiles;
use super::{await_value, Target, DEADLINE, PING, PONG, VALUE};
use anyhow::{bail, Context};
use commy_client::Service;
use commy_shm::bench_support::FutexPingPong;
use commy_shm::VarHandle;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Operations per sample of the per-operation cases.
pub(crate) const BATCH: usize = 100;
/// The aim for the SDK's local read and write: within 1.2 times commy-shm's own call.
const LOCAL_AIM: f64 = 1.2;
/// Ping-pong passes per mechanism, interleaved, so that a noisy machine's drift hits both alike.
const PASSES: usize = 2;

/// Batches (or round trips) run before measuring: first touches, caches, the child attaching.
fn warmup(n: usize) -> usize {
    (n / 10).clamp(5, 1_000)
}

fn per_op(start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / BATCH as f64
}

/// The SDK's mapping of the scratch service, and the handle of its `value` variable.
fn mapping(service: &Service) -> anyhow::Result<(commy_shm::Service, VarHandle)> {
    let raw = service
        .mapped_file()
        .context("the scratch service is not mapped: the local transport is not in use")?
        .clone();
    let handle = raw.lookup(VALUE)?;
    Ok((raw, handle))
}

/// `read_u64` of an 8-byte variable against `commy_shm::Service::read_into` on the same mapping.
pub(crate) async fn read(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let mut buf = [0u8; 8];
    let (mut sdk, mut base) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..warmup(n) + n {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(raw.read_into(black_box(handle), black_box(&mut buf))?);
        }
        let b = per_op(start);
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(service.read_u64(black_box(VALUE)).await?);
        }
        let s = per_op(start);
        if i >= warmup(n) {
            base.push(b);
            sdk.push(s);
            progress.tick();
            progress.tick();
        }
    }
    Ok(Row {
        case: "local read, 8 B",
        figure: Figure::PerOp(percentiles(sdk).p50),
        baseline_name: "commy-shm read_into, same mapping",
        baseline: Figure::PerOp(percentiles(base).p50),
        aim: Some(LOCAL_AIM),
    })
}

/// `write_u64` of an 8-byte variable against `commy_shm::Service::write` on the same mapping. Nothing watches the
/// service yet, so neither side makes a system call.
pub(crate) async fn write(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let (mut sdk, mut base) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut value = 0u64;
    for i in 0..warmup(n) + n {
        let start = Instant::now();
        for _ in 0..BATCH {
            value += 1;
            black_box(raw.write(black_box(handle), &value.to_le_bytes())?);
        }
        let b = per_op(start);
        let start = Instant::now();
        for _ in 0..BATCH {
            value += 1;
            black_box(service.write_u64(black_box(VALUE), value).await?);
        }
        let s = per_op(start);
        if i >= warmup(n) {
            base.push(b);
            sdk.push(s);
            progress.tick();
            progress.tick();
        }
    }
    Ok(Row {
        case: "local write, 8 B",
        figure: Figure::PerOp(percentiles(sdk).p50),
        baseline_name: "commy-shm write, same mapping",
        baseline: Figure::PerOp(percentiles(base).p50),
        aim: Some(LOCAL_AIM),
    })
}

/// A write in one process reaching an SDK `Watch` in another, as a ping-pong (both sides write with the SDK and
/// watch with the SDK), against a raw futex ping-pong between the same two kinds of process.
pub(crate) async fn watch(
    target: &Target,
    service: &Service,
    n: usize,
    progress: &Progress,
) -> anyhow::Result<Row> {
    let dir = scratch_dir()?;
    let (mut futex, mut sdk) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut ping = service.read_u64(PING).await?;
    for pass in 0..PASSES {
        let rounds = n / PASSES + usize::from(pass < n % PASSES);
        let path = dir.path().join(format!("futex-{pass}"));
        let ticker = progress.clone();
        let pass_rtts = tokio::task::spawn_blocking(move || futex_pass(path, rounds, &ticker))
            .await
            .context("the futex ping-pong thread failed")??;
        futex.extend(pass_rtts);
        sdk.extend(sdk_pass(target, service, &mut ping, rounds, progress).await?);
    }
    Ok(Row {
        case: "local watch, 2 processes, one way",
        figure: Figure::Latency(percentiles(sdk).scaled(0.5)),
        baseline_name: "raw futex ping-pong, 2 processes",
        baseline: Figure::Latency(percentiles(futex).scaled(0.5)),
        aim: None,
    })
}

/// A directory for the futex files: tmpfs when there is one, so that writeback never touches the mapped page.
fn scratch_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .context("cannot make a scratch directory")
}

/// One pass of the futex ping-pong: warm-up rounds, then `rounds` measured round trips (ns).
fn futex_pass(path: PathBuf, rounds: usize, progress: &Progress) -> anyhow::Result<Vec<f64>> {
    let pair = FutexPingPong::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let warm = warmup(rounds);
    let total = warm + rounds;
    let mut echo = child::command(Role::Futex, &path.to_string_lossy(), total, None)?
        .spawn()
        .context("cannot start the child process")?;
    let mut rtts = Vec::with_capacity(rounds);
    for i in 1..=total {
        let start = Instant::now();
        if !pair.round(i as u32, start + DEADLINE) {
            let _ = echo.kill();
            let _ = echo.wait();
            bail!("futex ping-pong: no echo of round {i} within {DEADLINE:?}");
        }
        if i > warm {
            rtts.push(start.elapsed().as_nanos() as f64);
            progress.tick();
        }
    }
    let status = echo.wait()?;
    if !status.success() {
        bail!("the futex ping-pong child failed: {status}");
    }
    Ok(rtts)
}

/// One pass of the SDK ping-pong: this process writes `ping` and waits for `pong` on a `Watch`; the child waits
/// for `ping` on a `Watch` and writes its value to `pong`.
async fn sdk_pass(
    target: &Target,
    service: &Service,
    ping: &mut u64,
    rounds: usize,
    progress: &Progress,
) -> anyhow::Result<Vec<f64>> {
    let mut pong = service.watch_variable(PONG).await?;
    let warm = warmup(rounds);
    let total = warm + rounds;
    let mut echo = child::spawn_sdk_echo(target, service.name(), total).await?;
    let mut rtts = Vec::with_capacity(rounds);
    for i in 1..=total {
        *ping += 1;
        let start = Instant::now();
        service.write_u64(PING, *ping).await?;
        await_value(&mut pong, *ping)
            .await
            .with_context(|| format!("SDK ping-pong, round {i}"))?;
        if i > warm {
            rtts.push(start.elapsed().as_nanos() as f64);
            progress.tick();
        }
    }
    let status = echo.wait().await?;
    if !status.success() {
        bail!("the SDK ping-pong child failed: {status}");
    }
    Ok(rtts)
}
