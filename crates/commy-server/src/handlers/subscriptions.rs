//! `Subscribe` and `Unsubscribe`.

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
    let held = app.live.subscriptions_of(s.connection);
    if held >= app.limits.max_subscriptions {
        let msg = format!("this connection already holds {held} subscriptions, the server's limit");
        return Err(HandlerError::new(ErrorCode::LimitExceeded, msg));
    }
    live.subscribe(s.connection, variable.map(str::to_owned), s.sink.clone());
    Ok(done(format!(
        "subscribed to '{}' in service '{}'",
        req.variable_name,
        live.name()
    )))
}

pub(super) fn unsubscribe(app: &App, s: &Session, req: Unsubscribe) -> Result<ServerMessage, HandlerError> {
    s.require_any()?;
    let live = app.service(&req.service_id)?;
    let existed = live.unsubscribe(s.connection, which(&req.variable_name));
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
