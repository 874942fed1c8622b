//! `ListSessions` and `EndSession`: a tenant admin sees and ends its tenant's authenticated sessions, the server admin
//! every session. Ending one works as a revocation does, on that session alone.

use super::app::{App, Session};
use super::error::HandlerError;
use super::tenants::done;
use crate::revocation::{end_grant, Ending, Lifeline};
use commy_proto::{EndSession, ErrorCode, ListSessions, Permission, ServerMessage, SessionInfo, SessionList};
use std::sync::Arc;

/// `Ok` if the caller may see and end the sessions of `tenant_id` (`None`: every session, the server admin only).
fn check_admin(s: &Session, tenant_id: Option<&str>) -> Result<(), HandlerError> {
    match tenant_id {
        Some(tenant) => s.grants.check(tenant, Permission::Admin, None)?,
        None => s.grants.check_server_admin()?,
    }
    Ok(())
}

/// Whether a live grant is one of `tenant_id`'s (`None`: any).
fn in_scope(lifeline: &Lifeline, tenant_id: Option<&str>) -> bool {
    lifeline.ended().is_none()
        && tenant_id.is_none_or(|wanted| lifeline.tenant.as_ref().is_some_and(|(tenant, _)| tenant == wanted))
}

pub(super) async fn list(app: &Arc<App>, s: &Session, req: ListSessions) -> Result<ServerMessage, HandlerError> {
    check_admin(s, req.tenant_id.as_deref())?;
    let mut sessions: Vec<SessionInfo> = app
        .revocations
        .live_lifelines()
        .into_iter()
        .filter(|lifeline| in_scope(lifeline, req.tenant_id.as_deref()))
        .map(|lifeline| SessionInfo {
            session_id: lifeline.connection,
            tenant_id: lifeline.tenant.as_ref().map(|(tenant, _)| tenant.clone()),
            credential: lifeline.about.credential.clone(),
            peer: lifeline.about.peer.clone(),
            authenticated_at_ms: lifeline.about.authenticated_at_ms,
            expires_at_ms: lifeline.expires_at.map(|at| at.saturating_mul(1000)),
            subscriptions: u32::try_from(lifeline.subscription_count()).unwrap_or(u32::MAX),
        })
        .collect();
    sessions.sort_by(|a, b| (a.session_id, &a.tenant_id).cmp(&(b.session_id, &b.tenant_id)));
    Ok(ServerMessage::SessionList(SessionList { sessions }))
}

pub(super) async fn end(app: &Arc<App>, s: &Session, req: EndSession) -> Result<ServerMessage, HandlerError> {
    check_admin(s, req.tenant_id.as_deref())?;
    let tenant_id = req.tenant_id.clone();
    let session_id = req.session_id;
    let actor = s.actor(tenant_id.as_deref());
    app.blocking(move |app| {
        let doomed: Vec<_> = app
            .revocations
            .live_lifelines()
            .into_iter()
            .filter(|lifeline| lifeline.connection == session_id && in_scope(lifeline, tenant_id.as_deref()))
            .collect();
        if doomed.is_empty() {
            let scope = tenant_id
                .as_ref()
                .map(|t| format!(" in tenant '{t}'"))
                .unwrap_or_default();
            return Err(HandlerError::new(
                ErrorCode::NotFound,
                format!("session {session_id} does not exist{scope}"),
            ));
        }
        for lifeline in &doomed {
            end_grant(lifeline, Ending::EndedByAdmin, &app.live, &app.revocations);
        }
        let target = format!("session {session_id}");
        let record = crate::store::AuditRecord::new(&actor, "end_session", tenant_id.as_deref(), &target, "ok");
        app.store.append_audit(&record)?;
        Ok(())
    })
    .await?;
    Ok(done(format!("session {} ended", req.session_id)))
}
