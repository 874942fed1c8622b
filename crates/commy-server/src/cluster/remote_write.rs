//! A `WriteVariable` on a cluster server: to NATS first, then into the local file.
//!
//! The write goes to `commy-vars` with [`ClusterLink::write_versioned_from`] (with `expected_version`, the
//! cluster-wide compare-and-set), counting from the file's version when the file is ahead of the cluster, and
//! starting from the revision this server last saw of the variable (its watch keeps it current), which saves reading
//! it from NATS first: one NATS round trip per write while no other server wrote the variable meanwhile. Once NATS
//! has acknowledged it, it is written into this server's file at the cluster's version, and its subscribers and
//! local watchers see it the usual way. While NATS is lost, a plain write lands in the file only (and is published
//! when NATS returns); a compare-and-set answers `TIMEOUT`, since only NATS can order it against other servers.

use super::replica::key_of;
use super::Cluster;
use crate::handlers::HandlerError;
use crate::live::{LiveError, LiveService};
use bytes::Bytes;
use commy_cluster::ClusterError;
use commy_proto::ErrorCode;
use commy_shm::VarHandle;

impl Cluster {
    /// Writes through the cluster; `Ok(None)`: NATS is lost and this is a plain write, which the caller writes to
    /// the file alone.
    pub(crate) async fn write(
        &self,
        live: &LiveService,
        name: &str,
        handle: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<Option<u64>, HandlerError> {
        let key = key_of(live, name);
        if !self.link.is_connected() {
            return match expected {
                Some(_) => Err(cas_needs_nats(name, live.name(), "NATS is unreachable now")),
                None => Ok(None),
            };
        }
        let floor = live.read(name)?.version;
        let last_seen = self.replica.last_seen(&key);
        let written = self
            .link
            .write_versioned_from(&key, Bytes::copy_from_slice(data), expected, floor, last_seen)
            .await;
        match written {
            Ok(written) => {
                let replica = &self.replica;
                replica.apply_own(live, handle, &key, floor, data, (written.version, written.revision))?;
                Ok(Some(written.version))
            }
            Err(ClusterError::VersionConflict { expected, current, .. }) => Err(LiveError::Conflict {
                service: live.name().to_owned(),
                variable: name.to_owned(),
                expected,
                current,
            }
            .into()),
            Err(error @ (ClusterError::Timeout { .. } | ClusterError::Nats { .. })) => match expected {
                Some(_) => Err(cas_needs_nats(name, live.name(), &error.to_string())),
                None => {
                    tracing::warn!(%error, %key, "NATS did not take a write; it lands here and is published later");
                    Ok(None)
                }
            },
            Err(other) => Err(HandlerError::new(
                ErrorCode::InternalError,
                format!("writing variable '{name}' to the cluster: {other}"),
            )),
        }
    }
}

fn cas_needs_nats(variable: &str, service: &str, why: &str) -> HandlerError {
    HandlerError::new(
        ErrorCode::Timeout,
        format!(
            "compare-and-set of variable '{variable}' of service '{service}' needs the cluster's NATS ({why}); \
             nothing was written: try again when it is back (plain writes still land on this server)"
        ),
    )
}
