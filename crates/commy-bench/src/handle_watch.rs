//! The local watch through variable handles: both sides of the ping-pong write with `Variable::write` and wait with
//! `Variable::wait_change_blocking`, which sleeps on the mapped file's change signal in the caller's own thread (no
//! watcher thread, no queue). The children of `Role::HandlePing` and `Role::HandleEcho` run these.

use super::{DEADLINE, PING, PONG};
use anyhow::{bail, Context};
use commy_client::{Service, Variable};
use std::time::Instant;

/// The pinger: writes `ping`, waits in this thread until `pong` holds the same value; returns each round trip (ns).
pub(crate) async fn ping(service: &Service, rounds: u32) -> anyhow::Result<Vec<u64>> {
    let ping = service.variable::<u64>(PING).await?;
    let pong = service.variable::<u64>(PONG).await?;
    let (mut value, _) = ping.read_versioned().await?;
    let (_, mut seen) = pong.read_versioned().await?;
    let mut rtts = Vec::with_capacity(rounds as usize);
    for i in 1..=rounds {
        value += 1;
        let start = Instant::now();
        ping.write(value).await?;
        loop {
            let (echoed, version) = wait(&pong, seen).with_context(|| format!("handle ping-pong, round {i}"))?;
            seen = version;
            if echoed == value {
                break;
            }
        }
        rtts.push(start.elapsed().as_nanos() as u64);
    }
    Ok(rtts)
}

/// The echoer: waits in this thread for each change of `ping` and writes its value to `pong`. Prints `ready` first.
pub(crate) async fn echo(service: &Service, rounds: u32, ready: &str) -> anyhow::Result<()> {
    let ping = service.variable::<u64>(PING).await?;
    let pong = service.variable::<u64>(PONG).await?;
    let (_, mut seen) = ping.read_versioned().await?;
    println!("{ready}");
    for _ in 0..rounds {
        let (value, version) = wait(&ping, seen)?;
        seen = version;
        pong.write(value).await?;
    }
    Ok(())
}

fn wait(variable: &Variable<u64>, seen: u64) -> anyhow::Result<(u64, u64)> {
    match variable.wait_change_blocking(seen, DEADLINE)? {
        Some(changed) => Ok(changed),
        None => bail!("'{}' did not change within {DEADLINE:?}", variable.name()),
    }
}
