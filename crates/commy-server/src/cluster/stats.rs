//! The cluster's metrics, in `/metrics` beside the server's own.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `commy_cluster_connected` | gauge | 1 while the NATS connection is up, 0 while it is lost |
//! | `commy_cluster_pending_changes` | gauge | variables changed on this server whose change is not yet in NATS |
//! | `commy_cluster_applied_revision` | gauge | the last revision of `commy-vars` this server has applied |
//! | `commy_cluster_applied_changes_total` | counter | changes from other servers written into this server's files |
//! | `commy_cluster_published_changes_total` | counter | local writes (mappings, or plain writes while NATS was lost) published |
//! | `commy_cluster_publish_conflicts_total` | counter | publishes that found the variable moved in NATS and went again |

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The cluster's metrics (cheap clones of shared counters).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterStats {
    pub(crate) connected: Gauge,
    pub(crate) pending: Gauge,
    pub(crate) applied_revision: Gauge,
    pub(crate) applied: Counter,
    pub(crate) published: Counter,
    pub(crate) conflicts: Counter,
}

impl ClusterStats {
    /// Adds them to the server's registry (prefix `commy`).
    pub(crate) fn register(&self, registry: &mut Registry) {
        let cluster = registry.sub_registry_with_prefix("cluster");
        cluster.register(
            "connected",
            "1 while the NATS connection is up, 0 while it is lost",
            self.connected.clone(),
        );
        cluster.register(
            "pending_changes",
            "Variables changed on this server whose change is not yet in NATS",
            self.pending.clone(),
        );
        cluster.register(
            "applied_revision",
            "The last revision of the commy-vars bucket this server has applied",
            self.applied_revision.clone(),
        );
        cluster.register(
            "applied_changes",
            "Changes from the cluster written into this server's service files",
            self.applied.clone(),
        );
        cluster.register(
            "published_changes",
            "Changes made on this server (local mappings, plain writes while NATS was lost) published to NATS",
            self.published.clone(),
        );
        cluster.register(
            "publish_conflicts",
            "Publishes that found the variable moved in NATS meanwhile and went again",
            self.conflicts.clone(),
        );
    }
}
