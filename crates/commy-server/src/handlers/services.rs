//! `CreateService`, `GetService`, `DeleteService`, `ListServices`.

use super::app::{App, Session};
use super::error::HandlerError;
use super::tenants::done;
use crate::cluster::{metadata::turn, publish as cluster};
use crate::store::ServiceRecord;
use commy_proto::{
    CreateService, DeleteService, GetService, ListServices, Permission, ServerMessage, ServiceInfo, ServiceList,
};
use std::sync::Arc;

fn to_wire(record: ServiceRecord) -> ServiceInfo {
    ServiceInfo {
        service_id: record.service_id,
        service_name: record.service_name,
        tenant_id: record.tenant_id,
    }
}

pub(super) async fn create(app: &Arc<App>, s: &Session, req: CreateService) -> Result<ServerMessage, HandlerError> {
    s.grants
        .check(&req.tenant_id, Permission::CreateService, Some(&req.service_name))?;
    let actor = s.actor(Some(&req.tenant_id));
    let record = app
        .blocking(move |app| {
            let _turn = turn(app);
            app.store.get_tenant(&req.tenant_id)?;
            let quota = app.quotas.effective(&req.tenant_id);
            let record =
                (app.store).create_service_within(&actor, &req.tenant_id, &req.service_name, quota.services)?;
            if let Err(err) = app.live.create_sized(&record, quota.table_size()) {
                // Leave no metadata behind for a service whose file could not be made.
                let _ = app
                    .store
                    .delete_service(&actor, &record.tenant_id, &record.service_name);
                // The error names the new id, which the client never saw: name the service as the client did.
                let message = format!(
                    "creating service '{}' in tenant '{}': {err}",
                    record.service_name, record.tenant_id
                );
                return Err(HandlerError::new(err.code(), message));
            }
            cluster::service_created(app, &actor, &record)?;
            Ok(record)
        })
        .await?;
    Ok(ServerMessage::Service(to_wire(record)))
}

pub(super) async fn get(app: &Arc<App>, s: &Session, req: GetService) -> Result<ServerMessage, HandlerError> {
    s.grants
        .check(&req.tenant_id, Permission::Read, Some(&req.service_name))?;
    let record = app
        .blocking(move |app| Ok(app.store.get_service(&req.tenant_id, &req.service_name)?))
        .await?;
    Ok(ServerMessage::Service(to_wire(record)))
}

pub(super) async fn delete(app: &Arc<App>, s: &Session, req: DeleteService) -> Result<ServerMessage, HandlerError> {
    s.grants
        .check(&req.tenant_id, Permission::DeleteService, Some(&req.service_name))?;
    let actor = s.actor(Some(&req.tenant_id));
    let name = req.service_name.clone();
    app.blocking(move |app| {
        let _turn = turn(app);
        let records = match app.store.get_service(&req.tenant_id, &req.service_name) {
            Ok(record) => cluster::service_records(app, &record),
            Err(_) => Vec::new(),
        };
        let record = app.store.delete_service(&actor, &req.tenant_id, &req.service_name)?;
        app.live.remove_record(&record);
        let reason = "the service was deleted";
        app.revocations
            .end_subscriptions(&record.service_id, None, reason, &app.live);
        cluster::removed(app, records)
    })
    .await?;
    Ok(done(format!("service '{name}' deleted")))
}

pub(super) async fn list(app: &Arc<App>, s: &Session, req: ListServices) -> Result<ServerMessage, HandlerError> {
    if !s.grants.is_server_admin() && s.grants.tenant_grant(&req.tenant_id).is_none() {
        s.grants.check(&req.tenant_id, Permission::Read, None)?;
    }
    let tenant_id = req.tenant_id.clone();
    let records = app
        .blocking(move |app| {
            app.store.get_tenant(&tenant_id)?;
            Ok(app.store.list_services(&tenant_id)?)
        })
        .await?;
    let services = records
        .into_iter()
        .filter(|r| s.grants.can_see_service(&r.tenant_id, &r.service_name))
        .map(to_wire)
        .collect();
    Ok(ServerMessage::ServiceList(ServiceList { services }))
}
