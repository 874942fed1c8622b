//! Applying one change of the cluster's metadata to this server: its redb (a cache of the cluster's metadata), its
//! service files, its quotas, and its live sessions, which a revoked, changed or deleted credential or tenant ends
//! through the same revocation path a local revoke takes (`Revocations::sweep`). Every apply is idempotent: a record
//! already here as the cluster has it changes nothing, so a server applies its own publications harmlessly.

use super::meta_records::{decode, JwtMeta, SealedSecret, TenantMeta};
use super::Cluster;
use crate::handlers::App;
use crate::store::{Actor, ApiKeyRecord, ServiceRecord, StoreError, VariableRecord};
use commy_cluster::{MetaChange, MetaKey};
use commy_proto::ValueType;

/// Why a change could not be applied (the watch logs it and goes on).
pub(crate) type ApplyError = String;

fn actor() -> Actor {
    Actor::new("cluster", None)
}

fn store_error(key: &MetaKey) -> impl Fn(StoreError) -> ApplyError + '_ {
    move |error| format!("applying the cluster's record {key:?}: {error}")
}

/// Applies `change` here. Returns when (ms since the epoch) the grants must be checked again: a credential's new
/// expiry, for the caller to set a timer, as a local change does.
pub(crate) fn apply(app: &App, cluster: &Cluster, change: &MetaChange) -> Result<Option<u64>, ApplyError> {
    let key = &change.key;
    let failed = store_error(key);
    let Some(value) = &change.value else {
        return remove(app, key).map(|()| None).map_err(failed);
    };
    match key {
        MetaKey::Tenant { tenant } => {
            let meta: TenantMeta = decode(key, value)?;
            app.store.put_replica_tenant(&actor(), &meta.tenant).map_err(&failed)?;
            if app.store.tenant_limits(tenant).map_err(&failed)? != meta.limits {
                app.store
                    .set_tenant_limits(&actor(), tenant, &meta.limits)
                    .map_err(&failed)?;
                app.quotas.set(tenant, meta.limits);
            }
        }
        MetaKey::Credential { .. } => {
            let record: ApiKeyRecord = decode(key, value)?;
            if app.store.get_api_key(&record.key_id).ok().as_ref() != Some(&record) {
                app.store.put_api_key(&actor(), &record).map_err(&failed)?;
                app.revocations.sweep(&app.store, &app.live);
                return Ok(record.expires_at);
            }
        }
        MetaKey::JwtKey { tenant } => {
            let meta: JwtMeta = decode(key, value)?;
            let record = meta.open(cluster.key(), key).map_err(|error| error.to_string())?;
            if app.store.get_jwt_key(tenant).map_err(&failed)?.as_ref() != Some(&record) {
                app.store.set_jwt_key(&actor(), tenant, &record).map_err(&failed)?;
                app.revocations.sweep(&app.store, &app.live);
            }
        }
        MetaKey::MintingKey { tenant } => {
            let sealed: SealedSecret = decode(key, value)?;
            let secret = sealed.open(cluster.key(), key).map_err(|error| error.to_string())?;
            if app
                .store
                .put_replica_minting_key(&actor(), tenant, &secret)
                .map_err(&failed)?
            {
                app.revocations.sweep(&app.store, &app.live);
            }
        }
        MetaKey::Service { .. } => {
            let record: ServiceRecord = decode(key, value)?;
            let Some(replaced) = app.store.put_replica_service(&actor(), &record).map_err(&failed)? else {
                return Ok(None);
            };
            if let Some(old) = replaced {
                service_gone(app, &old, "the cluster has another service of that name");
            }
            let table = app.quotas.effective(&record.tenant_id).table_size();
            app.live
                .create_sized(&record, table)
                .map_err(|error| error.to_string())?;
        }
        MetaKey::Variable { tenant, service, .. } => {
            let record: VariableRecord = decode(key, value)?;
            let owner = app.store.get_service(tenant, service).map_err(&failed)?;
            if app
                .store
                .put_replica_variable(&actor(), &owner.service_id, &record)
                .map_err(&failed)?
            {
                let value_type = ValueType::from_tag(record.type_tag).unwrap_or_default();
                let live = app.live.get(&owner.service_id).map_err(|error| error.to_string())?;
                let (name, initial) = (&record.variable_name, &record.initial_data);
                live.allocate(name, value_type, record.capacity, record.persistent, initial)
                    .map_err(|error| error.to_string())?;
            }
        }
    }
    Ok(None)
}

/// Applies a deletion: whatever of it is still here goes, and the sessions and subscriptions that stood on it end.
fn remove(app: &App, key: &MetaKey) -> Result<(), StoreError> {
    let absent = |result: Result<(), StoreError>| match result {
        Err(error) if error.is_not_found() => Ok(()),
        other => other,
    };
    match key {
        MetaKey::Tenant { tenant } => absent(app.store.delete_tenant(&actor(), tenant).map(|removed| {
            app.quotas.set(tenant, Default::default());
            for service in removed {
                service_gone(app, &service, "the tenant was deleted");
            }
        }))?,
        MetaKey::Credential { tenant, id } => absent(app.store.revoke_api_key(&actor(), Some(tenant), id).map(drop))?,
        MetaKey::JwtKey { tenant } => absent(app.store.remove_replica_jwt_key(&actor(), tenant))?,
        // A tenant's minting secret goes with the tenant, and only then.
        MetaKey::MintingKey { .. } => {}
        MetaKey::Service { tenant, service } => {
            absent(app.store.delete_service(&actor(), tenant, service).map(|record| {
                service_gone(app, &record, "the service was deleted");
            }))?
        }
        MetaKey::Variable {
            tenant,
            service,
            variable,
        } => absent(app.store.get_service(tenant, service).and_then(|owner| {
            app.store.delete_variable(&actor(), &owner.service_id, variable)?;
            if let Ok(live) = app.live.get(&owner.service_id) {
                if let Err(error) = live.deallocate(variable) {
                    tracing::warn!(%error, variable, "a variable the cluster deallocated stays in its file");
                }
            }
            let reason = "the variable was deallocated";
            (app.revocations).end_subscriptions(&owner.service_id, Some(variable), reason, &app.live);
            Ok(())
        }))?,
    }
    app.revocations.sweep(&app.store, &app.live);
    Ok(())
}

/// A service that is no longer here: its file goes and its subscriptions end.
fn service_gone(app: &App, record: &ServiceRecord, reason: &str) {
    app.live.remove_record(record);
    app.revocations
        .end_subscriptions(&record.service_id, None, reason, &app.live);
}
