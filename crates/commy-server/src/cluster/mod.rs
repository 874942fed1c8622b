//! Membership of a cluster of Commy servers over NATS JetStream (docs/cluster.md): the link to NATS and the cluster
//! key. A server started without `--cluster` has no [`Cluster`] and never touches NATS.

mod follow;
mod join_publish;
mod key_file;
mod meta_apply;
mod meta_records;
mod meta_watch;
pub(crate) mod metadata;
mod outbox;
pub(crate) mod publish;
mod remote_write;
mod replica;
mod stats;
mod value_publish;

use crate::config::ClusterConfig;
use commy_cluster::{ClusterError, ClusterKey, ClusterLink, LinkOptions};
use replica::Replica;
use std::path::Path;
use std::sync::Arc;

pub(crate) use key_file::{read_cluster_key, KeyFileError};
pub(crate) use meta_records::{JwtMeta, SealedSecret, TenantMeta};
pub(crate) use meta_watch::start as start_metadata;

/// Why a server could not join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The cluster key file is missing, unreadable or malformed.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// NATS could not be reached, or its buckets could not be opened.
    #[error(transparent)]
    Link(#[from] ClusterError),
}

/// This server's membership of the cluster: its link to NATS and the key that seals the secrets kept there.
#[derive(Debug)]
pub(crate) struct Cluster {
    link: ClusterLink,
    key: ClusterKey,
    /// This server's progress through the cluster's metadata.
    pub(crate) meta: metadata::MetaState,
    /// What this server knows of the cluster's variables, and its changes not yet published.
    replica: Arc<Replica>,
}

impl Cluster {
    /// Reads the cluster key and connects to NATS (bounded: a NATS that cannot be reached within the link's call
    /// timeout is an error naming the URLs).
    pub(crate) async fn join(config: &ClusterConfig) -> Result<Cluster, JoinError> {
        let key = read_cluster_key(&config.key_file)?;
        let options = LinkOptions {
            replicas: config.replicas.max(1),
            ..LinkOptions::default()
        };
        let link = ClusterLink::connect_with(&config.urls, config.credentials.clone(), options).await?;
        tracing::info!(urls = %config.urls.join(","), "joined the cluster over NATS JetStream");
        Ok(Cluster {
            link,
            key,
            meta: Default::default(),
            replica: Arc::default(),
        })
    }

    /// The link to NATS and the cluster's buckets.
    pub(crate) fn link(&self) -> &ClusterLink {
        &self.link
    }

    /// The key that seals secrets before they go to NATS.
    pub(crate) fn key(&self) -> &ClusterKey {
        &self.key
    }

    /// Catches this server's files up with the cluster's variables (bounded), then starts following them: applying
    /// other servers' changes and publishing this server's (see `follow.rs`). Call before serving.
    pub(crate) async fn start_replication(
        &self,
        app: &Arc<crate::handlers::App>,
        data_dir: &Path,
    ) -> Result<(), ClusterError> {
        follow::start(app, &self.link, &self.replica, data_dir).await
    }

    /// Registers the cluster's metrics (`commy_cluster_*`).
    pub(crate) fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.replica.stats.register(registry);
    }

    /// Whether the NATS connection is up right now.
    pub(crate) fn is_connected(&self) -> bool {
        self.link.is_connected()
    }
}
