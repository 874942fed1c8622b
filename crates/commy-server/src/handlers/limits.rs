//! `SetTenantLimits` and `GetTenantLimits`: the server admin sets and reads a tenant's quotas.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::quotas::MAX_VARIABLES_PER_SERVICE;
use commy_proto::{ErrorCode, GetTenantLimits, Quotas, ServerMessage, SetTenantLimits, TenantLimits};
use std::sync::Arc;

/// `INVALID_REQUEST` for an override no service could be made with.
fn check(tenant_id: &str, limits: &Quotas) -> Result<(), HandlerError> {
    match limits.variables_per_service {
        Some(n) if n == 0 || n > MAX_VARIABLES_PER_SERVICE => Err(HandlerError::new(
            ErrorCode::InvalidRequest,
            format!(
                "tenant '{tenant_id}': variables_per_service {n} is outside 1..={MAX_VARIABLES_PER_SERVICE} (a \
                 service file's table size)"
            ),
        )),
        _ => Ok(()),
    }
}

fn reply(app: &App, tenant_id: String) -> ServerMessage {
    ServerMessage::TenantLimits(TenantLimits {
        overrides: app.quotas.overrides(&tenant_id),
        effective: app.quotas.effective(&tenant_id).to_wire(),
        tenant_id,
    })
}

pub(super) async fn set(app: &Arc<App>, s: &Session, req: SetTenantLimits) -> Result<ServerMessage, HandlerError> {
    s.grants.check_server_admin()?;
    check(&req.tenant_id, &req.limits)?;
    let actor = s.actor(None);
    app.blocking(move |app| {
        let _turn = crate::cluster::metadata::turn(app);
        app.store.set_tenant_limits(&actor, &req.tenant_id, &req.limits)?;
        app.quotas.set(&req.tenant_id, req.limits);
        crate::cluster::publish::tenant_changed(app, &req.tenant_id)?;
        Ok(reply(app, req.tenant_id))
    })
    .await
}

pub(super) async fn get(app: &Arc<App>, s: &Session, req: GetTenantLimits) -> Result<ServerMessage, HandlerError> {
    s.grants.check_server_admin()?;
    app.blocking(move |app| {
        // The metadata says whether the tenant exists; the in-memory copy holds the same overrides.
        app.store.tenant_limits(&req.tenant_id)?;
        Ok(reply(app, req.tenant_id))
    })
    .await
}
