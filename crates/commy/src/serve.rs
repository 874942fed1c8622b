//! `commy serve`: parse the flags into a checked configuration, then hand over to the server library.

use anyhow::{bail, Context};
use clap::Args;
use commy_server::config::{ServerConfig, DEFAULT_PORT};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `commy serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory for the metadata database, the service files and admin.key (created with mode 0700).
    #[arg(long, env = "COMMY_DATA_DIR", default_value = "commy-data")]
    data_dir: PathBuf,
    /// Address for HTTP and WebSocket clients.
    #[arg(long, env = "COMMY_LISTEN", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    listen: SocketAddr,
    /// Serve a non-loopback address without TLS. Anyone on the network can then read the traffic, keys included.
    #[arg(long)]
    insecure: bool,
    /// Most TCP connections served at once.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long)]
    max_message_size: Option<usize>,
    /// Most subscriptions per connection.
    #[arg(long)]
    max_subscriptions: Option<usize>,
    /// Most variables per service.
    #[arg(long)]
    max_variables: Option<usize>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<ServerConfig> {
        if !self.listen.ip().is_loopback() && !self.insecure {
            bail!(
                "refusing to serve {} without TLS: anyone on the network could read the traffic, keys included; \
                 bind a loopback address, or pass --insecure if you really mean it",
                self.listen
            );
        }
        let mut config = ServerConfig {
            listen: self.listen,
            data_dir: self.data_dir,
            ..ServerConfig::default()
        };
        let limits = &mut config.limits;
        if let Some(n) = self.max_connections {
            limits.max_connections = n;
        }
        if let Some(n) = self.max_message_size {
            limits.max_message_size = n;
            limits.max_frame_size = limits.max_frame_size.min(n);
        }
        if let Some(n) = self.max_subscriptions {
            limits.max_subscriptions_per_connection = n;
        }
        if let Some(n) = self.max_variables {
            limits.max_variables_per_service = n;
        }
        Ok(config)
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.into_config()?;
    let admin_key = std::env::var("COMMY_ADMIN_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = commy_server::Server::open(config, admin_key)?;
        let listener = server.bind().await?;
        server.run(listener, shutdown_signal()).await?;
        Ok(())
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMMY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // The WebSocket library logs whole frames at trace level, credentials included: never below debug.
        .add_directive("tungstenite=debug".parse().expect("static directive"))
        .add_directive("tokio_tungstenite=debug".parse().expect("static directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
