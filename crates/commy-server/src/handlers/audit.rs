//! `QueryAudit`: the server admin reads every entry; a tenant admin reads its own tenant's.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::store::AuditEntry;
use commy_proto::{AuditLog, AuditLogEntry, Permission, QueryAudit, ServerMessage};
use std::sync::Arc;

/// Entries returned when the request names no `limit`.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// The most entries one reply holds, whatever the request asks.
pub const MAX_AUDIT_LIMIT: u32 = 1000;

fn to_wire(entry: AuditEntry) -> AuditLogEntry {
    let r = entry.record;
    AuditLogEntry {
        seq: entry.seq,
        at_ms: r.at,
        actor: r.actor,
        tenant_id: r.tenant_id,
        peer: r.peer,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
    }
}

pub(super) async fn query(app: &Arc<App>, s: &Session, req: QueryAudit) -> Result<ServerMessage, HandlerError> {
    match &req.tenant_id {
        Some(tenant_id) => s.grants.check(tenant_id, Permission::Admin, None)?,
        None => s.grants.check_server_admin()?,
    }
    let limit = req.limit.unwrap_or(DEFAULT_AUDIT_LIMIT).min(MAX_AUDIT_LIMIT) as usize;
    let entries = app
        .blocking(move |app| Ok(app.store.query_audit(req.tenant_id.as_deref(), req.since_ms, limit)?))
        .await?;
    Ok(ServerMessage::AuditLog(AuditLog {
        entries: entries.into_iter().map(to_wire).collect(),
    }))
}
