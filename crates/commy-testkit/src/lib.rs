//! Commy's one test kit, for the integration tests of every crate above commy-shm (which keeps its own small helpers:
//! it must not depend on the server).
//!
//! - [`TestServer`]: the real server, in the test's process, on `127.0.0.1:0` over a fresh temporary data directory
//!   with a known admin key ([`ADMIN_KEY`]); [`BlockingServer`] runs one on its own runtime for synchronous tests.
//! - [`Client`]: a raw protocol WebSocket client in either encoding, with request builders ([`variable`], [`read`],
//!   ...) and a [`Fixture`] (a tenant, a service and a key); [`LocalClient`]: the local Unix socket's client.
//! - [`guard`] and [`both_encodings!`]: bounded waits, and one test per encoding.
//! - [`process`]: child processes with a deadline.
//! - [`NatsServer`]: a real `nats-server -js` for the cluster tests (the binary from `COMMY_NATS_SERVER`);
//!   [`NatsCluster`]: three of them routed into one JetStream cluster.
//! - With the `sdk` feature: SDK helpers on [`TestServer`] (an admin client, a tenant key, a client over a transport).
//!
//! Waits are bounded by [`GUARD`] so that a broken server fails a test instead of hanging it; no test asserts a time.

pub mod cluster;
mod http;
mod jwt;
mod local;
pub mod nats;
pub mod nats_cluster;
pub mod process;
#[cfg(feature = "sdk")]
pub mod sdk;
mod server;
mod ws;

pub use http::http_get;
pub use jwt::hs256_key;
pub use local::LocalClient;
pub use nats::NatsServer;
pub use nats_cluster::NatsCluster;
#[cfg(feature = "sdk")]
pub use sdk::{ALL, READ_ONLY};
pub use server::{BlockingServer, TestServer};
pub use ws::{authenticate, code_of, raw_frame, read, variable, write_data, write_value, Client, Fixture};

/// commy-proto, for [`both_encodings!`].
#[doc(hidden)]
pub use commy_proto;

use std::future::Future;
use std::time::Duration;

/// The server admin key of every [`TestServer`] (given as the `COMMY_ADMIN_KEY` override).
pub const ADMIN_KEY: &str = "commy-test-admin-key-0123456789abcdef0123456789abcdef";

/// How long any single wait may take before the test fails. Only a guard against hanging: no test asserts a time.
pub const GUARD: Duration = Duration::from_secs(30);

/// Waits for `future`, failing the test if it hangs.
pub async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Makes two tests of each `async fn name(encoding: Encoding)`: `name::json` and `name::msgpack`. The calling crate
/// needs tokio (for `#[tokio::test]`).
#[macro_export]
macro_rules! both_encodings {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn json() {
                super::$name($crate::commy_proto::Encoding::Json).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn msgpack() {
                super::$name($crate::commy_proto::Encoding::MsgPack).await
            }
        }
    )*};
}
