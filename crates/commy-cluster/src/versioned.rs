//! Commy versions over JetStream revisions: a variable's version travels inside its value, so that every server
//! reports the same version for the same write, and compare-and-set on a version keeps the protocol's rule (success
//! gives `expected_version + 1`).
//!
//! A JetStream revision is the bucket's stream sequence: it grows with every write to *any* variable, so it is not
//! `version + 1`, and the protocol promises that a compare-and-set at version `v` answers `v + 1`. So the value stored
//! in `commy-vars` is [`VersionedValue`]: the version (u64, little-endian) then the data. A write reads the current
//! value and revision, and writes `version + 1` with a compare-and-set on that revision: two servers that both read
//! version 41 race on the same revision and only one writes version 42, so versions stay dense, equal on every server,
//! and comparable after a client fails over from one server to another. The revision stays the link's business (the
//! order of changes in the watch and where a watch resumes).

use crate::error::ClusterError;
use crate::{ClusterLink, VariableKey};
use bytes::{BufMut, Bytes, BytesMut};
use std::time::Instant;

/// The bytes of the version in front of the data.
const VERSION_LEN: usize = 8;

/// A variable's value as the cluster stores it: its Commy version and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The Commy version (1 for the first write).
    pub version: u64,
    /// The data.
    pub data: Bytes,
}

impl VersionedValue {
    /// The stored bytes: the version (u64, little-endian), then the data.
    pub fn encode(&self) -> Bytes {
        let mut bytes = BytesMut::with_capacity(VERSION_LEN + self.data.len());
        bytes.put_u64_le(self.version);
        bytes.put_slice(&self.data);
        bytes.freeze()
    }

    /// A stored value; an error names `key` if it is shorter than a version.
    pub fn decode(key: &VariableKey, stored: &Bytes) -> Result<Self, ClusterError> {
        let Some(version) = stored.get(..VERSION_LEN) else {
            return Err(ClusterError::Damaged {
                key: key.to_string(),
                reason: format!("{} bytes, shorter than the 8-byte version", stored.len()),
            });
        };
        let mut word = [0u8; VERSION_LEN];
        word.copy_from_slice(version);
        Ok(VersionedValue {
            version: u64::from_le_bytes(word),
            data: stored.slice(VERSION_LEN..),
        })
    }
}

/// The outcome of a versioned write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The variable's new Commy version.
    pub version: u64,
    /// The write's JetStream revision.
    pub revision: u64,
}

impl ClusterLink {
    /// A variable's Commy version and data, with its revision; `None` if it does not exist.
    pub async fn read_versioned(&self, key: &VariableKey) -> Result<Option<(VersionedValue, u64)>, ClusterError> {
        match self.get_variable(key).await? {
            Some(stored) => Ok(Some((VersionedValue::decode(key, &stored.value)?, stored.revision))),
            None => Ok(None),
        }
    }

    /// Writes `data` as the variable's next version. With `expected_version`, only if the variable is at that
    /// version (0: does not exist), else [`ClusterError::VersionConflict`] with the version it has, and nothing is
    /// written. Without, a write that loses a race with another server's reads again and retries, for at most the
    /// link's call timeout.
    pub async fn write_versioned(
        &self,
        key: &VariableKey,
        data: Bytes,
        expected_version: Option<u64>,
    ) -> Result<Written, ClusterError> {
        self.write_versioned_above(key, data, expected_version, 0).await
    }

    /// [`Self::write_versioned`] for a writer whose own copy of the variable is at version `floor`, which may be
    /// past the cluster's (a server's file with writes not yet published): the variable counts as being at the
    /// higher of the two, for `expected_version` and for the next version.
    pub async fn write_versioned_above(
        &self,
        key: &VariableKey,
        data: Bytes,
        expected_version: Option<u64>,
        floor: u64,
    ) -> Result<Written, ClusterError> {
        self.write_versioned_from(key, data, expected_version, floor, None)
            .await
    }

    /// [`Self::write_versioned_above`] that starts from what the writer last saw of the variable (from its watch or
    /// its own last write) instead of reading it from NATS: one round trip instead of two when that is still the
    /// cluster's state. The write is a compare-and-set on the revision either way, so a stale `last_seen` is never
    /// written over: it costs one conflict, then the write reads and goes again. A version conflict is only ever
    /// answered from a read, never from `last_seen`.
    pub async fn write_versioned_from(
        &self,
        key: &VariableKey,
        data: Bytes,
        expected_version: Option<u64>,
        floor: u64,
        mut last_seen: Option<Written>,
    ) -> Result<Written, ClusterError> {
        let deadline = Instant::now() + self.call_timeout();
        loop {
            let guessed = last_seen.take();
            let (version, revision) = match guessed {
                Some(seen) => (seen.version, seen.revision),
                None => self
                    .read_versioned(key)
                    .await?
                    .map_or((0, 0), |(value, revision)| (value.version, revision)),
            };
            let version = version.max(floor);
            if let Some(expected) = expected_version.filter(|&expected| expected != version) {
                if guessed.is_some() {
                    continue;
                }
                return Err(ClusterError::VersionConflict {
                    key: key.to_string(),
                    expected,
                    current: version,
                });
            }
            let next = VersionedValue {
                version: version + 1,
                data: data.clone(),
            };
            match self.put_variable(key, next.encode(), Some(revision)).await {
                Ok(revision) => {
                    return Ok(Written {
                        version: next.version,
                        revision,
                    })
                }
                Err(ClusterError::Conflict { .. }) if guessed.is_some() || Instant::now() < deadline => continue,
                Err(ClusterError::Conflict { .. }) => {
                    return Err(ClusterError::Timeout {
                        what: format!("writing {key} (other servers kept writing it first)"),
                        after: self.call_timeout(),
                    })
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Writes `value` as it is (its version decided by the caller), only if the variable is at `expected_revision`
    /// (0: does not exist), else [`ClusterError::Conflict`]. Returns the write's revision.
    pub async fn put_versioned(
        &self,
        key: &VariableKey,
        value: &VersionedValue,
        expected_revision: u64,
    ) -> Result<u64, ClusterError> {
        self.put_variable(key, value.encode(), Some(expected_revision)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_and_a_short_one_is_damaged() {
        let key = VariableKey::new("acme", "s", "v");
        let value = VersionedValue {
            version: 42,
            data: Bytes::from_static(b"data"),
        };
        let stored = value.encode();
        assert_eq!(&stored[..8], &42u64.to_le_bytes());
        assert_eq!(VersionedValue::decode(&key, &stored).unwrap(), value);
        let empty = VersionedValue {
            version: 1,
            data: Bytes::new(),
        };
        assert_eq!(VersionedValue::decode(&key, &empty.encode()).unwrap(), empty);

        let error = VersionedValue::decode(&key, &Bytes::from_static(b"short")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the cluster's value of variable 'v' of service 's' in tenant 'acme' is damaged: 5 bytes, shorter than \
             the 8-byte version"
        );
    }
}
