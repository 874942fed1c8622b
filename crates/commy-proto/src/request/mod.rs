//! What a client sends: [`ClientMessage`] and one payload struct per request.

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod credentials;
pub(crate) mod limits;
mod names;
pub(crate) mod service;
pub(crate) mod session;
pub(crate) mod tenant;
pub(crate) mod variable;

pub use audit::QueryAudit;
pub use auth::{Authenticate, Credential};
pub use credentials::{CreateToken, EndSession, ListApiKeys, ListSessions, UpdateApiKey};
pub use limits::{GetTenantLimits, Quotas, SetTenantLimits};
pub use names::{Names, RequestNames};
pub use service::{CreateService, DeleteService, GetService, GetServiceFilePath, ListServices};
pub use session::{Disconnect, Heartbeat, Subscribe, Unsubscribe, ALL_VARIABLES};
pub use tenant::{CreateApiKey, CreateTenant, DeleteTenant, JwtAlgorithm, ListTenants, RevokeApiKey, SetJwtKey};
pub use variable::{AllocateVariable, DeallocateVariable, ListVariables, ReadVariable, WriteVariable};

use crate::message_enum::message_enum;

message_enum! {
    names;
    /// A request from a client. Each variant's name is its `type` on the wire, and its payload is the `data`.
    ///
    /// Every request gets exactly one reply: the one its payload's documentation names, or an
    /// [`ErrorReply`](crate::ErrorReply).
    pub enum ClientMessage {
        /// Present a credential. Reply: `AuthenticationResult`.
        Authenticate(Authenticate),
        /// Create a tenant. Reply: `Tenant`.
        CreateTenant(CreateTenant),
        /// Delete a tenant. Reply: `Result`.
        DeleteTenant(DeleteTenant),
        /// List the tenants. Reply: `TenantList`.
        ListTenants(ListTenants),
        /// Create an API key. Reply: `ApiKey`.
        CreateApiKey(CreateApiKey),
        /// Revoke an API key. Reply: `Result`.
        RevokeApiKey(RevokeApiKey),
        /// Set the tenant's JWT verification key. Reply: `Result`.
        SetJwtKey(SetJwtKey),
        /// Create a service. Reply: `Service`.
        CreateService(CreateService),
        /// Look a service up. Reply: `Service`.
        GetService(GetService),
        /// Delete a service. Reply: `Result`.
        DeleteService(DeleteService),
        /// List a tenant's services. Reply: `ServiceList`.
        ListServices(ListServices),
        /// Allocate a variable. Reply: `VariableData`.
        AllocateVariable(AllocateVariable),
        /// Read a variable. Reply: `VariableData`.
        ReadVariable(ReadVariable),
        /// Write a variable. Reply: `VariableData`.
        WriteVariable(WriteVariable),
        /// Free a variable. Reply: `Result`.
        DeallocateVariable(DeallocateVariable),
        /// List a service's variables. Reply: `VariableList`.
        ListVariables(ListVariables),
        /// Watch a variable. Reply: `Result`, then `VariableChanged` pushes.
        Subscribe(Subscribe),
        /// Stop watching. Reply: `Result`.
        Unsubscribe(Unsubscribe),
        /// Keep alive. Reply: `Heartbeat`.
        Heartbeat(Heartbeat),
        /// Close the connection. Reply: `Disconnected`.
        Disconnect(Disconnect),
        /// Get a service's file descriptor (local socket only). Reply: `ServiceFilePath`.
        GetServiceFilePath(GetServiceFilePath),
        /// Read the audit log. Reply: `AuditLog`.
        QueryAudit(QueryAudit),
        /// Set a tenant's quota overrides (server admin). Reply: `TenantLimits`.
        SetTenantLimits(SetTenantLimits),
        /// Read a tenant's quotas (server admin). Reply: `TenantLimits`.
        GetTenantLimits(GetTenantLimits),
        /// Mint a short-lived token with at most the caller's rights. Reply: `Token`.
        CreateToken(CreateToken),
        /// List a tenant's API keys. Reply: `ApiKeyList`.
        ListApiKeys(ListApiKeys),
        /// Change an API key's rights or expiry. Reply: `ApiKeyInfo`.
        UpdateApiKey(UpdateApiKey),
        /// List the authenticated sessions. Reply: `SessionList`.
        ListSessions(ListSessions),
        /// End a session's grant. Reply: `Result`.
        EndSession(EndSession),
    }
}
