//! Request handlers: one function per request, grouped one file per resource, and [`handle`], which dispatches.

mod app;
mod audit;
mod error;
mod names;
mod services;
mod session;
mod subscriptions;
mod tenants;
mod variables;

#[cfg(test)]
mod security_tests;

pub use app::{App, HandlerLimits, Session};
pub use audit::{DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT};
pub use error::HandlerError;
pub use session::SERVER_VERSION;

use commy_proto::{ClientMessage, Disconnected, HeartbeatReply, ServerMessage};
use std::sync::Arc;

/// Handles one request and returns exactly one reply: the result, or an `Error` naming what went wrong.
pub async fn handle(app: &Arc<App>, session: &mut Session, request: ClientMessage) -> ServerMessage {
    match dispatch(app, session, request).await {
        Ok(reply) => reply,
        Err(err) => ServerMessage::Error(err.into_reply()),
    }
}

async fn dispatch(app: &Arc<App>, s: &mut Session, request: ClientMessage) -> Result<ServerMessage, HandlerError> {
    use ClientMessage as M;
    names::check_names(&request)?;
    match request {
        M::Authenticate(req) => session::authenticate(app, s, req).await,
        M::CreateTenant(req) => tenants::create(app, s, req).await,
        M::DeleteTenant(req) => tenants::delete(app, s, req).await,
        M::ListTenants(_) => tenants::list(app, s).await,
        M::CreateApiKey(req) => tenants::create_key(app, s, req).await,
        M::RevokeApiKey(req) => tenants::revoke_key(app, s, req).await,
        M::SetJwtKey(req) => tenants::set_jwt_key(app, s, req).await,
        M::CreateService(req) => services::create(app, s, req).await,
        M::GetService(req) => services::get(app, s, req).await,
        M::DeleteService(req) => services::delete(app, s, req).await,
        M::ListServices(req) => services::list(app, s, req).await,
        M::GetServiceFilePath(req) => services::file_path_over_websocket(req),
        M::AllocateVariable(req) => variables::allocate(app, s, req).await,
        M::ReadVariable(req) => variables::read(app, s, req),
        M::WriteVariable(req) => variables::write(app, s, req),
        M::DeallocateVariable(req) => variables::deallocate(app, s, req).await,
        M::ListVariables(req) => variables::list(app, s, req),
        M::Subscribe(req) => subscriptions::subscribe(app, s, req),
        M::Unsubscribe(req) => subscriptions::unsubscribe(app, s, req),
        M::QueryAudit(req) => audit::query(app, s, req).await,
        M::Heartbeat(_) => Ok(ServerMessage::Heartbeat(HeartbeatReply { timestamp: now_ms() })),
        M::Disconnect(_) => Ok(ServerMessage::Disconnected(Disconnected {
            reason: "client asked to disconnect".into(),
        })),
        other => Err(HandlerError::new(
            commy_proto::ErrorCode::InvalidRequest,
            format!("request type {other:?} is not supported by this server"),
        )),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
