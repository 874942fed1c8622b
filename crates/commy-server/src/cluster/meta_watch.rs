//! The watch that keeps this server's metadata a copy of the cluster's: started by `Server::start`, it applies every
//! change of `commy-meta` from the revision this server last applied (remembered in redb), and the server serves only
//! once it has caught up with the revision NATS had when it started.

use super::join_publish::{share_local_only, ShareError};
use super::meta_apply::apply;
use super::Cluster;
use crate::handlers::App;
use commy_cluster::{ClusterError, MetaChange, MetaWatch};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Why the server could not catch up with the cluster's metadata.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    /// NATS could not be asked.
    #[error("reading the cluster's metadata: {0}")]
    Link(#[from] ClusterError),
    /// The metadata database could not be read.
    #[error("reading the revision of the cluster's metadata applied here: {0}")]
    Store(#[from] crate::store::StoreError),
    /// This server's own metadata could not be shared with the cluster.
    #[error("sharing this server's metadata with the cluster: {0}")]
    Share(#[from] ShareError),
    /// Catching up took longer than its bound.
    #[error("catching up with the cluster's metadata (revision {target}) took longer than {after:?}; applied up to {applied}")]
    Slow {
        /// The revision NATS had.
        target: u64,
        /// The revision applied when the bound passed.
        applied: u64,
        /// The bound.
        after: Duration,
    },
}

/// Starts applying the cluster's metadata here and returns once everything NATS had at the call is applied.
pub(crate) async fn start(app: &Arc<App>) -> Result<(), CatchUpError> {
    let Some(cluster) = app.cluster.clone() else {
        return Ok(());
    };
    let applied = app.store.applied_meta_revision()?;
    cluster.meta.set_applied(applied);
    let target = cluster.link().metadata_revision().await?;
    let watch = cluster.link().watch_metadata(applied + 1).await?;
    tokio::spawn(run(Arc::downgrade(app), cluster.clone(), watch));
    // Generous: thousands of records, each one redb commit.
    let bound = cluster.link().call_timeout() * 12;
    if !cluster.meta.wait_applied(target, bound).await {
        return Err(CatchUpError::Slow {
            target,
            applied: cluster.meta.applied(),
            after: bound,
        });
    }
    tracing::info!(revision = target, "caught up with the cluster's metadata");
    let shared = share_local_only(&app.store, &cluster).await?;
    if shared > 0 {
        tracing::info!(records = shared, "shared this server's own metadata with the cluster");
    }
    Ok(())
}

/// Applies every change, for as long as the server runs (it holds the server's state weakly: once the server is
/// gone, its database closed, the next change ends the watch).
async fn run(app: Weak<App>, cluster: Arc<Cluster>, mut watch: MetaWatch) {
    loop {
        let change = match watch.next().await {
            Ok(change) => change,
            Err(error) => {
                tracing::warn!(%error, "a metadata record of the cluster was skipped");
                continue;
            }
        };
        let Some(app) = app.upgrade() else {
            return;
        };
        let task_cluster = cluster.clone();
        let task_app = app.clone();
        match tokio::task::spawn_blocking(move || apply_one(&task_app, &task_cluster, &change)).await {
            Ok(Some(at_ms)) => crate::handlers::sweep_at(&app, at_ms),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "applying a metadata record of the cluster failed"),
        }
    }
}

/// Applies one change in the server's turn and remembers its revision; when grants must be checked again, if ever.
fn apply_one(app: &App, cluster: &Cluster, change: &MetaChange) -> Option<u64> {
    let mut sweep_at = None;
    {
        let _turn = cluster.meta.turn();
        let superseded = change
            .key
            .to_kv_key()
            .is_ok_and(|kv_key| cluster.meta.superseded(&kv_key, change.revision));
        if !superseded {
            match apply(app, cluster, change) {
                Ok(at) => sweep_at = at,
                Err(error) => {
                    tracing::warn!(%error, revision = change.revision, "a metadata record of the cluster was not applied")
                }
            }
        }
        if let Err(error) = app.store.set_applied_meta_revision(change.revision) {
            tracing::warn!(%error, "the applied revision of the cluster's metadata could not be remembered");
        }
    }
    cluster.meta.set_applied(change.revision);
    sweep_at
}
