//! The local read and write: the SDK through its mapping of the service file.
//!
//! The baselines are `commy_shm` calls on the very mapping the SDK uses (reached through `Service::mapped_file`,
//! which commy-client's `mapped-file` feature turns on), so both sides touch the same page of the same file; what is
//! left between them is the SDK's own work.

use super::progress::Progress;
use super::report::{Figure, Row};
use super::stats::percentiles;
use super::{warmup, VALUE};
use anyhow::Context;
use commy_client::Service;
use commy_shm::VarHandle;
use std::hint::black_box;
use std::time::Instant;

/// Operations per sample of the per-operation cases.
pub(crate) const BATCH: usize = 100;
/// The aim for the SDK's local read and write: within 1.2 times commy-shm's own call.
const LOCAL_AIM: f64 = 1.2;

fn per_op(start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / BATCH as f64
}

/// The SDK's mapping of the scratch service, and the handle of its `value` variable.
fn mapping(service: &Service) -> anyhow::Result<(commy_shm::Service, VarHandle)> {
    let raw = service
        .mapped_file()
        .context("the scratch service is not mapped: the local transport is not in use")?;
    let handle = raw.lookup(VALUE)?;
    Ok((raw, handle))
}

/// Times `n` samples (after the warm-up) of `BATCH` runs of `$baseline` and of `$sdk`, interleaved, and makes the row
/// `$case` of their medians.
macro_rules! timed_pair {
    ($n:expr, $progress:expr, $case:expr, $baseline_name:expr, $baseline:expr, $sdk:expr $(,)?) => {{
        let (mut sdk, mut base) = (Vec::with_capacity($n), Vec::with_capacity($n));
        for i in 0..warmup($n) + $n {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box($baseline);
            }
            let b = per_op(start);
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box($sdk);
            }
            let s = per_op(start);
            if i >= warmup($n) {
                base.push(b);
                sdk.push(s);
                $progress.tick();
                $progress.tick();
            }
        }
        Row {
            case: $case,
            figure: Figure::PerOp(percentiles(sdk).p50),
            baseline_name: $baseline_name,
            baseline: Figure::PerOp(percentiles(base).p50),
            aim: Some(LOCAL_AIM),
        }
    }};
}

/// `read_u64` of an 8-byte variable against `commy_shm::Service::read_into` on the same mapping.
pub(crate) async fn read(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let mut buf = [0u8; 8];
    Ok(timed_pair!(
        n,
        progress,
        "local read, 8 B",
        "commy-shm read_into, same mapping",
        raw.read_into(black_box(handle), black_box(&mut buf))?,
        service.read_u64(black_box(VALUE)).await?,
    ))
}

/// `write_u64` of an 8-byte variable against `commy_shm::Service::write` on the same mapping. Nothing watches the
/// service yet, so neither side makes a system call.
pub(crate) async fn write(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let mut value = 0u64;
    Ok(timed_pair!(
        n,
        progress,
        "local write, 8 B",
        "commy-shm write, same mapping",
        {
            value += 1;
            raw.write(black_box(handle), &value.to_le_bytes())?
        },
        {
            value += 1;
            service.write_u64(black_box(VALUE), value).await?
        },
    ))
}

/// A `Variable<u64>` handle's read against `commy_shm::Service::read_into` on the same mapping.
pub(crate) async fn handle_read(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let variable = service.variable::<u64>(VALUE).await?;
    let mut buf = [0u8; 8];
    Ok(timed_pair!(
        n,
        progress,
        "local handle read, 8 B",
        "commy-shm read_into, same mapping",
        raw.read_into(black_box(handle), black_box(&mut buf))?,
        black_box(&variable).read().await?,
    ))
}

/// A `Variable<u64>` handle's write against `commy_shm::Service::write` on the same mapping.
pub(crate) async fn handle_write(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let variable = service.variable::<u64>(VALUE).await?;
    let mut value = 0u64;
    Ok(timed_pair!(
        n,
        progress,
        "local handle write, 8 B",
        "commy-shm write, same mapping",
        {
            value += 1;
            raw.write(black_box(handle), &value.to_le_bytes())?
        },
        {
            value += 1;
            black_box(&variable).write(value).await?
        },
    ))
}

/// A `Variable<u64>` handle's `read_now` (no future) against `commy_shm::Service::read_into` on the same mapping.
pub(crate) async fn handle_read_now(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let variable = service.variable::<u64>(VALUE).await?;
    let mut buf = [0u8; 8];
    Ok(timed_pair!(
        n,
        progress,
        "local handle read_now, 8 B",
        "commy-shm read_into, same mapping",
        raw.read_into(black_box(handle), black_box(&mut buf))?,
        black_box(&variable).read_now()?,
    ))
}

/// A `Variable<u64>` handle's compare-and-set (always at the current version, so it always writes) against the
/// same handle's plain write, interleaved.
pub(crate) async fn handle_compare_and_set(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let variable = service.variable::<u64>(VALUE).await?;
    let (mut value, mut version) = variable.read_versioned_now()?;
    let mut row = timed_pair!(
        n,
        progress,
        "local compare-and-set, 8 B",
        "the handle's plain write",
        {
            value += 1;
            version = variable.write_now(black_box(value))?;
        },
        {
            value += 1;
            version = variable.compare_and_set(version, black_box(value)).await?;
        },
    );
    row.aim = None;
    Ok(row)
}

/// A `Variable<u64>` handle's `write_now` (no future) against `commy_shm::Service::write` on the same mapping.
pub(crate) async fn handle_write_now(service: &Service, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let (raw, handle) = mapping(service)?;
    let variable = service.variable::<u64>(VALUE).await?;
    let mut value = 0u64;
    Ok(timed_pair!(
        n,
        progress,
        "local handle write_now, 8 B",
        "commy-shm write, same mapping",
        {
            value += 1;
            raw.write(black_box(handle), &value.to_le_bytes())?
        },
        {
            value += 1;
            black_box(&variable).write_now(value)?
        },
    ))
}
