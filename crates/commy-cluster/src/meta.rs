//! Metadata records in `commy-meta`: create-if-absent (the one way two servers creating the same tenant or service
//! settle who wins), delete, the bucket's last revision (how far a server must have applied to have seen every change
//! made so far), and a watch of every change from a revision on that resumes after NATS restarts.

use crate::error::{bounded, ClusterError};
use crate::resuming_watch::ResumingWatch;
use crate::{ClusterLink, MetaKey};
use async_nats::jetstream::kv::{CreateErrorKind, Operation};
use bytes::Bytes;

/// One change of one metadata record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaChange {
    /// Which record.
    pub key: MetaKey,
    /// The new record; `None` if it was deleted.
    pub value: Option<Bytes>,
    /// The change's JetStream revision.
    pub revision: u64,
}

impl ClusterLink {
    /// Writes a metadata record only if it does not exist yet (JetStream's expected revision 0): `Some(revision)`
    /// when this call created it, `None` when the record already exists (another server created it first), nothing
    /// written then.
    pub async fn create_metadata(&self, key: &MetaKey, value: Bytes) -> Result<Option<u64>, ClusterError> {
        let kv_key = key.to_kv_key()?;
        let what = || format!("creating metadata '{kv_key}' in NATS");
        match tokio::time::timeout(self.call_timeout(), self.metadata_store().create(&kv_key, value)).await {
            Ok(Ok(revision)) => Ok(Some(revision)),
            Ok(Err(error)) if error.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Ok(Err(error)) => Err(ClusterError::nats(what(), error)),
            Err(_) => Err(ClusterError::Timeout {
                what: what(),
                after: self.call_timeout(),
            }),
        }
    }

    /// Deletes a metadata record (a delete marker every watcher sees); deleting a missing record is not an error.
    pub async fn delete_metadata(&self, key: &MetaKey) -> Result<(), ClusterError> {
        let kv_key = key.to_kv_key()?;
        bounded(
            || format!("deleting metadata '{kv_key}' in NATS"),
            self.call_timeout(),
            self.metadata_store().delete(&kv_key),
        )
        .await
    }

    /// The revision of the last change to any metadata record (0 for an empty bucket), asked of NATS now: a server
    /// that has applied this revision has seen every metadata change made before the call.
    pub async fn metadata_revision(&self) -> Result<u64, ClusterError> {
        let info = bounded(
            || "reading the metadata bucket's last revision from NATS".to_owned(),
            self.call_timeout(),
            self.metadata_store().stream.get_info(),
        )
        .await?;
        Ok(info.state.last_sequence)
    }

    /// Every change of every metadata record from `revision` on (1: from the start, which holds each record's last
    /// state, deletes included), in revision order; resumes by itself after NATS restarts.
    pub async fn watch_metadata(&self, revision: u64) -> Result<MetaWatch, ClusterError> {
        let watch = ResumingWatch::start(
            "metadata",
            self.metadata_store().clone(),
            revision.max(1),
            self.call_timeout(),
        )
        .await?;
        Ok(MetaWatch { watch })
    }
}

/// Every change of every metadata record, from a revision on, each revision at most once and in increasing order;
/// it resumes by itself after NATS restarts, dropped connections and stalls (the mechanism is in `resuming_watch.rs`).
#[derive(Debug)]
pub struct MetaWatch {
    watch: ResumingWatch,
}

impl MetaWatch {
    /// The next change; waits as long as it takes (bound it where a wait must end). A key that Commy's scheme did not
    /// make gives [`ClusterError::ForeignKey`], and the watch goes on after it.
    pub async fn next(&mut self) -> Result<MetaChange, ClusterError> {
        let entry = self.watch.next().await;
        Ok(MetaChange {
            key: MetaKey::from_kv_key(&entry.key)?,
            value: (entry.operation == Operation::Put).then_some(entry.value),
            revision: entry.revision,
        })
    }
}
