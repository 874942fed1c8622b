//! The processes of the cross-process cases: this same binary, started as
//! `commy bench --child <role> --child-arg <arg> --child-rounds <n> [--child-cpu <vcpu>]`.
//!
//! Each ping-pong runs between two such children, a pinger and an echoer, so that both can be pinned to a vCPU before
//! they start any thread (a process that runs the SDK has several). The echoer prints [`READY`] once it can see a
//! ping; the pinger then runs its rounds and prints every round trip, in nanoseconds, one per line, when done.

use super::cpus::pin_to_cpu;
use super::futex::FutexPingPong;
use super::handle_watch;
use super::{await_any, await_value, BenchArgs, Target, DEADLINE, PING, PONG};
use anyhow::{bail, Context};
use clap::ValueEnum;
use commy_client::Transport;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader};

/// What a child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
    /// Pings through the raw futex words of the file at `--child-arg`.
    FutexPing,
    /// Echoes through the raw futex words of the file at `--child-arg`.
    FutexEcho,
    /// An SDK client on the local transport, in the service `--child-arg`: writes `ping`, waits for `pong` on a
    /// `Watch`.
    SdkPing,
    /// An SDK client on the local transport, in the service `--child-arg`: waits for `ping` on a `Watch`, writes its
    /// value to `pong`.
    SdkEcho,
    /// Like `SdkPing`, through variable handles, waiting in its own thread (`Variable::wait_change_blocking`).
    HandlePing,
    /// Like `SdkEcho`, through variable handles, waiting in its own thread.
    HandleEcho,
}

/// The line an echoer prints once it is ready, so that no ping is sent before it can be seen.
const READY: &str = "ready";

/// Starts a child playing `role` for `rounds` round trips, pinned to `cpu`; `target` says how an SDK child reaches
/// the server (its key travels in the environment, not on the command line). Its standard output is piped.
pub(crate) fn spawn(
    role: Role,
    arg: &str,
    rounds: usize,
    cpu: usize,
    target: &Target,
) -> anyhow::Result<tokio::process::Child> {
    let exe = std::env::current_exe().context("cannot find this executable to start a child")?;
    let name = role.to_possible_value().context("every role has a name")?;
    let mut command = tokio::process::Command::new(exe);
    command
        .args(["bench", "--child", name.get_name(), "--child-arg", arg])
        .args(["--child-rounds", &rounds.to_string()])
        .args(["--child-cpu", &cpu.to_string()])
        .args(["--url", &target.url, "--tenant", &target.tenant])
        .env("COMMY_KEY", &target.key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    command.spawn().context("cannot start a child process")
}

/// Waits until an echoer printed [`READY`].
pub(crate) async fn ready(child: &mut tokio::process::Child) -> anyhow::Result<()> {
    let stdout = child.stdout.take().context("the child's standard output")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    match tokio::time::timeout(DEADLINE, reader.read_line(&mut line)).await {
        Ok(Ok(_)) if line.trim() == READY => Ok(()),
        Ok(Ok(_)) => bail!("a child process ended before it was ready"),
        Ok(Err(e)) => Err(e).context("reading from a child process"),
        Err(_) => bail!("a child process was not ready within {DEADLINE:?}"),
    }
}

/// Plays `role` (this process was started by [`spawn`]).
pub(crate) fn run(role: Role, args: &BenchArgs) -> anyhow::Result<()> {
    // First of all, so that every thread of this process inherits it.
    if let Some(cpu) = args.child_cpu {
        pin_to_cpu(cpu).with_context(|| format!("cannot pin to vCPU {cpu}"))?;
    }
    let arg = args.child_arg.as_deref().context("--child-arg is missing")?;
    let rounds = args.child_rounds.context("--child-rounds is missing")?;
    match role {
        Role::FutexPing => {
            let pair = FutexPingPong::open(Path::new(arg))?;
            let mut rtts = Vec::with_capacity(rounds as usize);
            for i in 1..=rounds {
                let start = Instant::now();
                if !pair.round(i, start + DEADLINE) {
                    bail!("futex ping-pong: no echo of round {i} within {DEADLINE:?}");
                }
                rtts.push(start.elapsed().as_nanos() as u64);
            }
            report(&rtts)
        }
        Role::FutexEcho => {
            let pair = FutexPingPong::open(Path::new(arg))?;
            println!("{READY}");
            if !pair.echo(rounds, DEADLINE) {
                bail!("futex ping-pong: no ping within {DEADLINE:?}");
            }
            Ok(())
        }
        Role::SdkPing | Role::SdkEcho | Role::HandlePing | Role::HandleEcho => {
            let target = Target::from_args(args)?;
            let runtime = super::runtime()?;
            runtime.block_on(async {
                let client = target.connect(Transport::Local).await?;
                let service = client.get_service(arg).await?;
                let result = match role {
                    Role::SdkPing => sdk_ping(&service, rounds).await.and_then(|rtts| report(&rtts)),
                    Role::HandlePing => handle_watch::ping(&service, rounds)
                        .await
                        .and_then(|rtts| report(&rtts)),
                    Role::HandleEcho => handle_watch::echo(&service, rounds, READY).await,
                    _ => sdk_echo(&service, rounds).await,
                };
                client.close();
                result
            })
        }
    }
}

/// Prints the round trips, one per line.
fn report(rtts: &[u64]) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for rtt in rtts {
        writeln!(out, "{rtt}")?;
    }
    out.flush()?;
    Ok(())
}

async fn sdk_ping(service: &commy_client::Service, rounds: u32) -> anyhow::Result<Vec<u64>> {
    let mut pong = service.watch_variable(PONG).await?;
    let mut ping = service.read_u64(PING).await?;
    let mut rtts = Vec::with_capacity(rounds as usize);
    for i in 1..=rounds {
        ping += 1;
        let start = Instant::now();
        service.write_u64(PING, ping).await?;
        await_value(&mut pong, ping)
            .await
            .with_context(|| format!("SDK ping-pong, round {i}"))?;
        rtts.push(start.elapsed().as_nanos() as u64);
    }
    Ok(rtts)
}

async fn sdk_echo(service: &commy_client::Service, rounds: u32) -> anyhow::Result<()> {
    let mut ping = service.watch_variable(PING).await?;
    println!("{READY}");
    for _ in 0..rounds {
        let value = await_any(&mut ping).await?;
        service.write_u64(PONG, value).await?;
    }
    Ok(())
}
