//! The SDK against a real server, started in-process on `127.0.0.1:0` with a fresh data directory.

mod access;
mod blocking;
mod blocking_own_writes;
mod coherence;
mod conformance;
mod examples;
mod handles;
mod limits;
mod moved;
mod own_writes;
mod reconnect;
mod revocation;
mod tls;
