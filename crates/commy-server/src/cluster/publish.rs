//! One function per metadata change a request handler makes, each publishing it to the cluster (see `metadata`):
//! called right after the local change, inside the server's turn, from a blocking thread. Without a cluster each
//! does nothing.

use super::metadata::{claim, publish, publish_with, retract};
use super::{JwtMeta, TenantMeta};
use crate::handlers::{App, HandlerError};
use crate::store::{Actor, ApiKeyRecord, JwtKeyRecord, ServiceRecord, TenantRecord, VariableRecord};
use commy_cluster::MetaKey;

fn tenant_key(tenant: &str) -> MetaKey {
    MetaKey::Tenant {
        tenant: tenant.to_owned(),
    }
}

fn credential_key(record: &ApiKeyRecord) -> Option<MetaKey> {
    Some(MetaKey::Credential {
        tenant: record.tenant_id.clone()?,
        id: record.key_id.clone(),
    })
}

fn service_key(tenant: &str, service: &str) -> MetaKey {
    MetaKey::Service {
        tenant: tenant.to_owned(),
        service: service.to_owned(),
    }
}

fn variable_key(tenant: &str, service: &str, variable: &str) -> MetaKey {
    MetaKey::Variable {
        tenant: tenant.to_owned(),
        service: service.to_owned(),
        variable: variable.to_owned(),
    }
}

/// A tenant created here: claimed in the cluster, or taken back if another server created it first.
pub(crate) fn tenant_created(app: &App, actor: &Actor, record: &TenantRecord) -> Result<(), HandlerError> {
    let meta = TenantMeta {
        tenant: record.clone(),
        limits: Default::default(),
    };
    let id = record.tenant_id.as_str();
    claim(
        app,
        tenant_key(id),
        &meta,
        || format!("tenant '{id}' already exists"),
        || drop(app.store.delete_tenant(actor, id)),
    )
}

/// A tenant's quotas changed here.
pub(crate) fn tenant_changed(app: &App, tenant: &str) -> Result<(), HandlerError> {
    if app.cluster.is_none() {
        return Ok(());
    }
    let meta = TenantMeta {
        tenant: app.store.get_tenant(tenant)?,
        limits: app.store.tenant_limits(tenant)?,
    };
    publish(app, tenant_key(tenant), &meta)
}

/// Every record of a tenant in the cluster, the tenant's own last, read before it is deleted here.
pub(crate) fn tenant_records(app: &App, tenant: &str) -> Vec<MetaKey> {
    if app.cluster.is_none() {
        return Vec::new();
    }
    let mut keys = Vec::new();
    for service in app.store.list_services(tenant).unwrap_or_default() {
        keys.extend(service_records(app, &service));
    }
    let credentials = app.store.list_api_keys(Some(tenant)).unwrap_or_default();
    keys.extend(credentials.iter().filter_map(credential_key));
    keys.push(MetaKey::JwtKey {
        tenant: tenant.to_owned(),
    });
    keys.push(MetaKey::MintingKey {
        tenant: tenant.to_owned(),
    });
    keys.push(tenant_key(tenant));
    keys
}

/// Every record of a service in the cluster (its variables', then its own), read before it is deleted here.
pub(crate) fn service_records(app: &App, service: &ServiceRecord) -> Vec<MetaKey> {
    if app.cluster.is_none() {
        return Vec::new();
    }
    let (tenant, name) = (&service.tenant_id, &service.service_name);
    let variables = app.store.list_variables(&service.service_id).unwrap_or_default();
    let mut keys: Vec<_> = variables
        .iter()
        .map(|variable| variable_key(tenant, name, &variable.variable_name))
        .collect();
    keys.push(service_key(tenant, name));
    keys
}

/// Records deleted here (a tenant, a service, a credential, a variable): deleted in the cluster.
pub(crate) fn removed(app: &App, keys: Vec<MetaKey>) -> Result<(), HandlerError> {
    retract(app, keys)
}

/// An API key created here.
pub(crate) fn credential_created(app: &App, actor: &Actor, key_id: &str) -> Result<(), HandlerError> {
    if app.cluster.is_none() {
        return Ok(());
    }
    let record = app.store.get_api_key(key_id)?;
    let Some(key) = credential_key(&record) else {
        return Ok(());
    };
    let tenant = record.tenant_id.clone();
    claim(
        app,
        key,
        &record,
        || format!("API key '{key_id}' already exists"),
        || drop(app.store.revoke_api_key(actor, tenant.as_deref(), key_id)),
    )
}

