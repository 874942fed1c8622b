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
    Serve(serve::ServeArgs),
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
        Command::Serve(args) => serve::run(args),
        Command::Config(command) => config_command::run(command),
        Command::Client(command) => cli::run_blocking(command),
        Command::Bench(args) => commy_bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("commy: {err:#}");
            ExitCode::FAILURE
        }
    }
}
