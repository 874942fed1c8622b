//! `Subscribe` and `Unsubscribe`, on both transports. A WebSocket subscription registers the connection's outbox with
//! the service's fan-out; a local-socket subscription only holds what its mapping needs (see
//! [`LocalSubscriptions`](super::LocalSubscriptions)), since a local client watches through the mapping.

use super::app::{App, Session};
use super::error::HandlerError;
use super::tenants::done;
use super::variables::authorised_service;
use commy_proto::{ErrorCode, OperationResult, Permission, ServerMessage, Subscribe, Unsubscribe, ALL_VARIABLES};

fn which(variable_name: &str) -> Option<&str> {
    (variable_name != ALL_VARIABLES).then_some(variable_name)
}

pub(super) fn subscribe(app: &App, s: &mut Session, req: Subscribe) -> Result<ServerMessage, HandlerError> {
    let live = authorised_service(app, s, &req.service_id, Permission::Read)?;
    let variable = which(&req.variable_name);
    if let Some(name) = variable {
        live.target(name)?;
    }
    let local = s.peer.is_local();
    let (held, again) = if local {
        (
            s.local_subscriptions.len(),
            s.local_subscriptions.holds(&req.service_id, &req.variable_name),
        )
    } else {
        (app.live.subscriptions_of(s.connection), false)
    };
    let limit = app.quotas.effective(live.tenant_id()).subscriptions_per_connection;
    if held as u64 >= limit && !again {
        let msg = format!(
            "this connection already holds {held} subscriptions: the limit for tenant '{}' is {limit} per \
             connection (subscriptions_per_connection)",
            live.tenant_id()
        );
        return Err(HandlerError::new(ErrorCode::LimitExceeded, msg));
    }
    if local {
        let read_only = s
            .grants
            .check(live.tenant_id(), Permission::Write, Some(live.name()))
            .is_err();
        s.local_subscriptions.hold(&live, &req.variable_name, read_only);
        track(s, live.tenant_id(), &req.service_id, &req.variable_name);
        return Ok(done(format!(
            "subscribed to '{}' in service '{}'; changes arrive through the mapping",
            req.variable_name,
            live.name()
        )));
    }
    let skip_own = req.skip_own_writes.then_some(s.writer);
    live.subscribe_skipping(s.connection, variable.map(str::to_owned), s.sink.clone(), skip_own);
    track(s, live.tenant_id(), &req.service_id, &req.variable_name);
    Ok(done(format!(
        "subscribed to '{}' in service '{}'",
        req.variable_name,
        live.name()
    )))
}

/// Records the subscription under the grant it was made with, so that it ends with that grant.
fn track(s: &Session, tenant_id: &str, service_id: &str, variable_name: &str) {
    if let Some(lifeline) = crate::revocation::lifeline_for(s, tenant_id) {
        lifeline.track(service_id, variable_name);
    }
}

pub(super) fn unsubscribe(app: &App, s: &mut Session, req: Unsubscribe) -> Result<ServerMessage, HandlerError> {
    s.require_any()?;
    let existed = if s.peer.is_local() {
        s.local_subscriptions.release(&req.service_id, &req.variable_name)
    } else {
        app.service(&req.service_id)?
            .unsubscribe(s.connection, which(&req.variable_name))
    };
    for lifeline in s.lifelines.values() {
        lifeline.untrack(&req.service_id, &req.variable_name);
    }
    if !existed {
        // Ending a subscription the connection holds needs no right (the credential may have changed since); asking
        // about any other service needs `read` there, like every other request on a service.
        authorised_service(app, s, &req.service_id, Permission::Read)?;
    }
    let message = if existed {
        format!("unsubscribed from '{}'", req.variable_name)
    } else {
        format!("was not subscribed to '{}'", req.variable_name)
    };
    Ok(ServerMessage::Result(OperationResult {
        success: existed,
        message,
    }))
}
