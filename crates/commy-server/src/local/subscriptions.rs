//! `Subscribe` and `Unsubscribe` on the local socket. A local client sees changes through its mapping; what the server
//! does here is check the right to read, and hold a waiter pin for a client whose mapping is read-only.

use crate::handlers::{App, HandlerError, Session};
use commy_proto::{ErrorCode, OperationResult, Permission, ServerMessage, Subscribe, Unsubscribe};
use commy_shm::WaiterPin;
use std::collections::HashMap;

/// A local connection's subscriptions: the pin held for each, when its mapping is read-only.
#[derive(Debug, Default)]
pub(super) struct LocalSubscriptions {
    held: HashMap<(String, String), Option<WaiterPin>>,
}

impl LocalSubscriptions {
    pub(super) fn subscribe(
        &mut self,
        app: &App,
        session: &Session,
        req: Subscribe,
    ) -> Result<ServerMessage, HandlerError> {
        session.require_any()?;
        let live = app.service(&req.service_id)?;
        let (tenant, service) = (live.tenant_id(), live.name());
        session.grants.check(tenant, Permission::Read, Some(service))?;
        if !req.is_all() {
            live.target(&req.variable_name)?;
        }
        let key = (req.service_id.clone(), req.variable_name.clone());
        if !self.held.contains_key(&key) && self.held.len() >= app.limits.max_subscriptions {
            let msg = format!(
                "this connection already holds {} subscriptions, the server's limit",
                self.held.len()
            );
            return Err(HandlerError::new(ErrorCode::LimitExceeded, msg));
        }
        let read_only = session.grants.check(tenant, Permission::Write, Some(service)).is_err();
        let pin = read_only.then(|| live.hold_waiter());
        self.held.entry(key).or_insert(pin);
        Ok(ServerMessage::Result(OperationResult::ok(format!(
            "subscribed to '{}' in service '{service}'; changes arrive through the mapping",
            req.variable_name
        ))))
    }

    pub(super) fn unsubscribe(&mut self, req: Unsubscribe) -> ServerMessage {
        let existed = self.held.remove(&(req.service_id, req.variable_name.clone())).is_some();
        let message = if existed {
            format!("unsubscribed from '{}'", req.variable_name)
        } else {
            format!("was not subscribed to '{}'", req.variable_name)
        };
        ServerMessage::Result(OperationResult {
            success: existed,
            message,
        })
    }
}
