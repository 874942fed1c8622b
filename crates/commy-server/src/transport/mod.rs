//! The remote path: HTTP and WebSocket on one port.
//!
//! - `/ws` speaks the Commy protocol, JSON text frames (`commy.v1.json`, also for a client that asks for no
//!   subprotocol) or MessagePack binary frames (`commy.v1.msgpack`).
//! - `/healthz` answers `200 ok`.
//! - `/metrics` answers the [`Metrics`](crate::metrics::Metrics) in the Prometheus text format.
//!
//! The transport decodes each request and hands it to a [`Dispatch`](crate::connection::Dispatch) (the server's one
//! dispatcher, the same the local socket uses); it writes the reply with the request's `id`, and the
//! [`Outbox`](crate::connection::Outbox) of each connection carries the pushes the live layer makes.
//!
//! TLS (see [`TlsConfig`](crate::config::TlsConfig)): the same port then serves `wss://` and `https://`; each
//! connection does its handshake in its own task, after the `accept`, within a time limit. A verified
//! client certificate reaches the handlers as [`ConnectionContext::client_identity`].
//!
//! Limits (see [`Limits`](crate::config::Limits)): every connection is accepted at once into the lobby of
//! unauthenticated connections, which evicts its oldest when full, and takes one of `max_connections` places once it
//! authenticates (`lobby.rs`); a connection is held to deadlines (a complete HTTP request, then authentication after
//! the upgrade) and a silent WebSocket is pinged, then closed when idle (`listener.rs`, `deadlines.rs`); messages and
//! frames have a maximum size, and a larger one closes the connection with code 1009; each connection has a bounded reply
//! queue, and its pushes are coalesced per variable, so a slow client costs bounded memory and still gets the latest
//! value of every variable it watches.

mod close;
mod connection;
mod dashboard;
mod deadlines;
mod listener;
mod lobby;
mod reader;
mod server;
mod sink;
mod tls;
mod upgrade;

pub use server::serve;
