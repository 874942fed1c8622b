//! `CreateTenant`, `DeleteTenant`, `ListTenants`, and the tenant admin's `CreateApiKey`, `RevokeApiKey`,
//! `SetJwtKey`.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::auth::{issue_api_key, JwtKey, KeySpec};
use crate::cluster::{metadata::turn, publish as cluster};
use crate::store::JwtKeyRecord;
use commy_proto::{
    ApiKey, CreateApiKey, CreateTenant, DeleteTenant, OperationResult, Permission, RevokeApiKey, ServerMessage,
    SetJwtKey, Tenant, TenantList,
};
use std::sync::Arc;
use zeroize::Zeroizing;

pub(super) async fn create(app: &Arc<App>, s: &Session, req: CreateTenant) -> Result<ServerMessage, HandlerError> {
    s.grants.check_server_admin()?;
    let actor = s.actor(None);
    let record = app
        .blocking(move |app| {
            let _turn = turn(app);
            let record = app.store.create_tenant(&actor, &req.tenant_id, &req.tenant_name)?;
            cluster::tenant_created(app, &actor, &record)?;
            Ok(record)
        })
        .await?;
    Ok(ServerMessage::Tenant(Tenant {
        tenant_id: record.tenant_id,
        tenant_name: record.tenant_name,
    }))
}

pub(super) async fn delete(app: &Arc<App>, s: &Session, req: DeleteTenant) -> Result<ServerMessage, HandlerError> {
    s.grants.check_server_admin()?;
    let actor = s.actor(None);
    let tenant_id = req.tenant_id.clone();
    app.blocking(move |app| {
        let _turn = turn(app);
        let records = cluster::tenant_records(app, &tenant_id);
        let removed = app.store.delete_tenant(&actor, &tenant_id)?;
        app.quotas.set(&tenant_id, Default::default());
        for service in removed {
            app.live.remove_record(&service);
            app.revocations
                .end_subscriptions(&service.service_id, None, "the tenant was deleted", &app.live);
        }
        app.revocations.sweep(&app.store, &app.live);
        cluster::removed(app, records)
    })
    .await?;
    Ok(done(format!("tenant '{}' deleted", req.tenant_id)))
}

pub(super) async fn list(app: &Arc<App>, s: &Session) -> Result<ServerMessage, HandlerError> {
    s.grants.check_server_admin()?;
    let tenants = app.blocking(|app| Ok(app.store.list_tenants()?)).await?;
    let tenants = tenants
        .into_iter()
        .map(|t| Tenant {
            tenant_id: t.tenant_id,
            tenant_name: t.tenant_name,
        })
        .collect();
    Ok(ServerMessage::TenantList(TenantList { tenants }))
}

pub(super) async fn create_key(app: &Arc<App>, s: &Session, req: CreateApiKey) -> Result<ServerMessage, HandlerError> {
    s.grants.check(&req.tenant_id, Permission::Admin, None)?;
    let actor = s.actor(Some(&req.tenant_id));
    let spec = KeySpec {
        tenant_id: Some(req.tenant_id.clone()),
        read_patterns: req.read_patterns().map(<[String]>::to_vec),
        write_patterns: req.write_patterns().map(<[String]>::to_vec),
        name: req.name,
        permissions: req.permissions,
    };
    let tenant_id = req.tenant_id;
    let issued = app
        .blocking(move |app| {
            let _turn = turn(app);
            app.store.get_tenant(&tenant_id)?;
            let issued = issue_api_key(&app.store, &actor, &spec)?;
            cluster::credential_created(app, &actor, &issued.key_id)?;
            Ok(issued)
        })
        .await?;
    Ok(ServerMessage::ApiKey(ApiKey {
        key_id: issued.key_id,
        key: issued.key.to_string(),
    }))
}

pub(super) async fn revoke_key(app: &Arc<App>, s: &Session, req: RevokeApiKey) -> Result<ServerMessage, HandlerError> {
    s.grants.check(&req.tenant_id, Permission::Admin, None)?;
    let actor = s.actor(Some(&req.tenant_id));
    let (tenant_id, key_id) = (req.tenant_id, req.key_id.clone());
    app.blocking(move |app| {
        let _turn = turn(app);
        app.store.revoke_api_key(&actor, Some(&tenant_id), &key_id)?;
        app.revocations.sweep(&app.store, &app.live);
        cluster::credential_revoked(app, &tenant_id, &key_id)
    })
    .await?;
    Ok(done(format!("API key '{}' revoked", req.key_id)))
}

pub(super) async fn set_jwt_key(app: &Arc<App>, s: &Session, req: SetJwtKey) -> Result<ServerMessage, HandlerError> {
    s.grants.check(&req.tenant_id, Permission::Admin, None)?;
    let actor = s.actor(Some(&req.tenant_id));
    let SetJwtKey {
        tenant_id,
        alg,
        key,
        issuer,
        audience,
    } = req;
    let key = Zeroizing::new(key.into_bytes());
    // Refuse a key that could never verify a token (or that is a private key) now, not at the first login.
    JwtKey::new(alg, &key, issuer.clone(), audience.clone())
        .map_err(|e| HandlerError::new(e.code(), format!("tenant '{tenant_id}': {e}")))?;
    let record = JwtKeyRecord::new(alg.as_str(), key.to_vec()).with_issuer_audience(issuer, audience);
    let req_tenant = tenant_id.clone();
    app.blocking(move |app| {
        app.store.get_tenant(&tenant_id)?;
        let _turn = turn(app);
        app.store.set_jwt_key(&actor, &tenant_id, &record)?;
        app.revocations.sweep(&app.store, &app.live);
        cluster::jwt_key_set(app, &tenant_id, &record)
    })
    .await?;
    Ok(done(format!("JWT verification key set for tenant '{req_tenant}'")))
}

/// A successful `Result` reply.
pub(super) fn done(message: String) -> ServerMessage {
    ServerMessage::Result(OperationResult { success: true, message })
}
