//! When a server joins a cluster with metadata of its own (a data directory a single server used before), it shares
//! what the cluster does not have yet: after catching up, every tenant, API key, JWT key, minting secret, service and
//! variable here is created in `commy-meta` if absent. Where the cluster already has a record of that key, the
//! cluster's stays (and was applied here while catching up).

use super::meta_records::encode;
use super::{Cluster, JwtMeta, SealedSecret, TenantMeta};
use crate::store::{Store, StoreError};
use bytes::Bytes;
use commy_cluster::{ClusterError, MetaKey};

/// Why the local metadata could not be shared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShareError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] ClusterError),
    #[error("encoding a record for the cluster: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Creates in the cluster every record this server has that the cluster lacks; returns how many it created.
pub(crate) async fn share_local_only(store: &Store, cluster: &Cluster) -> Result<usize, ShareError> {
    let mut records: Vec<(MetaKey, Bytes)> = Vec::new();
    for tenant in store.list_tenants()? {
        let id = tenant.tenant_id.clone();
        let limits = store.tenant_limits(&id)?;
        records.push((
            MetaKey::Tenant { tenant: id.clone() },
            encode(&TenantMeta { tenant, limits })?,
        ));
        for key in store.list_api_keys(Some(&id))? {
            let meta_key = MetaKey::Credential {
                tenant: id.clone(),
                id: key.key_id.clone(),
            };
            records.push((meta_key, encode(&key)?));
        }
        if let Some(jwt) = store.get_jwt_key(&id)? {
            let meta_key = MetaKey::JwtKey { tenant: id.clone() };
            let sealed = JwtMeta::seal(cluster.key(), &meta_key, &jwt)?;
            records.push((meta_key, encode(&sealed)?));
        }
        if let Some(secret) = store.existing_minting_key(&id)? {
            let meta_key = MetaKey::MintingKey { tenant: id.clone() };
            let sealed = SealedSecret::seal(cluster.key(), &meta_key, &secret)?;
            records.push((meta_key, encode(&sealed)?));
        }
        for service in store.list_services(&id)? {
            let variables = store.list_variables(&service.service_id)?;
            let name = service.service_name.clone();
            // The service before its variables: a server applying them in revision order finds it.
            let meta_key = MetaKey::Service {
                tenant: id.clone(),
                service: name.clone(),
            };
            records.push((meta_key, encode(&service)?));
            for variable in variables {
                let meta_key = MetaKey::Variable {
                    tenant: id.clone(),
                    service: name.clone(),
                    variable: variable.variable_name.clone(),
                };
                records.push((meta_key, encode(&variable)?));
            }
        }
    }
    let mut created = 0;
    for (key, value) in records {
        if cluster.link().create_metadata(&key, value).await?.is_some() {
            created += 1;
        }
    }
    Ok(created)
}
