//! `commy config check FILE`: is this configuration file one that `commy serve --config FILE` would accept?

use crate::settings;
use clap::Subcommand;
use std::path::PathBuf;

/// Commands about configuration files.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file as `commy serve --config FILE` reads it, without environment or flags: its syntax,
    /// keys, values and their combinations. Prints the first error with its line, or `FILE: ok`.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// Runs a `commy config` command.
pub fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file } => {
            settings::check_file(&file)?;
            println!("{}: ok", file.display());
            Ok(())
        }
    }
}