/// An API key changed here (grant, patterns, expiry).
pub(crate) fn credential_changed(app: &App, record: &ApiKeyRecord) -> Result<(), HandlerError> {
    match credential_key(record) {
        Some(key) => publish(app, key, record),
        None => Ok(()),
    }
}

/// An API key revoked here.
pub(crate) fn credential_revoked(app: &App, tenant: &str, key_id: &str) -> Result<(), HandlerError> {
    let key = MetaKey::Credential {
        tenant: tenant.to_owned(),
        id: key_id.to_owned(),
    };
    retract(app, [key])
}

/// A tenant's JWT key set here: published with its secret sealed.
pub(crate) fn jwt_key_set(app: &App, tenant: &str, record: &JwtKeyRecord) -> Result<(), HandlerError> {
    let key = MetaKey::JwtKey {
        tenant: tenant.to_owned(),
    };
    publish_with(app, key, |cluster, key| JwtMeta::seal(cluster.key(), key, record))
}

/// A service created here (its file made): claimed, or taken back if another server created it first.
pub(crate) fn service_created(app: &App, actor: &Actor, record: &ServiceRecord) -> Result<(), HandlerError> {
    let (tenant, name) = (record.tenant_id.as_str(), record.service_name.as_str());
    claim(
        app,
        service_key(tenant, name),
        record,
        || format!("service '{name}' already exists in tenant '{tenant}'"),
        || {
            if app.store.delete_service(actor, tenant, name).is_ok() {
                app.live.remove_record(record);
            }
        },
    )
}

/// A variable allocated here: claimed, or taken back (`undo`) if another server allocated it first.
pub(crate) fn variable_created(
    app: &App,
    tenant: &str,
    service: &str,
    record: &VariableRecord,
    undo: impl FnOnce(),
) -> Result<(), HandlerError> {
    let name = record.variable_name.as_str();
    claim(
        app,
        variable_key(tenant, service, name),
        record,
        || format!("variable '{name}' already exists in service '{service}' of tenant '{tenant}'"),
        undo,
    )
}

/// A variable deallocated here.
pub(crate) fn variable_removed(app: &App, tenant: &str, service: &str, variable: &str) -> Result<(), HandlerError> {
    retract(app, [variable_key(tenant, service, variable)])
}

/// Before this server mints a token for `tenant`: the tenant's minting secret is the cluster's, so that every server
/// verifies the token. The first server to mint makes it and claims it (sealed); the others take it from NATS.
pub(crate) fn minting_key_shared(app: &App, tenant: &str) -> Result<(), HandlerError> {
    let Some(cluster) = app.cluster.as_deref() else {
        return Ok(());
    };
    if app.store.existing_minting_key(tenant)?.is_some() {
        return Ok(());
    }
    let _turn = cluster.meta.turn();
    let key = MetaKey::MintingKey {
        tenant: tenant.to_owned(),
    };
    let failed = |error: commy_cluster::ClusterError| {
        HandlerError::new(
            commy_proto::ErrorCode::Timeout,
            format!("tenant '{tenant}': its token-minting secret could not be shared with the cluster: {error}"),
        )
    };
    let runtime = tokio::runtime::Handle::current();
    for _ in 0..2 {
        if let Some((bytes, _)) = runtime.block_on(cluster.link().get_metadata(&key)).map_err(failed)? {
            let sealed: super::SealedSecret = super::meta_records::decode(&key, &bytes)
                .map_err(|error| HandlerError::internal("reading the cluster's minting secret", error))?;
            let secret = sealed.open(cluster.key(), &key).map_err(failed)?;
            app.store.put_replica_minting_key(&Actor::server(), tenant, &secret)?;
            return Ok(());
        }
        let secret = app.store.minting_key(tenant)?;
        let sealed = super::SealedSecret::seal(cluster.key(), &key, &secret).map_err(failed)?;
        let value = super::meta_records::encode(&sealed)
            .map_err(|error| HandlerError::internal("encoding the minting secret", error))?;
        if runtime
            .block_on(cluster.link().create_metadata(&key, value))
            .map_err(failed)?
            .is_some()
        {
            return Ok(());
        }
        // Another server claimed one first: take it (the loop's second round reads it).
    }
    Ok(())
}
