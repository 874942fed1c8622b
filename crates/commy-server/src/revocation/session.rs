//! A session's side of revocation: registering a grant when it authenticates, and dropping its dead grants before a
//! request is handled.

use super::{end_grant, jwt_key_fingerprint, recheck, unix_now, About, Lifeline, Source};
use crate::auth::Grant;
use crate::handlers::{App, HandlerError, Session};
use commy_proto::{ErrorCode, Permission};
use std::sync::Arc;
use std::time::Duration;

/// Registers the grant a session just obtained. `expires_at` is the Unix second it dies at (a token's `exp` plus the
/// leeway, an API key's expiry); `source` the credential it stands on (`None`: the grant's own API key, or for a token
/// the tenant's JWT key). A grant replacing an earlier one for the same tenant keeps the subscriptions it still
/// covers; the others end with a push.
pub(crate) fn register_grant(
    app: &Arc<App>,
    session: &mut Session,
    grant: &Grant,
    expires_at: Option<u64>,
    source: Option<Source>,
    generation_before: u64,
) -> Result<(), HandlerError> {
    let tenant_id = grant.tenant_id().map(str::to_owned);
    let tenant = match &tenant_id {
        Some(id) => Some((id.clone(), app.store.get_tenant(id)?.created_at)),
        None => None,
    };
    let source = match source {
        Some(source) => source,
        None => derived_source(app, grant, expires_at, &tenant_id)?,
    };
    let about = About {
        credential: grant.key_id().to_owned(),
        peer: session.peer.to_string(),
        authenticated_at_ms: crate::store::now_ms(),
    };
    let sink = session.sink.clone();
    // A connection that had lost every grant lives on with this one.
    sink.keep_open();
    let lifeline = Arc::new(
        Lifeline::new(
            session.connection,
            sink,
            session.peer.is_local(),
            source,
            tenant,
            expires_at,
        )
        .described(about),
    );
    app.revocations.register(&lifeline);
    if let Some(old) = session.lifelines.insert(tenant_id.clone(), lifeline.clone()) {
        carry_over(app, &old, &lifeline, grant);
    }
    if let Some(at) = expires_at {
        expire_at(app, &lifeline, at);
    }
    // A revocation committed while the credential was being checked must still reach this grant.
    session.seen_generation = session.seen_generation.min(generation_before);
    Ok(())
}

/// The credential a grant stands on when the caller named none: for a token (`jwt_expires_at` set) the tenant's JWT
/// key, else the grant's own API key.
fn derived_source(
    app: &App,
    grant: &Grant,
    jwt_expires_at: Option<u64>,
    tenant_id: &Option<String>,
) -> Result<Source, HandlerError> {
    Ok(match (jwt_expires_at, tenant_id) {
        (Some(_), Some(id)) => {
            let record = app.store.get_jwt_key(id)?.ok_or_else(|| {
                HandlerError::new(ErrorCode::Unauthorized, format!("tenant '{id}' has no JWT key now"))
            })?;
            Source::Jwt {
                key_fingerprint: jwt_key_fingerprint(&record),
            }
        }
        _ => Source::ApiKey {
            key_id: grant.key_id().to_owned(),
            grant: grant.clone(),
        },
    })
}

/// Moves the subscriptions of a replaced grant to its successor where the new grant may still read the service; ends
/// the rest.
fn carry_over(app: &App, old: &Lifeline, new: &Lifeline, grant: &Grant) {
    let allows = |service_id: &str, right: Permission| {
        app.live.get(service_id).is_ok_and(|service| match grant {
            Grant::Tenant(tenant) => tenant.allows(service.tenant_id(), right, Some(service.name())).is_ok(),
            _ => true,
        })
    };
    // A descriptor the new grant would not hand out any more moves its service away; the connection is told like any
    // other that may still read it, and maps the file again with what the new grant gives.
    for (service_id, writable) in old.take_mappings() {
        let kept = allows(&service_id, if writable { Permission::Write } else { Permission::Read });
        if allows(&service_id, Permission::Read) {
            new.record_mapping(&service_id, writable && kept);
        }
        if !kept {
            app.revocations.relocate(&service_id, &app.live);
        }
    }
    for (service_id, variable_name) in old.take(|_, _| true) {
        let covered = allows(&service_id, Permission::Read);
        if covered {
            new.track(&service_id, &variable_name);
        } else {
            if let (false, Ok(service)) = (old.local, app.live.get(&service_id)) {
                let which = (variable_name != commy_proto::ALL_VARIABLES).then_some(variable_name.as_str());
                service.unsubscribe(old.connection, which);
            }
            let reason = "the connection authenticated again with a credential that does not cover it".to_owned();
            old.announce(service_id, variable_name, reason);
        }
    }
}

/// Ends a token's grant, and its subscriptions, when it expires, without waiting for the session's next request.
fn expire_at(app: &Arc<App>, lifeline: &Arc<Lifeline>, at: u64) {
    // Weak references: a pending timer must not keep a stopped server's state (and its database) open.
    let (app, weak) = (Arc::downgrade(app), Arc::downgrade(lifeline));
    let wait = Duration::from_secs(at.saturating_sub(unix_now()));
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        // Sleep a little past the second, so the clock agrees that `exp` has passed.
        while weak.upgrade().is_some_and(|l| !l.expired_at(unix_now())) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let (Some(lifeline), Some(app)) = (weak.upgrade(), app.upgrade()) {
            // Moving the services it mapped copies files: not on the runtime's threads.
            let ending = lifeline.expiry_ending();
            let _ =
                tokio::task::spawn_blocking(move || end_grant(&lifeline, ending, &app.live, &app.revocations)).await;
        }
    });
}

/// The grant a subscription on `tenant_id` is made under: the tenant's own, else the server admin's.
pub(crate) fn lifeline_for<'a>(session: &'a Session, tenant_id: &str) -> Option<&'a Arc<Lifeline>> {
    session
        .lifelines
        .get(&Some(tenant_id.to_owned()))
        .or_else(|| session.lifelines.get(&None))
}

/// Drops the session's dead grants before a request: a generation compare, and a clock compare for tokens; only when
/// the generation moved are the session's grants re-checked against the store. A dead grant leaves a tombstone, so the
/// next request for its tenant is told the credential was revoked, deleted or expired.
pub(crate) fn refresh(app: &App, session: &mut Session) {
    let generation = app.revocations.generation();
    let now = unix_now();
    let moved = session.seen_generation != generation;
    let due = |l: &Lifeline| l.ended().is_some() || l.expired_at(now);
    if !moved && !session.lifelines.values().any(|l| due(l)) {
        return;
    }
    session.seen_generation = generation;
    let dead: Vec<_> = session
        .lifelines
        .iter()
        .filter_map(|(tenant, lifeline)| {
            let why = if moved {
                recheck(lifeline, &app.store, now)
            } else {
                lifeline
                    .ended()
                    .or(lifeline.expired_at(now).then(|| lifeline.expiry_ending()))
            };
            why.map(|why| (tenant.clone(), why))
        })
        .collect();
    for (tenant, why) in dead {
        if let Some(lifeline) = session.lifelines.remove(&tenant) {
            end_grant(&lifeline, why, &app.live, &app.revocations);
        }
        session.grants.end(tenant.as_deref(), why.to_string());
    }
    if session.peer.is_local() {
        let lifelines = &session.lifelines;
        session
            .local_subscriptions
            .retain(|service, variable| lifelines.values().any(|l| l.tracks(service, variable)));
    }
}
