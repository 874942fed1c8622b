//! `CreateToken`: a session mints a short-lived token carrying at most its own rights in a tenant, which dies with the
//! credential the session stands on (see [`crate::auth::mint`]).

use super::app::{App, Session};
use super::error::HandlerError;
use crate::auth::{mint, Grant, GrantError, MINTED_PREFIX};
use crate::revocation::{lifeline_for, unix_now, Source};
use crate::store::AuditRecord;
use commy_proto::{CreateToken, ErrorCode, Permission, ServerMessage, Token};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The caller's grant in `tenant_id`: its own for the tenant, else the server admin's. `UNAUTHORIZED` (saying why, for
/// a grant that died) if it has neither.
fn minter_grant(s: &Session, tenant_id: &str) -> Result<Grant, HandlerError> {
    if let Some(grant) = s.grants.tenant_grant(tenant_id) {
        return Ok(Grant::Tenant(grant.clone()));
    }
    if s.grants.is_server_admin() {
        let key_id = s.grants.actor(None).unwrap_or_default().to_owned();
        return Ok(Grant::ServerAdmin { key_id });
    }
    match s.grants.check(tenant_id, Permission::Read, None) {
        Err(err @ (GrantError::Ended { .. } | GrantError::Unauthorized { .. })) => Err(err.into()),
        _ => Err(HandlerError::new(
            ErrorCode::Unauthorized,
            format!("not authenticated for tenant '{tenant_id}': authenticate before asking for a token"),
        )),
    }
}

/// The token's grant: the permissions asked for, limited to `services` if given, else to the minter's own patterns.
fn requested_grant(minter: &Grant, req: &CreateToken) -> Result<crate::auth::TenantGrant, HandlerError> {
    if req.permissions.is_empty() {
        return Err(HandlerError::new(
            ErrorCode::InvalidRequest,
            "CreateToken needs at least one permission",
        ));
    }
    let (read_patterns, write_patterns) = match (&req.services, minter) {
        (Some(services), _) => {
            let parsed = services
                .iter()
                .map(|p| crate::auth::ServicePattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| HandlerError::new(ErrorCode::InvalidRequest, format!("CreateToken services: {e}")))?;
            (Some(parsed.clone()), Some(parsed))
        }
        (None, Grant::Tenant(mine)) if !mine.permissions.contains(&Permission::Admin) => {
            (mine.read_patterns.clone(), mine.write_patterns.clone())
        }
        (None, _) => (None, None),
    };
    Ok(crate::auth::TenantGrant {
        key_id: String::new(),
        tenant_id: req.tenant_id.clone(),
        permissions: req.permissions.iter().copied().collect::<BTreeSet<_>>(),
        read_patterns,
        write_patterns,
    })
}

pub(super) async fn create(app: &Arc<App>, s: &Session, req: CreateToken) -> Result<ServerMessage, HandlerError> {
    let minter = minter_grant(s, &req.tenant_id)?;
    let max = app.max_token_ttl_secs;
    if req.ttl_seconds == 0 || req.ttl_seconds > max {
        return Err(HandlerError::new(
            ErrorCode::InvalidRequest,
            format!(
                "CreateToken ttl_seconds is {}: it must be from 1 to {max} (the server's maximum)",
                req.ttl_seconds
            ),
        ));
    }
    let grant = requested_grant(&minter, &req)?;
    if let Err(beyond) = minter.covers(&Grant::Tenant(grant.clone())) {
        return Err(HandlerError::new(
            ErrorCode::PermissionDenied,
            format!(
                "permission denied: a token carries at most the caller's own rights, and {beyond} in tenant '{}' is \
                 beyond them",
                req.tenant_id
            ),
        ));
    }
    let lifeline = lifeline_for(s, &req.tenant_id)
        .ok_or_else(|| HandlerError::new(ErrorCode::Unauthorized, "not authenticated: authenticate first"))?;
    let source = lifeline.source.clone();
    let now = unix_now();
    // A JWT's grant lives `exp` plus the leeway; the token it mints lives at most to `exp`.
    let own_end = lifeline.expires_at.map(|at| match source {
        Source::Jwt { .. } => at.saturating_sub(app.jwt_leeway_secs),
        Source::ApiKey { .. } => at,
    });
    let exp = own_end.map_or(now + req.ttl_seconds, |end| end.min(now + req.ttl_seconds));
    if exp <= now {
        return Err(HandlerError::new(
            ErrorCode::Unauthorized,
            format!(
                "the credential for tenant '{}' expires now: authenticate again",
                req.tenant_id
            ),
        ));
    }
    let minter_name = minter.key_id().to_owned();
    let actor = s.actor(Some(&req.tenant_id));
    let tenant_id = req.tenant_id.clone();
    let token = app
        .blocking(move |app| {
            app.store.get_tenant(&tenant_id)?;
            crate::cluster::publish::minting_key_shared(app, &tenant_id)?;
            let token = mint(&app.store, &grant, &source, &minter_name, exp, now)
                .map_err(|e| HandlerError::new(e.code(), e.to_string()))?;
            let target = format!(
                "{MINTED_PREFIX}{}",
                minter_name.strip_prefix(MINTED_PREFIX).unwrap_or(&minter_name)
            );
            app.store.append_audit(&AuditRecord::new(
                &actor,
                "create_token",
                Some(&tenant_id),
                &target,
                "ok",
            ))?;
            Ok(token)
        })
        .await?;
    Ok(ServerMessage::Token(Token {
        token,
        expires_at_ms: exp.saturating_mul(1000),
    }))
}
