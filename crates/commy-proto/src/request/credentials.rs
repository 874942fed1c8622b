//! Requests that mint and manage credentials: `CreateToken` (any session), `ListApiKeys`, `UpdateApiKey` (tenant
//! admin), `ListSessions`, `EndSession` (tenant admin, server admin).

use crate::Permission;
use serde::{Deserialize, Serialize};

/// Mints a short-lived token for `tenant_id` carrying at most the caller's own rights there. Reply:
/// [`Token`](crate::Token). Any session authenticated to the tenant may ask.
///
/// The token is a JWT signed with a key the server keeps for this alone; present it with
/// [`Credential::Jwt`](crate::Credential::Jwt). It dies with the credential that minted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateToken {
    /// The tenant the token is for.
    pub tenant_id: String,
    /// How long the token lives, in seconds: at least 1, at most the server's maximum, and cut to the minting
    /// credential's own remaining lifetime.
    pub ttl_seconds: u64,
    /// The rights the token carries: a subset of the caller's.
    pub permissions: Vec<Permission>,
    /// Service-name patterns that limit the token's rights, each within the caller's own; `None` means every
    /// service the caller reaches (only allowed when the caller's rights are not limited to patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
}

/// Lists a tenant's API keys, never their secrets. Reply: [`ApiKeyList`](crate::ApiKeyList). Needs tenant admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListApiKeys {
    /// The tenant whose keys to list.
    pub tenant_id: String,
}

/// Changes an API key's rights or expiry. Reply: [`ApiKeyInfo`](crate::ApiKeyInfo). Needs tenant admin.
///
/// Every field left out keeps its value. Live sessions of the key whose grant the new rights no longer cover end at
/// once, as after a revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateApiKey {
    /// The tenant the key belongs to.
    pub tenant_id: String,
    /// The key's id.
    pub key_id: String,
    /// The key's new rights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    /// New patterns for both `read` and `write` (`["**"]` for every service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// New patterns for `read` alone, in place of `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_services: Option<Vec<String>>,
    /// New patterns for `write` alone, in place of `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_services: Option<Vec<String>>,
    /// When the key stops working, in milliseconds since the Unix epoch; `0` removes the expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

impl UpdateApiKey {
    /// The new `read` patterns, if any: `read_services`, else `services`.
    pub fn read_patterns(&self) -> Option<&[String]> {
        self.read_services.as_deref().or(self.services.as_deref())
    }

    /// The new `write` patterns, if any: `write_services`, else `services`.
    pub fn write_patterns(&self) -> Option<&[String]> {
        self.write_services.as_deref().or(self.services.as_deref())
    }
}

/// Lists the authenticated sessions. Reply: [`SessionList`](crate::SessionList). A tenant admin must name its tenant
/// and sees only that tenant's sessions; the server admin may leave `tenant_id` out to see every session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSessions {
    /// Only the sessions of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Ends a session's grant, as a revocation would: its subscriptions end with `SubscriptionEnded` and its next request
/// gets `UNAUTHORIZED`. Reply: [`OperationResult`](crate::OperationResult). A tenant admin ends the session's grant for
/// its tenant; the server admin may leave `tenant_id` out to end every grant of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndSession {
    /// The tenant whose grant to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The session, from [`SessionInfo::session_id`](crate::SessionInfo::session_id).
    pub session_id: u64,
}
