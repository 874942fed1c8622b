//! The Commy server: tenants, credentials, service files and the endpoints that serve them.
//!
//! [`Server::open`] opens a data directory and [`Server::run`] serves it until a shutdown future completes.

pub mod auth;
pub mod config;
pub mod handlers;
pub mod live;
pub mod local;
pub mod metrics;
mod server;
pub mod store;
pub mod tls;
pub mod transport;

pub use server::{Server, StartError};
