//! `GetServiceFilePath`: open a service's file for a local client; the local socket passes the descriptor beside the
//! reply (`SCM_RIGHTS`). Over the WebSocket there is no way to pass a descriptor, so the request is refused there.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::connection::Answer;
use crate::revocation::lifeline_for;
use commy_proto::{ErrorCode, GetServiceFilePath, Permission, ServiceFilePath};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Opens the service's file: read-write if the session may write the service, read-only if it may only read it.
pub(super) async fn open(app: &Arc<App>, session: &Session, req: GetServiceFilePath) -> Result<Answer, HandlerError> {
    if !session.peer.is_local() {
        return Err(HandlerError::new(
            ErrorCode::InvalidRequest,
            "GetServiceFilePath is answered only on the local Unix socket, which passes the file descriptor",
        ));
    }
    session.require_any()?;
    let (tenant, name) = (req.tenant_id, req.service_name);
    session.grants.check(&tenant, Permission::Read, Some(&name))?;
    let writable = session.grants.check(&tenant, Permission::Write, Some(&name)).is_ok();
    let record = app
        .blocking(move |app| Ok(app.store.get_service(&tenant, &name)?))
        .await?;
    let live = app.service(&record.service_id)?;
    // Recorded before the file is opened: a move that starts meanwhile then tells this connection too.
    if let Some(lifeline) = lifeline_for(session, &record.tenant_id) {
        lifeline.record_mapping(&record.service_id, writable);
    }
    let file = live
        .open_file(writable)
        .map_err(|e| HandlerError::internal("opening the service file", e))?;
    let file_size = file
        .metadata()
        .map_err(|e| HandlerError::internal("reading the service file's size", e))?
        .len();
    let reply = ServiceFilePath {
        service_id: record.service_id,
        file_size,
        writable,
    };
    Ok(Answer::with_fd(reply, OwnedFd::from(file)))
}
