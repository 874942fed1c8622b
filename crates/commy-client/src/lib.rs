//! The Commy SDK: shared variables hosted by a Commy server, read, written and watched through one API over two
//! transports.
//!
//! - **Local**: on the server's machine the client talks to the server's Unix socket, receives each service file's
//!   descriptor and maps it. Reads, writes and watches then run at memory speed; a read-only credential gets a
//!   read-only mapping.
//! - **Remote**: anywhere else, every operation is a request over a WebSocket.
//!
//! The client picks local by itself when the server URL is loopback and the server announces its local socket;
//! [`ClientBuilder::transport`] forces either. Application code is the same for both.
//!
//! ```no_run
//! use commy_client::{Allocation, Client, Credentials};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> commy_client::Result<()> {
//! let client = Client::connect("ws://127.0.0.1:8080").await?;
//! client.authenticate(Some("acme"), Credentials::api_key("...")).await?;
//!
//! let weather = client.create_service("weather").await?;
//! weather.allocate("temperature", Allocation::f64(20.0)).await?;
//!
//! let mut changes = weather.watch_variable("temperature").await?;
//! weather.write_f64("temperature", 21.5).await?;
//! if let Some(change) = changes.next().await {
//!     println!("{} is now {} (version {})", change.variable, change.as_f64()?, change.version);
//! }
//! # Ok(()) }
//! ```
//!
//! A program without an async runtime uses [`blocking::Client`], which owns one. Every failure is an [`Error`] whose
//! variant matches the protocol's error code. The client reconnects by itself after the server restarts, signs in
//! again with the credentials it was given, and keeps every [`Watch`] going; given several servers
//! ([`ClientBuilder::urls`]), it fails over from one to the next. See `docs/sdk.md` for a tour of every
//! call.
//!
//! Cargo feature `mapped-file` (off by default) adds `Service::mapped_file`, the `commy_shm::Service` behind a local
//! handle, for benchmarks that set the SDK beside commy-shm on the very same mapping (commy-bench). Writes through it
//! bypass the SDK's type checks.

mod access;
mod admin;
mod allocation;
mod auth;
pub mod blocking;
mod blocking_variable;
mod builder;
mod client;
mod conn;
mod credentials;
mod error;
mod limits;
mod local;
mod payload;
mod service;
mod snapshot;
mod tls;
mod typed;
mod url;
mod value;
mod variable;
mod watch;
mod watch_options;

pub use allocation::Allocation;
pub use auth::{Authenticated, CLIENT_VERSION};
pub use builder::{ClientBuilder, Transport};
pub use client::{Client, ServiceInfo};
pub use conn::ConnectionState;
pub use credentials::Credentials;
pub use error::{Error, Result};
pub use payload::Payload;
pub use service::Service;
pub use snapshot::{Change, Snapshot};
pub use value::VariableValue;
pub use variable::{AsArg, Variable};
pub use watch::Watch;
pub use watch_options::WatchOptions;

pub use commy_proto as proto;

/// `docs/sdk.md`, compiled as doctests so that every snippet in it stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/sdk.md")]
pub struct SdkGuide;
pub use commy_proto::{ApiKey, Encoding, Permission, Quotas, Tenant, TenantLimits, ValueType, VariableInfo};
