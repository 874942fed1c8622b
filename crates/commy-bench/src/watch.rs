//! The local watch: a write in one process reaching an SDK `Watch` in another, as a ping-pong in which both sides
//! write and watch with the SDK, against a raw futex ping-pong ([`FutexPingPong`]) between the same kind of
//! processes. One way = round trip / 2.
//!
//! Both ping-pongs run between two children of this process, pinned before they start any thread: both on one vCPU,
//! then (with two or more) on two. The placements are measured apart because on a virtual machine a wake across
//! vCPUs costs the hypervisor's wake-up of a halted vCPU when the other one is idle, and far less when it is busy, so
//! an unpinned run flips between the two. Passes of the two mechanisms alternate, so that drift hits both alike.

use super::child::{self, Role};
use super::cpus::allowed_cpus;
use super::futex::FutexPingPong;
use super::progress::Progress;
use super::report::{Figure, Row};
use super::stats::percentiles;
use super::{warmup, Target};
use anyhow::{bail, Context};
use commy_client::Service;

/// The aim for a handle's wait in its own thread: within 1.1 times the raw futex.
const HANDLE_WATCH_AIM: f64 = 1.1;

/// Passes per mechanism and placement.
const PASSES: usize = 2;

/// Where the two processes of a ping-pong run.
#[derive(Debug, Clone, Copy)]
struct Placement {
    case: &'static str,
    handle_case: &'static str,
    pinger: usize,
    echoer: usize,
}

/// Both processes on this process's first allowed vCPU; then, if it may use two, one on each.
fn placements() -> anyhow::Result<Vec<Placement>> {
    let cpus = allowed_cpus().context("cannot read this process's CPU affinity")?;
    let first = *cpus.first().context("no CPU to run on")?;
    let mut out = vec![Placement {
        case: "local watch, same vCPU, one way",
        handle_case: "local handle watch, same vCPU, one way",
        pinger: first,
        echoer: first,
    }];
    if let Some(&second) = cpus.get(1) {
        out.push(Placement {
            case: "local watch, cross vCPU, one way",
            handle_case: "local handle watch, cross vCPU, one way",
            pinger: first,
            echoer: second,
        });
    }
    Ok(out)
}

/// How many placements (rows) the local watch has on this machine.
pub(crate) fn placement_count() -> usize {
    placements().map_or(1, |p| p.len())
}

/// Two rows per placement: the `Watch`, and handles waiting in their own thread.
pub(crate) async fn rows(
    target: &Target,
    service: &Service,
    n: usize,
    progress: &Progress,
) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .context("cannot make a scratch directory")?;
    let placements = placements()?;
    // Per placement: futex, handle and `Watch` round trips.
    let mut samples: Vec<[Vec<f64>; 3]> = placements.iter().map(|_| Default::default()).collect();
    // Every handle pass (of every placement) before any `Watch` pass: a `Watch` child that exits while its watcher
    // thread sleeps leaves its waiter registration behind until a sweep, and while it stays, every write pays a
    // FUTEX_WAKE on the change counter. Each pass beside a futex pass of its own.
    for (kind, ping, echo) in [
        (1, Role::HandlePing, Role::HandleEcho),
        (2, Role::SdkPing, Role::SdkEcho),
    ] {
        for (at, got) in placements.iter().zip(&mut samples) {
            progress.case(if kind == 1 { at.handle_case } else { at.case });
            for pass in 0..PASSES {
                let rounds = n / PASSES + usize::from(pass < n % PASSES);
                let path = dir.path().join(format!("futex-{}-{kind}-{pass}", at.echoer));
                let pair = FutexPingPong::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
                let arg = path.to_string_lossy();
                got[0].extend(ping_pong(target, Role::FutexPing, Role::FutexEcho, &arg, *at, rounds).await?);
                drop(pair);
                progress.add(rounds as u64 / 2);
                got[kind].extend(ping_pong(target, ping, echo, service.name(), *at, rounds).await?);
                progress.add(rounds as u64);
            }
        }
    }
    let mut rows = Vec::new();
    for (at, [futex, handle, sdk]) in placements.iter().zip(samples) {
        let futex = percentiles(futex).scaled(0.5);
        rows.push(Row {
            case: at.case,
            figure: Figure::Latency(percentiles(sdk).scaled(0.5)),
            baseline_name: "raw futex ping-pong, same placement",
            baseline: Figure::Latency(futex),
            aim: None,
        });
        rows.push(Row {
            case: at.handle_case,
            figure: Figure::Latency(percentiles(handle).scaled(0.5)),
            baseline_name: "raw futex ping-pong, same placement",
            baseline: Figure::Latency(futex),
            aim: Some(HANDLE_WATCH_AIM),
        });
    }
    Ok(rows)
}

/// One pass: warm-up round trips, then `rounds` measured ones (ns).
async fn ping_pong(
    target: &Target,
    ping: Role,
    echo: Role,
    arg: &str,
    at: Placement,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let warm = warmup(rounds);
    let total = warm + rounds;
    let mut echoer = child::spawn(echo, arg, total, at.echoer, target)?;
    child::ready(&mut echoer).await?;
    let pinger = child::spawn(ping, arg, total, at.pinger, target)?;
    let out = pinger.wait_with_output().await?;
    if !out.status.success() {
        bail!("the {ping:?} child failed: {}", out.status);
    }
    let status = echoer.wait().await?;
    if !status.success() {
        bail!("the {echo:?} child failed: {status}");
    }
    let rtts: Vec<f64> = String::from_utf8(out.stdout)?
        .lines()
        .map(|line| line.parse::<f64>())
        .collect::<Result<_, _>>()
        .context("the pinger printed something other than round trips")?;
    if rtts.len() != total {
        bail!("the pinger reported {} round trips, not {total}", rtts.len());
    }
    Ok(rtts[warm..].to_vec())
}
