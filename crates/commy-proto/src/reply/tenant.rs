//! Replies about authentication, tenants and credentials: `AuthenticationResult`, `Tenant`, `TenantList`, `ApiKey`.

use crate::request::auth::Redacted;
use crate::Permission;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The reply to [`Authenticate`](crate::Authenticate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationResult {
    /// Whether the credential was accepted. A refused credential gets an `UNAUTHORIZED` error instead, so this is
    /// `true` in practice; it stays for clients of the original protocol.
    pub success: bool,
    /// A sentence for people, for example `authenticated to tenant 'acme'`.
    pub message: String,
    /// The server's version.
    pub server_version: String,
    /// The rights the credential grants inside the tenant.
    pub permissions: Vec<Permission>,
    /// The Unix socket path that clients on the same machine may use to map services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_socket: Option<String>,
}

/// A tenant: the reply to [`CreateTenant`](crate::CreateTenant), and an entry of [`TenantList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant's id.
    pub tenant_id: String,
    /// Its display name.
    pub tenant_name: String,
}

/// The reply to [`ListTenants`](crate::ListTenants).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantList {
    /// Every tenant.
    pub tenants: Vec<Tenant>,
}

/// The reply to [`CreateApiKey`](crate::CreateApiKey). The key is shown this once; the server keeps only its hash.
/// Its `Debug` output hides the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The key's id, to revoke it with [`RevokeApiKey`](crate::RevokeApiKey).
    pub key_id: String,
    /// The secret key, to present with [`Credential::ApiKey`](crate::Credential::ApiKey).
    pub key: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key_id", &self.key_id)
            .field("key", &Redacted)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_debug_hides_the_key() {
        let key = ApiKey {
            key_id: "k1".into(),
            key: "very-secret".into(),
        };
        assert_eq!(format!("{key:?}"), r#"ApiKey { key_id: "k1", key: <redacted> }"#);
    }
}
