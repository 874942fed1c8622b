//! `commy`: run a Commy server, administer it, and read, write and watch its variables.

mod cli;
mod config_command;
mod logging;
mod serve;
mod settings;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Commy: shared state for processes, over memory on one machine and WebSocket across machines.
#[derive(Debug, Parser)]
#[command(name = "commy", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<serve::ServeArgs>),
    /// Check configuration files for `commy serve --config`.
    #[command(subcommand)]
    Config(config_command::ConfigCommand),
    #[command(flatten)]
    Client(cli::ClientCommand),
    /// Measure the SDK against a live server, beside baselines from the same run.
    Bench(commy_bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Config(command) => config_command::run(command),
        Command::Client(command) => cli::run_blocking(command),
        Command::Bench(args) => commy_bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("commy: {}", explain(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the line already holds (many errors quote
/// their cause in their own message).
fn explain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_quoted_by_its_error_is_said_once() {
        let io = std::io::Error::other("connection refused");
        let quoting = anyhow::Error::new(io).context("cannot connect to X: connection refused");
        assert_eq!(super::explain(&quoting), "cannot connect to X: connection refused");
        let plain = anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write Y");
        assert_eq!(super::explain(&plain), "cannot write Y: disk full");
    }
}
