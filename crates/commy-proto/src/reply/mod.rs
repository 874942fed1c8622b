//! What the server sends: [`ServerMessage`] and one payload struct per reply or push.

mod audit;
mod credentials;
mod limits;
mod moved;
mod service;
mod status;
mod subscription;
mod tenant;
mod variable;

pub use audit::{AuditLog, AuditLogEntry};
pub use credentials::{ApiKeyInfo, ApiKeyList, SessionInfo, SessionList, Token};
pub use limits::TenantLimits;
pub use moved::ServiceMoved;
pub use service::{ServiceFilePath, ServiceInfo, ServiceList};
pub use status::{Disconnected, ErrorReply, HeartbeatReply, OperationResult};
pub use subscription::SubscriptionEnded;
pub use tenant::{ApiKey, AuthenticationResult, Tenant, TenantList};
pub use variable::{VariableChanged, VariableData, VariableInfo, VariableList};

use crate::message_enum::message_enum;
use crate::ErrorCode;

message_enum! {
    /// A reply or a push from the server. Each variant's name is its `type` on the wire, and its payload is the
    /// `data`.
    ///
    /// Replies carry the `id` of the request they answer; pushes (`VariableChanged`, `SubscriptionEnded`, `ServiceMoved`, and `Disconnected` when the
    /// server closes on its own) carry none.
    pub enum ServerMessage {
        /// The reply to `Authenticate`.
        AuthenticationResult(AuthenticationResult),
        /// The reply to `CreateTenant`.
        Tenant(Tenant),
        /// The reply to `ListTenants`.
        TenantList(TenantList),
        /// The reply to `CreateApiKey`.
        ApiKey(ApiKey),
        /// The reply to requests that create nothing.
        Result(OperationResult),
        /// The reply to `CreateService` and `GetService`.
        Service(ServiceInfo),
        /// The reply to `ListServices`.
        ServiceList(ServiceList),
        /// The reply to `AllocateVariable`, `ReadVariable` and `WriteVariable`.
        VariableData(VariableData),
        /// The reply to `ListVariables`.
        VariableList(VariableList),
        /// The reply to `Heartbeat`.
        Heartbeat(HeartbeatReply),
        /// The reply to `Disconnect`, or a push before the server closes.
        Disconnected(Disconnected),
        /// The reply to `GetServiceFilePath`.
        ServiceFilePath(ServiceFilePath),
        /// A push: a subscribed variable changed.
        VariableChanged(VariableChanged),
        /// A push: the server ended a subscription (credential revoked, deleted or expired; service or variable
        /// deleted).
        SubscriptionEnded(SubscriptionEnded),
        /// The reply to a request that failed.
        Error(ErrorReply),
        /// The reply to `QueryAudit`.
        AuditLog(AuditLog),
        /// The reply to `SetTenantLimits` and `GetTenantLimits`.
        TenantLimits(TenantLimits),
        /// The reply to `CreateToken`.
        Token(Token),
        /// The reply to `ListApiKeys`.
        ApiKeyList(ApiKeyList),
        /// The reply to `UpdateApiKey`.
        ApiKeyInfo(ApiKeyInfo),
        /// The reply to `ListSessions`.
        SessionList(SessionList),
        /// A push on the local socket: the service moved to a new file; map it again.
        ServiceMoved(ServiceMoved),
    }
}

impl ServerMessage {
    /// An `Error` reply with the given code and message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error(ErrorReply::new(code, message))
    }
}
