//! The Commy server: tenants, credentials, service files and the endpoints that serve them.

pub mod auth;
pub mod config;
pub mod live;
pub mod metrics;
pub mod store;
pub mod transport;
