//! commy-cluster against a real nats-server (`COMMY_NATS_SERVER`, which scripts/test.sh sets from
//! scripts/nats-server.sh; without it every test here fails, saying how to get one).

mod jetstream_cluster;
mod link;
mod metadata;
mod stall;
mod versions;

use bytes::Bytes;
use commy_cluster::{ClusterLink, Credentials, VariableKey, VariableWatch};
use commy_testkit::{guard, NatsServer};

/// A link to `nats`, failing the test with NATS's log if it cannot connect.
async fn link(nats: &NatsServer) -> ClusterLink {
    guard("a link to NATS", ClusterLink::connect(&[nats.url()], Credentials::None))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\nnats-server log:\n{}", nats.log()))
}

/// The watch's next change as (key, value, revision), within the test kit's guard.
async fn next(watch: &mut VariableWatch) -> (VariableKey, Option<Bytes>, u64) {
    let change = guard("a change from the watch", watch.next()).await.expect("a change");
    (change.key, change.value, change.revision)
}
