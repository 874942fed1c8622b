//! `AllocateVariable`, `ReadVariable`, `WriteVariable`, `DeallocateVariable`, `ListVariables`.

use super::app::{App, Session};
use super::error::HandlerError;
use super::tenants::done;
use crate::auth::GrantError;
use crate::live::{LiveService, StoredValue};
use crate::store::VariableRecord;
use commy_proto::{
    AllocateVariable, DeallocateVariable, ErrorCode, ListVariables, Permission, ReadVariable, ServerMessage,
    VariableData, VariableInfo, VariableList, WriteVariable,
};
use std::sync::Arc;

/// The service `service_id`, after checking the session may use `permission` on it.
pub(super) fn authorised_service(
    app: &App,
    s: &Session,
    service_id: &str,
    permission: Permission,
) -> Result<Arc<LiveService>, HandlerError> {
    s.require_any()?;
    let live = app.service(service_id)?;
    match s.grants.check(live.tenant_id(), permission, Some(live.name())) {
        // No oracle: another tenant's service reads exactly like a missing one.
        Err(GrantError::Unauthorized { .. }) => Err(app.service_not_found(service_id)),
        other => Ok(other.map(|()| live)?),
    }
}

fn data_reply(service_id: String, variable_name: String, snap: StoredValue) -> ServerMessage {
    let value = snap.value_type.decode(&snap.data).ok().flatten();
    ServerMessage::VariableData(VariableData {
        service_id,
        variable_name,
        data: snap.data,
        version: snap.version,
        value,
    })
}

pub(super) async fn allocate(
    app: &Arc<App>,
    s: &Session,
    req: AllocateVariable,
) -> Result<ServerMessage, HandlerError> {
    let name = req.variable_name.clone();
    let live = authorised_service(app, s, &req.service_id, Permission::Write)?;
    let value_type = req.value_type();
    let unchecked = req
        .initial_bytes(u32::MAX)
        .map_err(|e| HandlerError::bad_value(&name, e))?;
    let capacity = req
        .capacity
        .unwrap_or_else(|| value_type.default_capacity().max(unchecked.len() as u32));
    let max = app.limits.max_variable_capacity;
    if capacity > max {
        let msg = format!("variable '{name}': capacity {capacity} exceeds the server's limit of {max} bytes");
        return Err(HandlerError::new(ErrorCode::LimitExceeded, msg));
    }
    let initial = req
        .initial_bytes(capacity)
        .map_err(|e| HandlerError::bad_value(&name, e))?;
    let persistent = req.persistent.unwrap_or(false);
    let record = VariableRecord::new(&name, value_type.as_tag(), capacity, persistent, initial.clone());
    let actor = s.actor(Some(live.tenant_id()));
    let service_id = req.service_id.clone();
    let task_live = live.clone();
    let snap = app
        .blocking(move |app| {
            let _turn = crate::cluster::metadata::turn(app);
            let table = u64::from(task_live.max_variables());
            let max_bytes = app.quotas.effective(task_live.tenant_id()).bytes;
            (app.store).create_variable_within(&actor, &service_id, &record, table, max_bytes)?;
            let undo = || drop(app.store.delete_variable(&actor, &service_id, &record.variable_name));
            let snap = task_live
                .allocate(&record.variable_name, value_type, capacity, persistent, &initial)
                .map_err(|err| {
                    undo();
                    HandlerError::from(err)
                })?;
            let (tenant, service) = (task_live.tenant_id(), task_live.name());
            crate::cluster::publish::variable_created(app, tenant, service, &record, || {
                undo();
                let _ = task_live.deallocate(&record.variable_name);
            })?;
            Ok(snap)
        })
        .await?;
    Ok(data_reply(req.service_id, name, snap))
}

pub(super) fn read(app: &App, s: &Session, req: ReadVariable) -> Result<ServerMessage, HandlerError> {
    let live = authorised_service(app, s, &req.service_id, Permission::Read)?;
    let snap = live.read(&req.variable_name)?;
    Ok(data_reply(req.service_id, req.variable_name, snap))
}

/// A write (or compare-and-set) never waits for a variable's lock on an async worker: it tries the lock once, and
/// only if another writer holds it waits, within the file's bound (then `TIMEOUT`), on a blocking thread.
pub(super) async fn write(app: &Arc<App>, s: &Session, req: WriteVariable) -> Result<ServerMessage, HandlerError> {
    let live = authorised_service(app, s, &req.service_id, Permission::Write)?;
    let (handle, value_type, capacity) = live.target(&req.variable_name)?;
    let bytes = req
        .new_bytes(value_type, capacity)
        .map_err(|e| HandlerError::bad_value(&req.variable_name, e))?;
    let expected = req.expected_version;
    let clustered = match &app.cluster {
        Some(cluster) => {
            cluster
                .write(&live, &req.variable_name, handle, expected, &bytes)
                .await?
        }
        None => None,
    };
    let version = match clustered {
        Some(version) => version,
        None => match live.try_write_by(s.writer, &req.variable_name, handle, expected, &bytes)? {
            Some(version) => version,
            None => {
                let (name, data, writer) = (req.variable_name.clone(), bytes.clone(), s.writer);
                app.blocking(move |_| Ok(live.write_by(writer, &name, handle, expected, &data)?))
                    .await?
            }
        },
    };
    let snap = StoredValue {
        data: bytes,
        version,
        value_type,
    };
    Ok(data_reply(req.service_id, req.variable_name, snap))
}

pub(super) async fn deallocate(
    app: &Arc<App>,
    s: &Session,
    req: DeallocateVariable,
) -> Result<ServerMessage, HandlerError> {
    let live = authorised_service(app, s, &req.service_id, Permission::Write)?;
    live.target(&req.variable_name)?;
    let actor = s.actor(Some(live.tenant_id()));
    let (service_id, name) = (req.service_id, req.variable_name.clone());
    app.blocking(move |app| {
        let _turn = crate::cluster::metadata::turn(app);
        app.store.delete_variable(&actor, &service_id, &name)?;
        live.deallocate(&name)?;
        let reason = "the variable was deallocated";
        app.revocations
            .end_subscriptions(&service_id, Some(&name), reason, &app.live);
        crate::cluster::publish::variable_removed(app, live.tenant_id(), live.name(), &name)
    })
    .await?;
    Ok(done(format!("variable '{}' deallocated", req.variable_name)))
}

pub(super) fn list(app: &App, s: &Session, req: ListVariables) -> Result<ServerMessage, HandlerError> {
    let live = authorised_service(app, s, &req.service_id, Permission::Read)?;
    let variables = live
        .list()?
        .into_iter()
        .map(|m| VariableInfo {
            variable_name: m.name,
            value_type: m.value_type,
            capacity: m.capacity,
            len: m.len,
            version: m.version,
            persistent: m.persistent,
        })
        .collect();
    Ok(ServerMessage::VariableList(VariableList { variables }))
}
