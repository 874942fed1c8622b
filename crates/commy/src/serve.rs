//! `commy serve`: gather the settings (file, environment, flags) into a checked configuration, then hand over to the
//! server library.

use crate::settings::{self, Settings};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Flags of `commy serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read the settings from this TOML file (keys named like the flags, with `_` for `-`: see commy.example.toml).
    /// Environment variables override the file, and flags override both.
    #[arg(long, env = "COMMY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

impl ServeArgs {
    /// The settings from the flags and the environment (with `RUST_LOG` when no log filter is given) laid over the
    /// configuration file's.
    fn settings(self) -> anyhow::Result<Settings> {
        let mut given = self.settings;
        if given.log.is_none() {
            given.log = std::env::var("RUST_LOG").ok().filter(|filter| !filter.is_empty());
        }
        match self.config {
            Some(path) => given.over(settings::read_file(&path)?),
            None => Ok(given),
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let resolved = args.settings()?.resolve()?;
    crate::logging::init(&resolved.log)?;
    let admin_key = std::env::var("COMMY_ADMIN_KEY").ok().filter(|k| !k.is_empty());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = commy_server::Server::start(resolved.server, admin_key).await?;
        let listener = server.bind().await?;
        server.run(listener, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
