//! The remote path: HTTP and WebSocket on one port.
//!
//! - `/ws` speaks the Commy protocol, JSON text frames (`commy.v1.json`, also for a client that asks for no
//!   subprotocol) or MessagePack binary frames (`commy.v1.msgpack`).
//! - `/healthz` answers `200 ok`.
//! - `/metrics` answers the [`Metrics`](crate::metrics::Metrics) in the Prometheus text format.
//!
//! The transport decodes each request and hands it to a [`Dispatch`], which the request handlers implement; it writes
//! the reply with the request's `id`, and the [`Outbox`] of each connection carries the pushes the live layer makes
//! through [`PushSink`].
//!
//! TLS (see [`TlsConfig`](crate::config::TlsConfig)): the same port then serves `wss://` and `https://`; each
//! connection does its handshake in its own task, after the permit and the `accept`, within a time limit. A verified
//! client certificate reaches the handlers as [`ConnectionContext::client_identity`].
//!
//! Limits (see [`Limits`](crate::config::Limits)): a connection permit is taken before `accept`; messages and frames
//! have a maximum size, and a larger one closes the connection with code 1009; each connection has a bounded reply
//! queue, and its pushes are coalesced per variable, so a slow client costs bounded memory and still gets the latest
//! value of every variable it watches.
//!
//! ```no_run
//! use commy_proto::{ClientMessage, ErrorCode, ServerMessage};
//! use commy_server::config::ServerConfig;
//! use commy_server::metrics::Metrics;
//! use commy_server::transport::{serve, ConnectionContext, Dispatch};
//! use std::sync::Arc;
//!
//! struct Refuse;
//!
//! impl Dispatch for Refuse {
//!     type Session = ();
//!
//!     fn open(&self, _conn: &ConnectionContext) {}
//!
//!     async fn handle(&self, _conn: &ConnectionContext, _session: &mut (), _request: ClientMessage) -> ServerMessage {
//!         ServerMessage::error(ErrorCode::InternalError, "not ready yet")
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let config = ServerConfig::default();
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! serve(listener, config, Arc::new(Refuse), Arc::new(Metrics::new()), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

mod close;
mod connection;
mod dashboard;
mod dispatch;
mod listener;
mod outbox;
mod push;
mod reader;
mod server;
mod shutdown;
mod tls;
mod upgrade;
mod writer;

pub use dispatch::{ConnectionContext, Dispatch};
pub use outbox::Outbox;
pub use push::PushSink;
pub use server::serve;
