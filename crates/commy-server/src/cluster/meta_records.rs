//! The records of `commy-meta`, as JSON: what one server publishes and every other applies.
//!
//! | key | record |
//! |---|---|
//! | `tenant.<t>` | [`TenantMeta`]: the tenant and its quota overrides |
//! | `credential.<t>.<key id>` | the API key's [`ApiKeyRecord`] (its SHA-256, never the key; grant, expiry) |
//! | `jwt-key.<t>` | [`JwtMeta`]: algorithm, issuer, audience, and the key sealed with the cluster key |
//! | `minting-key.<t>` | [`SealedSecret`]: the tenant's token-minting secret, sealed |
//! | `service.<t>.<s>` | the [`ServiceRecord`], with the id every server's file is named after |
//! | `variable.<t>.<s>.<v>` | the [`VariableRecord`]: type, capacity, persistence, initial value |

use crate::store::{JwtKeyRecord, TenantRecord};
use bytes::Bytes;
use commy_cluster::{ClusterError, ClusterKey, MetaKey};
use commy_proto::Quotas;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::Zeroizing;

/// A tenant and its quota overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TenantMeta {
    pub(crate) tenant: TenantRecord,
    pub(crate) limits: Quotas,
}

/// A tenant's JWT verification key, its secret sealed (an HS256 secret; the public keys are sealed too, alike).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JwtMeta {
    alg: String,
    sealed_key: Vec<u8>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtMeta {
    /// Seals `record`'s key with the cluster key, the record's KV key as context.
    pub(crate) fn seal(key: &ClusterKey, meta_key: &MetaKey, record: &JwtKeyRecord) -> Result<Self, ClusterError> {
        Ok(JwtMeta {
            alg: record.alg.clone(),
            sealed_key: key.seal(&meta_key.to_kv_key()?, &record.key)?,
            issuer: record.issuer.clone(),
            audience: record.audience.clone(),
        })
    }

    /// The key record, opened with the cluster key; an error names the record if it does not open.
    pub(crate) fn open(&self, key: &ClusterKey, meta_key: &MetaKey) -> Result<JwtKeyRecord, ClusterError> {
        let secret = key.open(&meta_key.to_kv_key()?, &self.sealed_key)?;
        Ok(JwtKeyRecord::new(self.alg.clone(), secret.to_vec())
            .with_issuer_audience(self.issuer.clone(), self.audience.clone()))
    }
}

/// A secret alone (a tenant's token-minting secret), sealed with the cluster key, the record's KV key as context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealedSecret {
    sealed: Vec<u8>,
}

impl SealedSecret {
    pub(crate) fn seal(key: &ClusterKey, meta_key: &MetaKey, secret: &[u8]) -> Result<Self, ClusterError> {
        Ok(SealedSecret {
            sealed: key.seal(&meta_key.to_kv_key()?, secret)?,
        })
    }

    pub(crate) fn open(&self, key: &ClusterKey, meta_key: &MetaKey) -> Result<Zeroizing<Vec<u8>>, ClusterError> {
        key.open(&meta_key.to_kv_key()?, &self.sealed)
    }
}

/// A record as stored in NATS.
pub(crate) fn encode(record: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    serde_json::to_vec(record).map(Bytes::from)
}

/// A record read from NATS; the error names the key.
pub(crate) fn decode<T: DeserializeOwned>(key: &MetaKey, bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("the cluster's record {key:?} does not decode: {error}"))
}
