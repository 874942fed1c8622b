//! The second process of the cross-process cases: this same binary, started as
//! `commy bench --child <role> --child-arg <arg> --child-rounds <n>`, which echoes `n` pings and exits.

use super::{await_any, BenchArgs, Target, DEADLINE, PING, PONG};
use anyhow::{bail, Context};
use clap::ValueEnum;
use commy_client::Transport;
use commy_shm::bench_support::FutexPingPong;
use std::path::Path;
use std::process::{Command, Stdio};
use tokio::io::{AsyncBufReadExt, BufReader};

/// What the child echoes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
    /// The raw futex words of the file at `--child-arg`.
    Futex,
    /// An SDK client on the local transport: a `Watch` of `ping` in the service `--child-arg`, writes to `pong`.
    SdkEcho,
}

/// The line the SDK child prints once its watch is in place, so that no ping is sent before it can be seen.
const READY: &str = "ready";

/// The command that starts a child playing `role`; `target` says how an SDK child reaches the server (its key
/// travels in the environment, not on the command line).
pub(crate) fn command(
    role: Role,
    arg: &str,
    rounds: usize,
    target: Option<&Target>,
) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find this executable to start the child")?;
    let role = role.to_possible_value().context("every role has a name")?;
    let mut command = Command::new(exe);
    command
        .args(["bench", "--child", role.get_name(), "--child-arg", arg])
        .args(["--child-rounds", &rounds.to_string()])
        .stdin(Stdio::null());
    if let Some(target) = target {
        command
            .args(["--url", &target.url, "--tenant", &target.tenant])
            .env("COMMY_KEY", &target.key);
    }
    Ok(command)
}

/// Starts the SDK child on `service` and waits until its watch is in place.
pub(crate) async fn spawn_sdk_echo(
    target: &Target,
    service: &str,
    rounds: usize,
) -> anyhow::Result<tokio::process::Child> {
    let mut command =
        tokio::process::Command::from(command(Role::SdkEcho, service, rounds, Some(target))?);
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the child process")?;
    let stdout = child.stdout.take().context("the child's standard output")?;
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut line);
    match tokio::time::timeout(DEADLINE, read).await {
        Ok(Ok(_)) if line.trim() == READY => Ok(child),
        Ok(Ok(_)) => bail!("the child process ended before it was ready"),
        Ok(Err(e)) => Err(e).context("reading from the child process"),
        Err(_) => bail!("the child process was not ready within {DEADLINE:?}"),
    }
}

/// Plays `role` (this process was started by [`command`]).
pub(crate) fn run(
    role: Role,
    args: &BenchArgs,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let arg = args
        .child_arg
        .as_deref()
        .context("--child-arg is missing")?;
    let rounds = args.child_rounds.context("--child-rounds is missing")?;
    match role {
        Role::Futex => {
            let pair = FutexPingPong::open(Path::new(arg))?;
            if !pair.echo(rounds, DEADLINE) {
                bail!("futex ping-pong: no ping within {DEADLINE:?}");
            }
            Ok(())
        }
        Role::SdkEcho => {
            let target = Target::from_args(args)?;
            runtime.block_on(sdk_echo(&target, arg, rounds))
        }
    }
}

async fn sdk_echo(target: &Target, service: &str, rounds: u32) -> anyhow::Result<()> {
    let client = target.connect(Transport::Local).await?;
    let service = client.get_service(service).await?;
    let mut ping = service.watch_variable(PING).await?;
    println!("{READY}");
    for _ in 0..rounds {
        let value = await_any(&mut ping).await?;
        service.write_u64(PONG, value).await?;
    }
    drop(ping);
    client.close();
    Ok(())
}
