//! Request handlers: one function per request, grouped one file per resource, and [`route`], the table from request to
//! handler. Requests reach it through the one dispatcher, [`FrontDoor`](crate::front_door::FrontDoor), which checks
//! names and counts every request first.

mod api_key_admin;
mod app;
mod audit;
mod error;
mod limits;
mod local_file;
mod local_subscriptions;
mod services;
mod session;
mod session_admin;
mod subscriptions;
mod tenants;
mod tokens;
mod variables;

#[cfg(test)]
mod security_tests;

pub(crate) use api_key_admin::sweep_at;
pub use app::{App, HandlerLimits, Session};
pub use error::HandlerError;
pub use local_subscriptions::LocalSubscriptions;

use crate::cluster::metadata::caught_up_after_miss;
use crate::connection::Answer;
use commy_proto::{ClientMessage, Disconnected, ErrorCode, HeartbeatReply, ServerMessage};
use std::sync::Arc;

/// Hands one request to its handler and returns exactly one answer: the result, or the error naming what went wrong.
/// In a cluster, a `NOT_FOUND` is answered only once this server has applied every metadata change the cluster had
/// (read-your-writes across servers: something just created on another server is found here too).
pub(crate) async fn route(app: &Arc<App>, s: &mut Session, request: ClientMessage) -> Result<Answer, HandlerError> {
    let Some(again) = app.cluster.is_some().then(|| request.clone()) else {
        return route_once(app, s, request).await;
    };
    match route_once(app, s, request).await {
        Err(error) if error.code == ErrorCode::NotFound && caught_up_after_miss(app).await => {
            route_once(app, s, again).await
        }
        answer => answer,
    }
}

async fn route_once(app: &Arc<App>, s: &mut Session, request: ClientMessage) -> Result<Answer, HandlerError> {
    use ClientMessage as M;
    let message = match request {
        M::GetServiceFilePath(req) => return local_file::open(app, s, req).await,
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
        M::AllocateVariable(req) => variables::allocate(app, s, req).await,
        M::ReadVariable(req) => variables::read(app, s, req),
        M::WriteVariable(req) => variables::write(app, s, req).await,
        M::DeallocateVariable(req) => variables::deallocate(app, s, req).await,
        M::ListVariables(req) => variables::list(app, s, req),
        M::Subscribe(req) => subscriptions::subscribe(app, s, req),
        M::Unsubscribe(req) => subscriptions::unsubscribe(app, s, req),
        M::QueryAudit(req) => audit::query(app, s, req).await,
        M::SetTenantLimits(req) => limits::set(app, s, req).await,
        M::GetTenantLimits(req) => limits::get(app, s, req).await,
        M::CreateToken(req) => tokens::create(app, s, req).await,
        M::ListApiKeys(req) => api_key_admin::list(app, s, req).await,
        M::UpdateApiKey(req) => api_key_admin::update(app, s, req).await,
        M::ListSessions(req) => session_admin::list(app, s, req).await,
        M::EndSession(req) => session_admin::end(app, s, req).await,
        M::Heartbeat(_) => Ok(ServerMessage::Heartbeat(HeartbeatReply { timestamp: now_ms() })),
        M::Disconnect(_) => Ok(ServerMessage::Disconnected(Disconnected {
            reason: "client asked to disconnect".into(),
        })),
        other => Err(HandlerError::new(
            ErrorCode::InvalidRequest,
            format!("request type {} is not supported by this server", other.type_name()),
        )),
    }?;
    Ok(Answer::from(message))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
