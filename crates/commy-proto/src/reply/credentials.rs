//! Replies about credentials: `Token`, `ApiKeyList`, `ApiKeyInfo`, `SessionList`.

use crate::request::auth::Redacted;
use crate::Permission;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The reply to [`CreateToken`](crate::CreateToken). Its `Debug` output hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The token, to present with [`Credential::Jwt`](crate::Credential::Jwt).
    pub token: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("token", &Redacted)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// The reply to [`ListApiKeys`](crate::ListApiKeys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyList {
    /// The tenant's keys, by id.
    pub keys: Vec<ApiKeyInfo>,
}

/// What the server knows of an API key, never its secret: an entry of [`ApiKeyList`], and the reply to
/// [`UpdateApiKey`](crate::UpdateApiKey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// The key's id.
    pub key_id: String,
    /// Its label.
    pub name: String,
    /// Its rights.
    pub permissions: Vec<Permission>,
    /// The patterns `read` is limited to; `None` means every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_services: Option<Vec<String>>,
    /// The patterns `write` is limited to; `None` means every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_services: Option<Vec<String>>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When it last authenticated a session, in milliseconds since the Unix epoch; `None` if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_ms: Option<u64>,
    /// When it stops working, in milliseconds since the Unix epoch; `None` if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// The reply to [`ListSessions`](crate::ListSessions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// One entry per live grant, by session.
    pub sessions: Vec<SessionInfo>,
}

/// One authenticated grant of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The connection's id, to end it with [`EndSession`](crate::EndSession).
    pub session_id: u64,
    /// The tenant of the grant; `None` for the server admin's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The credential: an API key id, `jwt:<sub>`, or `token:<minting credential>` for a token from `CreateToken`.
    pub credential: String,
    /// Where the client connects from: an address, or `uid:<n>` on the local socket.
    pub peer: String,
    /// When it authenticated, in milliseconds since the Unix epoch.
    pub authenticated_at_ms: u64,
    /// When the grant expires (a token), in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// How many subscriptions it holds.
    pub subscriptions: u32,
}
