//! The Commy server: tenants, credentials, service files and the endpoints that serve them.
//!
//! An embedder needs two things: a [`config::ServerConfig`], and [`Server`]. [`Server::open`] opens (or initialises)
//! a data directory ([`Server::start`] does the same and joins the cluster when the configuration names one),
//! [`Server::bind`] binds the configured address, and [`Server::run`] serves the WebSocket port and
//! the local socket until a shutdown future completes. [`StartError`] says why a server could not start.
//!
//! ```no_run
//! use commy_server::config::ServerConfig;
//! use commy_server::Server;
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig { data_dir: "/var/lib/commy".into(), ..ServerConfig::default() };
//! let server = Server::open(config, None)?;
//! let listener = server.bind().await?;
//! server.run(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Everything else is internal; `docs/architecture.md` says where each concept lives. The `testing` feature exposes
//! what the crate's own transport tests and fuzz targets reach into (`commy_server::testing`); it is not a stable interface.

pub mod config;

mod auth;
mod cluster;
mod connection;
mod data_dir;
mod front_door;
mod handlers;
mod live;
mod local;
mod metrics;
mod open_files;
mod quotas;
mod revocation;
mod server;
mod store;
mod tls;
mod transport;

pub use server::{Cause, Server, StartError};

/// Internals for the crate's own tests and fuzz targets: the WebSocket transport with a stand-in dispatcher, and the
/// JWT verifier. Not a stable interface.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::auth::{JwtKey, CLOCK_LEEWAY_SECS};
    pub use crate::connection::{Answer, ConnectionContext, Dispatch, Outbox, Peer};
    pub use crate::live::{Change, ChangeKey, PushSink};
    pub use crate::metrics::Metrics;
    pub use crate::transport::serve;
}
